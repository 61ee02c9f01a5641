import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices } from '../../src/composition.js';
import { parseConnectionId } from '../../src/domain/resource-id.js';
import { DEMO } from '../../src/dev/demo-world.js';
import type { LocalStack } from '../../src/dev/local-stack.js';
import {
  connectionWriteEvent,
  mixedBatch,
  proxyWriteEvent,
  subscriptionValidationEvent,
  toCloudEvent,
  type ArmEventOptions,
} from '../fixtures/events.js';
import { auditEntries, eventually, getJson, postJson, putsFor, startTestStack, auth } from './helpers.js';

const demoVault: ArmEventOptions = { subscriptionId: DEMO.vaultSubscriptionId, resourceGroup: DEMO.resourceGroup, vaultName: DEMO.vaultName };

describe('Event Grid intake at the dev host, with events delivered by hand', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    // No automatic delivery: each test posts the payload it is about.
    stack = await startTestStack({ eventSchema: false });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const pending = async (endpointName: string, fromSubscription: string = DEMO.appSubscriptionId) =>
    parseConnectionId((await stack.emulator!.simulateRequest({ vault: DEMO.vaultName, fromSubscription, endpointName, message: endpointName })).id);

  it('answers the Event Grid validation handshake without invoking the function', async () => {
    const answer = await postJson(stack.webhookUrl, [subscriptionValidationEvent('code-123')], { 'aeg-event-type': 'SubscriptionValidation' });
    expect(answer).toEqual({ status: 200, body: { validationResponse: 'code-123' } });
  });

  it('answers the CloudEvents OPTIONS handshake', async () => {
    const response = await fetch(stack.webhookUrl, { method: 'OPTIONS', headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('webhook-allowed-origin')).toBe('eventgrid.azure.net');
  });

  it('acts on an Event Grid schema proxy write with lower-case resourcegroups and dotted claim keys', async () => {
    const ref = await pending('pe-eg');
    const event = proxyWriteEvent({ ...demoVault, childName: ref.name, resourceGroupCasing: 'lower' });
    expect(event.subject).toContain('/resourcegroups/');
    const answer = await postJson(stack.webhookUrl, [event], { 'aeg-event-type': 'Notification' });
    expect(answer.status).toBe(200);
    expect(stack.emulator!.getConnection(ref.id)?.properties.privateLinkServiceConnectionState.status).toBe('Approved');
  });

  it('acts on a CloudEvents 1.0 batch', async () => {
    const ref = await pending('pe-ce');
    const body = [toCloudEvent(proxyWriteEvent({ ...demoVault, childName: ref.name }))];
    const response = await fetch(stack.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/cloudevents-batch+json' }, body: JSON.stringify(body) });
    expect(response.status).toBe(200);
    expect(stack.emulator!.getConnection(ref.id)?.properties.privateLinkServiceConnectionState.status).toBe('Approved');
  });

  it('acts on a single CloudEvent', async () => {
    const ref = await pending('pe-ce-single');
    const body = toCloudEvent(proxyWriteEvent({ ...demoVault, childName: ref.name, resourceGroupCasing: 'camel' }));
    const response = await fetch(stack.webhookUrl, { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify(body) });
    expect(response.status).toBe(200);
    expect(stack.emulator!.getConnection(ref.id)?.properties.privateLinkServiceConnectionState.status).toBe('Approved');
  });

  it('handles a mixed batch: unrelated and failure events are acknowledged, the hint is acted on once', async () => {
    const ref = await pending('pe-mixed');
    const batch = mixedBatch().map((event) => ({
      ...event,
      subject: event.subject.replace(/\/subscriptions\/[^/]+\/resourcegroups\/rg-secrets\/providers\/Microsoft\.KeyVault\/vaults\/[^/]+/i, `/subscriptions/${DEMO.vaultSubscriptionId}/resourcegroups/${DEMO.resourceGroup}/providers/Microsoft.KeyVault/vaults/${DEMO.vaultName}`),
      data: {
        ...event.data,
        resourceUri: event.data.resourceUri.replace(/\/subscriptions\/[^/]+\/resourcegroups\/rg-secrets\/providers\/Microsoft\.KeyVault\/vaults\/[^/]+/i, `/subscriptions/${DEMO.vaultSubscriptionId}/resourcegroups/${DEMO.resourceGroup}/providers/Microsoft.KeyVault/vaults/${DEMO.vaultName}`),
      },
    }));
    const answer = await postJson(stack.webhookUrl, batch, { 'aeg-event-type': 'Notification' });
    expect(answer.status).toBe(200);
    expect(stack.emulator!.getConnection(ref.id)?.properties.privateLinkServiceConnectionState.status).toBe('Approved');
    expect(putsFor(stack, ref.name)).toHaveLength(1);
  });

  it('does not act again on the write event raised by its own approval', async () => {
    const ref = await pending('pe-self');
    await postJson(stack.webhookUrl, [proxyWriteEvent({ ...demoVault, childName: ref.name })], { 'aeg-event-type': 'Notification' });
    const selfRaised = connectionWriteEvent({ ...demoVault, childName: ref.name, id: 'self-raised-1' });
    const answer = await postJson(stack.webhookUrl, [selfRaised], { 'aeg-event-type': 'Notification' });
    expect(answer.status).toBe(200);
    expect(putsFor(stack, ref.name)).toHaveLength(1);
  });

  it('records a malformed event, acknowledges it and never acts on it', async () => {
    const ref = await pending('pe-malformed', DEMO.appSubscriptionId);
    const malformed = { id: 'malformed-1', subject: ref.id, eventType: 'Microsoft.Resources.ResourceWriteSuccess', data: { resourceUri: ref.id } };
    const answer = await postJson(stack.webhookUrl, [malformed], { 'aeg-event-type': 'Notification' });
    expect(answer.status).toBe(200);
    expect(putsFor(stack, ref.name)).toHaveLength(0);
    const invalid = await eventually(async () => (await auditEntries(stack, { outcome: 'invalid' })).find((e) => e.correlationId === 'malformed-1'), 'the invalid entry');
    expect(invalid.summary).toMatch(/could not be understood/);
    expect(JSON.stringify(invalid.detail)).toContain('malformed-1');
    expect(stack.emulator!.getConnection(ref.id)?.properties.privateLinkServiceConnectionState.status).toBe('Pending');
  });

  it('keeps one audit entry for an event Event Grid delivers twice', async () => {
    const ref = await pending('pe-redelivered');
    const event = proxyWriteEvent({ ...demoVault, childName: ref.name, id: 'redelivered-evt-1', eventTime: new Date().toISOString() });
    await postJson(stack.webhookUrl, [event], { 'aeg-event-type': 'Notification' });
    await postJson(stack.webhookUrl, [event], { 'aeg-event-type': 'Notification' });
    const hints = (await auditEntries(stack, { outcome: 'received' })).filter((e) => e.correlationId === 'redelivered-evt-1');
    expect(hints).toHaveLength(1);
    expect(putsFor(stack, ref.name)).toHaveLength(1);
  });

  it('refuses a body that is not JSON with 400 and invokes nothing', async () => {
    const answer = await postJson(stack.webhookUrl, '{not json', { 'aeg-event-type': 'Notification' });
    expect(answer.status).toBe(400);
  });

  it('two instances with their own clients decide a connection exactly once', async () => {
    const ref = await pending('pe-race');
    const config = stack.services.config;
    const quiet = { info: () => {}, warn: () => {}, error: () => {} };
    const first = createServices(config, { log: quiet });
    const second = createServices(config, { log: quiet });
    const hint = { resource: ref.resource, source: 'event' as const, eventId: 'race' };
    const results = await Promise.all([
      first.workflow.handleHint(hint),
      second.workflow.handleHint(hint),
      first.workflow.handleHint(hint),
      second.workflow.handleHint(hint),
    ]);
    expect(putsFor(stack, ref.name)).toHaveLength(1);
    // Within an instance the two hints share one look (and its result); across instances the record's ETag decides.
    expect(results[0]).toBe(results[2]);
    expect(results[1]).toBe(results[3]);
    const outcomes = [results[0]!, results[1]!].flatMap((r) => r.outcomes).filter((o) => o.connectionId === ref.id).map((o) => o.outcome);
    expect(outcomes.filter((o) => o === 'approved')).toHaveLength(1);
    const decisions = (await auditEntries(stack, { connection: ref.id })).filter((e) => e.kind === 'decision');
    expect(decisions).toHaveLength(1);
  });

  it('refuses a rule that cannot be understood, naming the field, and stores nothing', async () => {
    const put = await fetch(`${stack.functionsUrl}/api/rules/bad-regex`, {
      method: 'PUT',
      headers: await auth(stack),
      body: JSON.stringify({ priority: 5, action: 'approve', conditions: { requestMessage: '([' } }),
    });
    const body = (await put.json()) as { error: string; field: string };
    expect(put.status).toBe(400);
    expect(body.field).toBe('conditions.requestMessage');
    const unknownField = await fetch(`${stack.functionsUrl}/api/rules/typo`, { method: 'PUT', headers: await auth(stack), body: JSON.stringify({ priority: 5, action: 'approve', condition: {} }) });
    expect(((await unknownField.json()) as { field: string }).field).toBe('condition');
    const listed = await getJson(`${stack.functionsUrl}/api/rules`, await auth(stack));
    expect(listed.body.rules.map((r: { name: string }) => r.name)).not.toContain('bad-regex');
  });

  it('the sweep finds a Pending connection that no event announced', async () => {
    const ref = await pending('pe-silent');
    await stack.host.runTimer('sweep');
    expect(stack.emulator!.getConnection(ref.id)?.properties.privateLinkServiceConnectionState.status).toBe('Approved');
  });
});
