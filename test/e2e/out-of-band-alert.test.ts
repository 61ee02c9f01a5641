import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConnectionId, type ConnectionRef } from '../../src/domain/resource-id.js';
import { DEMO, DEMO_PEOPLE, DEMO_TEAMS, demoResourceId } from '../../src/dev/demo-world.js';
import type { LocalStack } from '../../src/dev/local-stack.js';
import { auditEntries, eventually, putsFor, startTestStack } from './helpers.js';

/**
 * An approval made outside Linkgate, flagged for review: the alert card is posted to the
 * Teams emulator, and an approver rejects (disconnects) or keeps the connection from it.
 */
describe('out-of-band alert through the local stack and the Teams emulator', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(async () => {
    await stack?.close();
  });

  /**
   * A connection approved outside Linkgate, which Linkgate finds and flags by itself (no
   * out-of-band rule ignores the partner tenant): through the sweep, for a connection that was
   * approved with no event Linkgate saw (so nobody is named), or through the portal's event, whose
   * claims name who approved.
   */
  async function approvedOutsideLinkgate(endpointName: string, via: 'sweep' | 'event' = 'sweep') {
    let id: string;
    if (via === 'sweep') {
      id = stack.emulator!.seedConnection({ resourceId: demoResourceId('Microsoft.KeyVault/vaults', DEMO.vaultName), status: 'Approved', fromSubscription: DEMO.partnerSubscriptionId, endpointName, description: 'approved in the portal' }).id;
      const report = await stack.services.sweep();
      expect(report.errors).toEqual([]);
    } else {
      // The request's own events are lost: Linkgate never saw it Pending; the approval's event arrives.
      const created = await stack.emulator!.simulateRequest({ vault: DEMO.vaultName, fromSubscription: DEMO.partnerSubscriptionId, endpointName, message: `${endpointName} please`, eventsLost: true });
      await stack.emulator!.setConnectionStatus(created.id, 'Approved', 'approved in the portal', DEMO_PEOPLE.viewerBob.objectId);
      id = created.id;
    }
    const ref = parseConnectionId(id);
    const record = await eventually(async () => {
      const current = await stack.services.approvals.get(ref);
      return current?.value.alert && current.value.card?.activityId ? current.value : undefined;
    }, 'the alert to be raised');
    expect(record).toMatchObject({ state: 'AwaitingReview', reviewConversationId: DEMO_TEAMS.channelId, requiredApprovals: 1, requesterTenantId: DEMO.partnerTenantId });
    const message = await eventually(async () => stack.teams!.messages(DEMO_TEAMS.channelId).find((m) => JSON.stringify(m.card ?? '').includes(ref.name)), 'the alert card');
    return { ref, message, record };
  }

  const cardText = (body: unknown) => JSON.stringify((body as { value?: unknown }).value ?? body);
  const statusOf = (ref: ConnectionRef) => stack.emulator!.getConnection(ref.id)?.properties.privateLinkServiceConnectionState.status;
  const postedCard = async (id: string, text: string) =>
    eventually(async () => {
      const current = stack.teams!.messages(DEMO_TEAMS.channelId).find((m) => m.id === id);
      return JSON.stringify(current?.card ?? '').includes(text) ? current : undefined;
    }, `the posted card to say ${text}`);

  it('posts an alert card: approved outside Linkgate, not known by whom, with Reject and Keep for an approver', async () => {
    const { ref, message } = await approvedOutsideLinkgate('pe-oob-view');
    const shared = JSON.stringify(message.card);
    expect(shared).toContain('Approved outside Linkgate');
    expect(shared).toContain("Not known: Azure's events did not name who approved");
    const refreshed = await stack.teams!.click({ activityId: message.id, objectId: DEMO_PEOPLE.approverAda.objectId, verb: 'refresh', data: { approvalKey: ref.id, generation: 1 } });
    const verbs = [...cardText(refreshed.body).matchAll(/"verb":"(\w+)"/g)].map((match) => match[1]);
    expect(verbs).toEqual(['reject', 'keep']);
    expect(cardText(refreshed.body)).toContain('the requester must create a new private endpoint');
    // One out-of-band audit entry, with the default's verdict.
    const entries = await auditEntries(stack, { connection: ref.id, outcome: 'out-of-band' });
    expect(entries).toEqual([expect.objectContaining({ kind: 'decision', detail: expect.objectContaining({ verdict: 'flagged', approvedBy: null }) })]);
  });

  it("names who approved when the approval's event said so", async () => {
    const { message, record } = await approvedOutsideLinkgate('pe-oob-named', 'event');
    expect(record.alert?.approvedBy).toBe(DEMO_PEOPLE.viewerBob.objectId);
    expect(JSON.stringify(message.card)).toContain(DEMO_PEOPLE.viewerBob.objectId);
  });

  it('an approver rejects with a reason: exactly one PUT of Rejected, the connection ends Rejected, the audit and the card say so', async () => {
    const { ref, message } = await approvedOutsideLinkgate('pe-oob-reject');
    const answer = await stack.teams!.click({
      activityId: message.id,
      objectId: DEMO_PEOPLE.approverAda.objectId,
      verb: 'reject',
      data: { approvalKey: ref.id, generation: 1, comment: 'nobody asked for this' },
    });
    expect(answer.status).toBe(200);
    await eventually(async () => (statusOf(ref) === 'Rejected' && (await stack.services.approvals.get(ref))?.value.state === 'Rejected' ? true : undefined), 'the rejection');
    const puts = putsFor(stack, ref.name);
    expect(puts).toHaveLength(1);
    expect(puts[0]?.body).toMatchObject({ properties: { privateLinkServiceConnectionState: { status: 'Rejected', description: 'Rejected by Ada Approver via Linkgate: nobody asked for this' } } });
    expect(cardText(answer.body)).toMatch(/Rejecting|Rejected by Ada Approver/);
    const entries = await auditEntries(stack, { connection: ref.id });
    expect(entries).toContainEqual(expect.objectContaining({ kind: 'human', outcome: 'reject', actor: expect.objectContaining({ type: 'user', id: DEMO_PEOPLE.approverAda.objectId }) }));
    expect(entries).toContainEqual(expect.objectContaining({ kind: 'result', outcome: 'rejected' }));
    await postedCard(message.id, 'Rejected by Ada Approver');
  }, 30_000);

  it('an approver keeps it: no PUT, the record is Kept, the audit and the card say so', async () => {
    const { ref, message } = await approvedOutsideLinkgate('pe-oob-keep');
    const answer = await stack.teams!.click({
      activityId: message.id,
      objectId: DEMO_PEOPLE.approverGrace.objectId,
      verb: 'keep',
      data: { approvalKey: ref.id, generation: 1, comment: 'known partner' },
    });
    expect(answer.status).toBe(200);
    expect(cardText(answer.body)).toContain('Kept by Grace Approver');
    expect(putsFor(stack, ref.name)).toHaveLength(0);
    expect(statusOf(ref)).toBe('Approved');
    expect((await stack.services.approvals.get(ref))?.value).toMatchObject({ state: 'Kept', decisionComment: 'known partner' });
    const entries = await auditEntries(stack, { connection: ref.id });
    expect(entries).toContainEqual(expect.objectContaining({ kind: 'human', outcome: 'kept', actor: expect.objectContaining({ id: DEMO_PEOPLE.approverGrace.objectId }) }));
    await postedCard(message.id, 'Kept by Grace Approver');
  }, 30_000);

  it('an approve sent for an alert is refused and audited, and nothing changes', async () => {
    const { ref, message } = await approvedOutsideLinkgate('pe-oob-approve');
    const answer = await stack.teams!.click({ activityId: message.id, objectId: DEMO_PEOPLE.approverAda.objectId, verb: 'approve', data: { approvalKey: ref.id, generation: 1 } });
    expect(cardText(answer.body)).toContain('never approved');
    expect(putsFor(stack, ref.name)).toHaveLength(0);
    expect((await stack.services.approvals.get(ref))?.value.state).toBe('AwaitingReview');
    const entries = await auditEntries(stack, { connection: ref.id });
    expect(entries).toContainEqual(expect.objectContaining({ kind: 'human', outcome: 'not-allowed' }));
  }, 30_000);
});
