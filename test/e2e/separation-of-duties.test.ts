import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FOREIGN_TENANT_CLICK, NO_OBJECT_ID_CLICK } from '../../src/adapters/teams/teams-bot.js';
import { parseRule } from '../../src/domain/policy/rule.js';
import { parseConnectionId } from '../../src/domain/resource-id.js';
import { DEMO, DEMO_PEOPLE, DEMO_TEAMS } from '../../src/dev/demo-world.js';
import type { LocalStack } from '../../src/dev/local-stack.js';
import { auditEntries, eventually, putsFor, startTestStack } from './helpers.js';

const ADA = DEMO_PEOPLE.approverAda.objectId;
const GRACE = DEMO_PEOPLE.approverGrace.objectId;
const BOB = DEMO_PEOPLE.viewerBob.objectId;
const RITA = DEMO_PEOPLE.requesterRita.objectId;
const FOREIGN_TENANT = 'f0f0f0f0-0000-4000-8000-0000000000ff';

/** Quorums and refused clicks as Teams drives them: the emulator's invokes to /api/messages, Azurite, the ARM emulator. */
describe('separation of duties through /api/messages and the local stack', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startTestStack();
    // Bob is an approver here too, so that three people besides the requester can approve.
    for (const required of [2, 3]) {
      await stack.services.rules.put(
        parseRule({
          name: `quorum-${required}`,
          priority: 1,
          action: 'review',
          conditions: { privateEndpointName: `pe-q${required}-*` },
          review: { approvers: [ADA, GRACE, BOB, RITA], requiredApprovals: required },
        }),
      );
    }
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function reviewCard(endpointName: string, options: { eventsLost?: boolean } = {}) {
    const connection = await stack.emulator!.simulateRequest({
      vault: DEMO.vaultName,
      fromSubscription: DEMO.partnerSubscriptionId,
      endpointName,
      message: `${endpointName} please`,
      requesterObjectId: RITA,
      ...(options.eventsLost ? { eventsLost: true } : {}),
    });
    // Without events only the sweep finds the request, and nothing names who asked.
    if (options.eventsLost) await stack.host.runTimer('sweep');
    const ref = parseConnectionId(connection.id);
    const message = await eventually(async () => stack.teams!.messages(DEMO_TEAMS.channelId).find((m) => JSON.stringify(m.card ?? '').includes(endpointName)), 'the card');
    return { ref, message, data: { approvalKey: ref.id, generation: 1 } };
  }

  const text = (body: unknown) => JSON.stringify((body as { value?: unknown }).value ?? body);
  const status = (id: string) => stack.emulator!.getConnection(id)?.properties.privateLinkServiceConnectionState.status;
  const cardOf = (activityId: string) => JSON.stringify(stack.teams!.messages(DEMO_TEAMS.channelId).find((m) => m.id === activityId)?.card ?? '');

  it('a request nobody can attribute says so on the card, one approval is not enough, and a second approver approves with one PUT', async () => {
    const { ref, message, data } = await reviewCard('pe-unattributed', { eventsLost: true });
    expect(cardOf(message.id)).toContain('Linkgate could not tell who requested this connection, so it needs two different approvers.');

    // Rita is on the approver list and nobody knows she asked: her approval counts as one.
    const first = await stack.teams!.click({ activityId: message.id, objectId: RITA, verb: 'approve', data: { ...data, comment: 'mine, actually' } });
    expect(text(first.body)).toContain('Your approval is recorded. It needs 1 more approval from other approvers');
    expect(putsFor(stack, ref.name)).toHaveLength(0);
    expect(status(ref.id)).toBe('Pending');
    await eventually(async () => (cardOf(message.id).includes('Approved so far: Rita Requester') ? true : undefined), 'the shared card to show the approval');

    const twice = await stack.teams!.click({ activityId: message.id, objectId: RITA, verb: 'approve', data });
    expect(text(twice.body)).toContain('You already approved this request');

    const second = await stack.teams!.click({ activityId: message.id, objectId: ADA, verb: 'approve', data });
    expect(text(second.body)).toContain('Approved by');
    expect(putsFor(stack, ref.name)).toHaveLength(1);
    expect(status(ref.id)).toBe('Approved');
    const humans = (await auditEntries(stack, { connection: ref.id })).filter((e) => e.kind === 'human');
    expect(humans.filter((e) => e.outcome === 'approve').map((e) => e.actor.id).sort()).toEqual([ADA, RITA].sort());
  });

  it.each([2, 3])('quorum %i: five clicks at once from three approvers (one of them three times) make exactly one PUT, and nobody counts twice', async (required) => {
    const { ref, message, data } = await reviewCard(`pe-q${required}-race`);
    const clickers = [ADA, ADA, ADA, GRACE, BOB];
    const answers = await Promise.all(clickers.map((objectId) => stack.teams!.click({ activityId: message.id, objectId, verb: 'approve', data })));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(putsFor(stack, ref.name)).toHaveLength(1);
    expect(status(ref.id)).toBe('Approved');
    const record = (await stack.services.approvals.get(ref))!.value;
    const ids = (record.approvals ?? []).map((vote) => vote.id);
    expect(ids).toHaveLength(required);
    expect(new Set(ids).size).toBe(required);
    // With quorum 3 every one of the three different approvers was needed.
    if (required === 3) expect(new Set(ids)).toEqual(new Set([ADA, GRACE, BOB]));
  }, 30_000);

  it('the known requester can never approve, even on a quorum review that lists her', async () => {
    const { ref, message, data } = await reviewCard('pe-q2-self');
    const own = await stack.teams!.click({ activityId: message.id, objectId: RITA, verb: 'approve', data });
    expect(text(own.body)).toContain('You requested this endpoint, so someone else must approve it');
    expect((await stack.services.approvals.get(ref))!.value.approvals ?? []).toHaveLength(0);
  });

  it('one rejection with a reason ends a quorum review at once', async () => {
    const { ref, message, data } = await reviewCard('pe-q3-reject');
    await stack.teams!.click({ activityId: message.id, objectId: ADA, verb: 'approve', data });
    const rejected = await stack.teams!.click({ activityId: message.id, objectId: GRACE, verb: 'reject', data: { ...data, comment: 'not a partner we know' } });
    expect(text(rejected.body)).toContain('Rejected by');
    expect(status(ref.id)).toBe('Rejected');
    const late = await stack.teams!.click({ activityId: message.id, objectId: BOB, verb: 'approve', data });
    expect(text(late.body)).toContain('Rejected by');
    expect(putsFor(stack, ref.name)).toHaveLength(1);
  });

  it('refuses a known approver’s object ID from another tenant (in conversation.tenantId or channelData.tenant), and an object ID that is not a GUID', async () => {
    const { ref, message, data } = await reviewCard('pe-foreign-click');
    const viaConversation = await stack.teams!.click({ activityId: message.id, objectId: ADA, verb: 'approve', data, tenants: { conversation: FOREIGN_TENANT } });
    const viaChannelData = await stack.teams!.click({ activityId: message.id, objectId: ADA, verb: 'approve', data, tenants: { channelData: FOREIGN_TENANT } });
    const noTenant = await stack.teams!.click({ activityId: message.id, objectId: ADA, verb: 'approve', data, tenants: { conversation: null, channelData: null } });
    const notGuid = await stack.teams!.click({ activityId: message.id, objectId: 'ada@contoso.com', verb: 'approve', data });
    expect(text(viaConversation.body)).toContain(FOREIGN_TENANT_CLICK);
    expect(text(viaChannelData.body)).toContain(FOREIGN_TENANT_CLICK);
    expect(text(noTenant.body)).toContain('did not say which tenant');
    expect(text(notGuid.body)).toContain(NO_OBJECT_ID_CLICK);
    expect(putsFor(stack, ref.name)).toHaveLength(0);
    expect(status(ref.id)).toBe('Pending');
    expect((await stack.services.approvals.get(ref))!.value).toMatchObject({ state: 'AwaitingReview' });
    const refusals = (await auditEntries(stack, { connection: ref.id })).filter((e) => e.outcome === 'not-allowed');
    expect(refusals.map((e) => (e.detail as { reason: string }).reason).sort()).toEqual(['foreign-tenant', 'foreign-tenant', 'invalid-object-id', 'no-tenant']);
  });
});
