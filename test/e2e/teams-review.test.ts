import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConnectionId } from '../../src/domain/resource-id.js';
import { DEMO, DEMO_PEOPLE, DEMO_TEAMS } from '../../src/dev/demo-world.js';
import type { LocalStack } from '../../src/dev/local-stack.js';
import { auditEntries, eventually, getJson, putsFor, startTestStack, auth } from './helpers.js';

/** The invoke path as Teams drives it: the emulator sends the activities to /api/messages. */
describe('Teams review through /api/messages and the local stack', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function reviewCard(endpointName: string) {
    const connection = await stack.emulator!.simulateRequest({
      vault: DEMO.vaultName,
      fromSubscription: DEMO.partnerSubscriptionId,
      endpointName,
      message: `${endpointName} please`,
      requesterObjectId: DEMO_PEOPLE.requesterRita.objectId,
    });
    const ref = parseConnectionId(connection.id);
    const message = await eventually(async () => stack.teams!.messages(DEMO_TEAMS.channelId).find((m) => JSON.stringify(m.card ?? '').includes(endpointName)), 'the card');
    return { ref, message };
  }

  const cardText = (body: unknown) => JSON.stringify((body as { value?: unknown }).value ?? body);

  it('records the channel the bot was installed in, for `linkgate teams channels`', async () => {
    const listed = await getJson(`${stack.functionsUrl}/api/teams/conversations`, await auth(stack));
    expect(listed.status).toBe(200);
    expect(listed.body.conversations).toEqual(expect.arrayContaining([expect.objectContaining({ conversationId: DEMO_TEAMS.channelId })]));
  });

  it('two approvers clicking at the same instant produce exactly one PUT, and both see the final card', async () => {
    const { ref, message } = await reviewCard('pe-race-teams');
    const data = { approvalKey: ref.id, generation: 1 };
    const [ada, grace] = await Promise.all([
      stack.teams!.click({ activityId: message.id, objectId: DEMO_PEOPLE.approverAda.objectId, verb: 'approve', data: { ...data, comment: 'ok by Ada' } }),
      stack.teams!.click({ activityId: message.id, objectId: DEMO_PEOPLE.approverGrace.objectId, verb: 'reject', data: { ...data, comment: 'no by Grace' } }),
    ]);
    expect([ada.status, grace.status]).toEqual([200, 200]);
    expect(putsFor(stack, ref.name)).toHaveLength(1);
    const status = stack.emulator!.getConnection(ref.id)?.properties.privateLinkServiceConnectionState.status;
    expect(['Approved', 'Rejected']).toContain(status);
    const word = status === 'Approved' ? 'Approved by' : 'Rejected by';
    expect(cardText(ada.body)).toContain(word);
    expect(cardText(grace.body)).toContain(word);
    const humans = (await auditEntries(stack, { connection: ref.id })).filter((e) => e.kind === 'human');
    expect(humans.filter((e) => e.outcome === 'duplicate')).toHaveLength(1);
    expect(humans.filter((e) => e.outcome === 'approve' || e.outcome === 'reject')).toHaveLength(2);
  });

  it('a bystander who presses Approve gets a clear message and nothing changes', async () => {
    const { ref, message } = await reviewCard('pe-bystander');
    const answer = await stack.teams!.click({ activityId: message.id, objectId: DEMO_PEOPLE.viewerBob.objectId, verb: 'approve', data: { approvalKey: ref.id, generation: 1 } });
    expect(answer.status).toBe(200);
    expect(cardText(answer.body)).toContain('Only the listed approvers can decide');
    expect(putsFor(stack, ref.name)).toHaveLength(0);
    expect(stack.emulator!.getConnection(ref.id)?.properties.privateLinkServiceConnectionState.status).toBe('Pending');
  });

  it('an approval made in the portal updates the posted card', async () => {
    const { ref, message } = await reviewCard('pe-portal');
    await stack.emulator!.setConnectionStatus(ref.id, 'Approved', 'approved in the portal');
    await eventually(async () => {
      const current = stack.teams!.messages(DEMO_TEAMS.channelId).find((m) => m.id === message.id);
      return JSON.stringify(current?.card ?? '').includes('outside Linkgate') ? true : undefined;
    }, 'the card to say it was decided outside Linkgate');
  });

  it('answers a click within its deadline when ARM throttles, and the sweep finishes the approval', async () => {
    const { ref, message } = await reviewCard('pe-throttled');
    // Retry-After 18 s is within what the ARM policy waits out, but beyond a click's 8 s budget.
    stack.emulator!.injectFault({ method: 'PUT', pathIncludes: ref.name, status: 429, retryAfterSeconds: 18, times: 1 });
    const started = Date.now();
    const answer = await stack.teams!.click({ activityId: message.id, objectId: DEMO_PEOPLE.approverAda.objectId, verb: 'approve', data: { approvalKey: ref.id, generation: 1, comment: 'throttled' } });
    expect(Date.now() - started).toBeLessThan(12_000);
    expect(cardText(answer.body)).toMatch(/Approving|still applying|tries again/);
    expect(stack.emulator!.getConnection(ref.id)?.properties.privateLinkServiceConnectionState.status).toBe('Pending');
    await stack.host.runTimer('sweep');
    expect(stack.emulator!.getConnection(ref.id)?.properties.privateLinkServiceConnectionState.status).toBe('Approved');
    expect(stack.emulator!.getConnection(ref.id)?.properties.privateLinkServiceConnectionState.description).toBe('Approved by Ada Approver via Linkgate: throttled');
  }, 30_000);

  it('a click that cannot be understood changes nothing', async () => {
    const { ref, message } = await reviewCard('pe-garbled');
    const answer = await stack.teams!.click({ activityId: message.id, objectId: DEMO_PEOPLE.approverAda.objectId, verb: 'approve', data: { approvalKey: ref.id, generation: 'one' } });
    expect(JSON.stringify(answer.body)).toContain('could not be understood');
    expect(putsFor(stack, ref.name)).toHaveLength(0);
  });
});
