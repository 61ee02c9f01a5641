import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConnectionId } from '../../src/domain/resource-id.js';
import { DEMO } from '../../src/dev/demo-world.js';
import type { LocalStack } from '../../src/dev/local-stack.js';
import { auditEntries, eventually, getJson, postJson, putsFor, startTestStack, auth } from './helpers.js';

const resourceId = `/subscriptions/${DEMO.vaultSubscriptionId}/resourceGroups/${DEMO.resourceGroup}/providers/Microsoft.KeyVault/vaults/${DEMO.vaultName}`;

describe('end to end: emulator events → dev host → workflow → emulator and audit API', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const request = async (fromSubscription: string, endpointName: string, message: string) => {
    const connection = await stack.emulator!.simulateRequest({ vault: DEMO.vaultName, fromSubscription, endpointName, message });
    return parseConnectionId(connection.id);
  };

  it('approves an in-tenant request and the audit holds each step', async () => {
    // Prepare / Act
    const ref = await request(DEMO.appSubscriptionId, 'pe-app', 'payments api');
    // Assess
    await eventually(async () => (stack.emulator!.getConnection(ref.id)?.properties.privateLinkServiceConnectionState.status === 'Approved' ? true : undefined), 'approval');
    const entries = await eventually(async () => {
      const found = await auditEntries(stack, { connection: ref.id });
      return found.some((e) => e.outcome === 'approved') ? found : undefined;
    }, 'the approved result in the audit');
    expect(entries.map((e) => `${e.kind}:${e.outcome}`).reverse()).toEqual(['decision:approve', 'action:approve', 'result:approved']);
    const decision = entries.find((e) => e.kind === 'decision');
    expect(decision).toMatchObject({
      actor: { type: 'rule', id: 'in-tenant' },
      ruleName: 'in-tenant',
      resourceId: resourceId.toLowerCase(),
      requesterSubscriptionId: DEMO.appSubscriptionId,
      requesterTenantId: DEMO.homeTenantId,
      requestMessage: 'payments api',
    });
    expect(JSON.stringify(decision?.detail)).toContain('requesterTenant');
    expect(stack.emulator!.getConnection(ref.id)?.properties.privateLinkServiceConnectionState.description).toBe("Approved by Linkgate rule 'in-tenant'.");
  });

  it('handles an external request by its rule: left Pending for review', async () => {
    const ref = await request(DEMO.partnerSubscriptionId, 'pe-partner', 'partner sync');
    const entries = await eventually(async () => {
      const found = await auditEntries(stack, { connection: ref.id });
      return found.some((e) => e.kind === 'decision') ? found : undefined;
    }, 'the review decision');
    expect(entries.find((e) => e.kind === 'decision')).toMatchObject({ outcome: 'review', ruleName: 'everyone-else', requesterTenantId: DEMO.partnerTenantId });
    expect(stack.emulator!.getConnection(ref.id)?.properties.privateLinkServiceConnectionState.status).toBe('Pending');
    expect(putsFor(stack, ref.name)).toHaveLength(0);
  });

  it('rejects a deny-listed tenant by its rule', async () => {
    const ref = await request(DEMO.deniedSubscriptionId, 'pe-denied', 'let me in');
    await eventually(async () => (stack.emulator!.getConnection(ref.id)?.properties.privateLinkServiceConnectionState.status === 'Rejected' ? true : undefined), 'rejection');
    const entries = await eventually(async () => {
      const found = await auditEntries(stack, { connection: ref.id });
      return found.some((e) => e.outcome === 'rejected') ? found : undefined;
    }, 'the rejected result');
    expect(entries.find((e) => e.kind === 'decision')).toMatchObject({ outcome: 'reject', ruleName: 'deny-listed-tenants' });
  });

  it('keeps a not-visible requester apart and sends it to review', async () => {
    const ref = await request(DEMO.hiddenSubscriptionId, 'pe-hidden', 'who am I');
    const decision = await eventually(async () => (await auditEntries(stack, { connection: ref.id })).find((e) => e.kind === 'decision'), 'decision');
    expect(decision).toMatchObject({ outcome: 'review', requesterTenantId: 'not-visible' });
  });

  it('makes exactly one PUT per decided connection despite the self-raised write events and a replay', async () => {
    const ref = await request(DEMO.appSubscriptionId, 'pe-once', 'once');
    await eventually(async () => ((await auditEntries(stack, { connection: ref.id })).some((e) => e.outcome === 'approved') ? true : undefined), 'approval');
    // Replay the self-raised write event, as an at-least-once delivery would.
    const selfRaised = stack.emulator!.deliveries.length;
    expect(selfRaised).toBeGreaterThan(0);
    const replay = {
      id: 'replayed-self-write',
      topic: `/subscriptions/${DEMO.vaultSubscriptionId}`,
      subject: ref.id.replace('/resourceGroups/', '/resourcegroups/'),
      eventType: 'Microsoft.Resources.ResourceWriteSuccess',
      eventTime: new Date().toISOString(),
      dataVersion: '',
      metadataVersion: '1',
      data: {
        operationName: 'Microsoft.KeyVault/vaults/privateEndpointConnections/write',
        resourceUri: ref.id.replace('/resourceGroups/', '/resourcegroups/'),
        status: 'Succeeded',
        claims: { 'http://schemas.microsoft.com/identity/claims/objectidentifier': '00000000-0000-4000-8000-00000000abcd' },
      },
    };
    const answer = await postJson(stack.webhookUrl, [replay, replay], { 'aeg-event-type': 'Notification' });
    expect(answer.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(putsFor(stack, ref.name)).toHaveLength(1);
  });

  it('answers the audit API with filters, newest first, and pages with continuation tokens', async () => {
    const byVault = await getJson(`${stack.functionsUrl}/api/audit?vault=${encodeURIComponent(resourceId)}&pageSize=3`, await auth(stack));
    expect(byVault.status).toBe(200);
    expect(byVault.body.entries).toHaveLength(3);
    expect(byVault.body.continuationToken).toEqual(expect.any(String));
    const times = byVault.body.entries.map((e: { time: string }) => Date.parse(e.time));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const next = await getJson(`${stack.functionsUrl}/api/audit?vault=${encodeURIComponent(resourceId)}&pageSize=3&continuationToken=${byVault.body.continuationToken}`, await auth(stack));
    const ids = new Set([...byVault.body.entries, ...next.body.entries].map((e: { id: string }) => e.id));
    expect(ids.size).toBe(6);
    const rejected = await getJson(`${stack.functionsUrl}/api/audit?outcome=rejected`, await auth(stack));
    expect(rejected.body.entries.every((e: { outcome: string }) => e.outcome === 'rejected')).toBe(true);
    const byActor = await getJson(`${stack.functionsUrl}/api/audit?actor=IN-TENANT`, await auth(stack));
    expect(byActor.body.entries.length).toBeGreaterThan(0);
    expect(byActor.body.entries.every((e: { actor: { id: string } }) => e.actor.id === 'in-tenant')).toBe(true);
    const bySubscription = await getJson(`${stack.functionsUrl}/api/audit?subscription=${DEMO.partnerSubscriptionId}`, await auth(stack));
    expect(bySubscription.body.entries.length).toBeGreaterThan(0);
    const future = await getJson(`${stack.functionsUrl}/api/audit?from=2099-01-01`, await auth(stack));
    expect(future.body.entries).toEqual([]);
  });

  it('refuses bad audit queries with a clear 400', async () => {
    expect((await getJson(`${stack.functionsUrl}/api/audit?vault=not-a-vault`, await auth(stack))).status).toBe(400);
    expect((await getJson(`${stack.functionsUrl}/api/audit?pageSize=0`, await auth(stack))).body.error).toMatch(/pageSize/);
    expect((await getJson(`${stack.functionsUrl}/api/audit?continuationToken=garbage`, await auth(stack))).status).toBe(400);
    expect((await getJson(`${stack.functionsUrl}/api/audit?colour=blue`, await auth(stack))).body.error).toMatch(/Unknown query parameter 'colour'/);
  });
});
