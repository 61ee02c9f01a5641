import { TableClient } from '@azure/data-tables';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/domain/audit.js';
import { isGuid, parseConnectionId } from '../../src/domain/resource-id.js';
import { DEMO } from '../../src/dev/demo-world.js';
import type { LocalStack } from '../../src/dev/local-stack.js';
import { brokenEvent } from '../fixtures/event-arbitraries.js';
import { proxyWriteEvent, toCloudEvent, type ArmEventOptions } from '../fixtures/events.js';
import { auditEntries, eventually, postJson, putsFor, startTestStack } from './helpers.js';

const demoVault: ArmEventOptions = { subscriptionId: DEMO.vaultSubscriptionId, resourceGroup: DEMO.resourceGroup, vaultName: DEMO.vaultName };
const NOTIFICATION = { 'aeg-event-type': 'Notification' };
/** What the audit keeps of an unreadable payload: a few kilobytes, whatever arrived. */
const MAX_EXCERPT = 4_000;

describe('invalid input at the Event Grid webhook: acknowledged, audited bounded, never acted on', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startTestStack({ eventSchema: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const invalidEntry = (id: string) =>
    eventually(async () => (await auditEntries(stack, { outcome: 'invalid' })).find((e) => e.correlationId === id), `the invalid entry for ${id}`);
  const rawOf = (entry: AuditEntry) => (entry.detail as { raw: string }).raw;
  /** `PartitionKey|RowKey` of every row; none when the table was never created. */
  const tableKeys = async (table: string): Promise<string[]> => {
    const client = TableClient.fromConnectionString(stack.tables!.connectionString, table, { allowInsecureConnection: true });
    const keys: string[] = [];
    try {
      for await (const row of client.listEntities()) keys.push(`${row.partitionKey}|${row.rowKey}`);
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode !== 404) throw error;
    }
    return keys;
  };
  const writes = () => (stack.emulator?.calls ?? []).filter((c) => c.method === 'PUT');

  it('acknowledges a 100,000-deep nested array and audits it in a bounded form', async () => {
    // Prepare: valid JSON that overflows any recursive serialiser.
    const before = (await auditEntries(stack, { outcome: 'invalid' })).length;
    const body = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;

    // Act
    const answer = await postJson(stack.webhookUrl, body, NOTIFICATION);

    // Assess
    expect(answer.status).toBe(200);
    const entries = await eventually(async () => {
      const all = await auditEntries(stack, { outcome: 'invalid' });
      return all.length > before ? all : undefined;
    }, 'the invalid entry');
    const entry = entries.find((e) => /expected one event object, got an array/.test(e.summary));
    expect(entry).toBeDefined();
    expect(rawOf(entry!).length).toBeLessThanOrEqual(MAX_EXCERPT);
    expect(rawOf(entry!)).toContain('nested deeper than');
  });

  it('acknowledges an event whose data is nested 100,000 deep, in either schema', async () => {
    // Prepare
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    const eventGrid = `[{"id":"deep-eg","eventType":"Microsoft.Resources.ResourceWriteSuccess","subject":"/s","eventTime":"2026-11-30T10:00:00Z","dataVersion":"1","data":${deep}}]`;
    const cloud = `{"specversion":"1.0","id":"deep-ce","type":"Microsoft.Resources.ResourceWriteSuccess","source":"/s","time":"2026-11-30T10:00:00Z","data":{"operationName":${deep}}}`;

    // Act
    const answers = [await postJson(stack.webhookUrl, eventGrid, NOTIFICATION), await postJson(stack.webhookUrl, cloud, NOTIFICATION)];

    // Assess
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    for (const id of ['deep-eg', 'deep-ce']) expect(rawOf(await invalidEntry(id)).length).toBeLessThanOrEqual(MAX_EXCERPT);
  });

  it('keeps only the caller object ID of the claims, and a bounded excerpt of huge strings', async () => {
    // Prepare: a request event whose subject is 1 MB of text.
    const event = proxyWriteEvent({ ...demoVault, childName: 'pe-huge' });
    const body = [{ ...event, id: 'huge-1', subject: `/subscriptions/${'x'.repeat(1_000_000)}`, data: { ...event.data, resourceUri: undefined } }];

    // Act
    const answer = await postJson(stack.webhookUrl, body, NOTIFICATION);

    // Assess
    expect(answer.status).toBe(200);
    const entry = await invalidEntry('huge-1');
    const raw = rawOf(entry);
    expect(raw.length).toBeLessThanOrEqual(MAX_EXCERPT);
    expect(entry.summary.length).toBeLessThan(2_000);
    expect(raw).not.toContain('dana.okafor@contoso.example');
    expect(JSON.parse(raw).data.claims).toEqual({ objectId: event.data.claims['http://schemas.microsoft.com/identity/claims/objectidentifier'] });
  });

  it.each([
    ['an id that is a number', { ...proxyWriteEvent(demoVault), id: 42 }],
    ['data that is an array', { ...proxyWriteEvent(demoVault), id: 'types-2', data: [1, 2] }],
    ['an operation name that is an object', { ...proxyWriteEvent(demoVault), id: 'types-3', data: { ...proxyWriteEvent(demoVault).data, operationName: { x: 1 } } }],
    ['a CloudEvent without a source', (({ source: _source, ...rest }) => ({ ...rest, id: 'types-4' }))(toCloudEvent(proxyWriteEvent(demoVault)))],
    ['a string', 'just text'],
    ['null', null],
  ])('acknowledges %s and writes nothing to ARM', async (_label, event) => {
    // Prepare
    const before = writes().length;

    // Act
    const answer = await postJson(stack.webhookUrl, [event], NOTIFICATION);

    // Assess
    expect(answer.status).toBe(200);
    expect(writes()).toHaveLength(before);
  });

  it.each([
    ['a `..` segment', (uri: string) => `${uri}/privateEndpointConnectionProxies/../../kv-other`],
    ['a `.` segment', (uri: string) => `${uri}/./privateEndpointConnectionProxies/pe-1`],
    ['an encoded `..`', (uri: string) => `${uri}/privateEndpointConnectionProxies/%2e%2e`],
  ])('refuses a resource URI with %s as an invalid hint and never sends it to ARM', async (label, mangle) => {
    // Prepare
    const event = proxyWriteEvent(demoVault);
    const uri = mangle(event.data.resourceUri);
    const id = `dots-${label.length}`;
    const before = (stack.emulator?.calls ?? []).length;

    // Act
    const answer = await postJson(stack.webhookUrl, [{ ...event, id, subject: uri, data: { ...event.data, resourceUri: uri } }], NOTIFICATION);

    // Assess
    expect(answer.status).toBe(200);
    expect((await invalidEntry(id)).summary).toMatch(/is not under a Key Vault/);
    expect((stack.emulator?.calls ?? []).slice(before)).toEqual([]);
  });

  it('matches operation names exactly: a longer or shorter name is unrelated and reads nothing', async () => {
    // Prepare
    const event = proxyWriteEvent(demoVault);
    const names = [`${event.data.operationName}x`, 'Microsoft.KeyVault/vaults/privateEndpointConnection', 'Microsoft.KeyVault/vaults/privateEndpointConnections/writes'];
    const before = (stack.emulator?.calls ?? []).length;

    // Act
    const answer = await postJson(
      stack.webhookUrl,
      names.map((operationName, index) => ({ ...event, id: `prefix-${index}`, data: { ...event.data, operationName } })),
      NOTIFICATION,
    );

    // Assess
    expect(answer.status).toBe(200);
    expect((stack.emulator?.calls ?? []).slice(before)).toEqual([]);
  });

  it('answers no broken payload with a 5xx and writes nothing to ARM (property, through the webhook)', async () => {
    // Prepare: a Pending in-tenant request the demo rules would approve if any payload were acted on.
    const connection = await stack.emulator!.simulateRequest({ vault: DEMO.vaultName, fromSubscription: DEMO.appSubscriptionId, endpointName: 'pe-prop', message: 'property' });
    const ref = parseConnectionId(connection.id);
    const target = { ...demoVault, childName: ref.name };

    // Act & Assess
    await fc.assert(
      fc.asyncProperty(fc.array(brokenEvent(target), { minLength: 1, maxLength: 3 }), async (events) => {
        const before = writes().length;
        const answer = await postJson(stack.webhookUrl, events, NOTIFICATION);
        expect(answer.status).toBeLessThan(500);
        expect(writes()).toHaveLength(before);
      }),
      { numRuns: 25, seed: 20_261_203 },
    );
    expect(stack.emulator!.getConnection(ref.id)?.properties.privateLinkServiceConnectionState.status).toBe('Pending');
  });

  it('treats a requester endpoint whose subscription is not a GUID as unknown: review, no raw value in a key', async () => {
    // Prepare: a connection whose privateEndpoint.id has '#' after the subscription GUID.
    const fromSubscription = '00000000-0000-0000-0000-000000000002#';
    const connection = await stack.emulator!.simulateRequest({ vault: DEMO.vaultName, fromSubscription, endpointName: 'pe-hash', message: 'hash' });
    const ref = parseConnectionId(connection.id);

    // Act
    const answer = await postJson(stack.webhookUrl, [proxyWriteEvent({ ...demoVault, childName: ref.name })], NOTIFICATION);

    // Assess
    expect(answer.status).toBe(200);
    const decision = await eventually(
      async () => (await auditEntries(stack, { connection: ref.id })).find((e) => e.kind === 'decision'),
      'the decision',
    );
    expect(decision).toMatchObject({ outcome: 'review' });
    expect(decision.requesterSubscriptionId).toBeUndefined();
    await eventually(async () => (await auditEntries(stack, { connection: ref.id })).find((e) => e.outcome === 'posted'), 'the review card');
    expect(putsFor(stack, ref.name)).toHaveLength(0);
    expect(stack.emulator!.getConnection(ref.id)?.properties.privateLinkServiceConnectionState.status).toBe('Pending');
    const failures = (await auditEntries(stack, { connection: ref.id })).filter((e) => e.outcome === 'failed');
    expect(failures).toEqual([]);
    const keys = await tableKeys('approvals');
    expect(keys.length).toBeGreaterThan(0);
    for (const key of [...keys, ...(await tableKeys('tenantcache'))]) expect(key).not.toMatch(/[/\\#?\u0000-\u001f\u007f-\u009f]/);
    expect((await tableKeys('tenantcache')).every((key) => isGuid(key.split('|')[1] ?? ''))).toBe(true);
  });
});
