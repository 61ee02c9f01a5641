import { describe, expect, it } from 'vitest';
import { statusOf } from '../../src/app/cards.js';
import type { CardAction } from '../../src/app/review-ports.js';
import type { ApprovalRecord, OutOfBandAlert } from '../../src/domain/approval.js';
import type { ConnectionRef } from '../../src/domain/resource-id.js';
import { APPROVER_ADA, APPROVER_GRACE, BYSTANDER, OTHER_SUB, OTHER_TENANT, REQUESTER, reviewHarness } from './fakes.js';

const HOUR = 3_600_000;
const CONVERSATION = '19:approvals@thread.tacv2';
/** Who approved in the portal, as an event's claims named them. */
const PORTAL_ADMIN = 'd00d0000-0000-4000-8000-0000000000d1';

type Harness = ReturnType<typeof reviewHarness>;

/**
 * A connection approved outside Linkgate that a rule flagged: the record as out-of-band detection
 * writes it (AwaitingReview with an alert, one approval needed, no expiry), and its card posted
 * by the review timer as it posts any owed card.
 */
async function outOfBandAlert(h: Harness, name = 'pe-oob.1', options: { alert?: Partial<OutOfBandAlert>; record?: Partial<ApprovalRecord> } = {}) {
  const ref = h.connections.add(name, OTHER_SUB, 'approved in the portal', 'Approved');
  const now = h.clock.now();
  const created = await h.approvals.create({
    connection: ref,
    state: 'AwaitingReview',
    generation: 1,
    privateEndpointId: `/subscriptions/${OTHER_SUB}/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe-${name}`,
    requesterSubscriptionId: OTHER_SUB,
    requesterTenantId: OTHER_TENANT,
    requestedBy: REQUESTER.id,
    reviewConversationId: CONVERSATION,
    approvers: [APPROVER_ADA.id, APPROVER_GRACE.id, REQUESTER.id],
    requiredApprovals: 1,
    remindAt: new Date(now.getTime() + 4 * HOUR),
    alert: {
      kind: 'out-of-band',
      approvedBy: PORTAL_ADMIN,
      description: 'approved in the portal',
      observedAt: now,
      ruleName: 'flag-external',
      summary: 'Approved outside Linkgate for another tenant.',
      ...options.alert,
    },
    attempts: 0,
    detectedAt: now,
    updatedAt: now,
    ...options.record,
  });
  if (created.kind !== 'created') throw new Error('the alert record exists already');
  await h.reviews.runTimer();
  return ref;
}

function click(ref: { id: string }, user: { id: string; name: string }, verb: CardAction['verb'], comment?: string, generation = 1): CardAction {
  return { verb, approvalKey: ref.id, generation, user, ...(comment ? { comment } : {}) };
}

async function stateOf(h: Harness, ref: ConnectionRef) {
  return (await h.approvals.get(ref))?.value.state;
}

function humanEntries(h: Harness, ref: ConnectionRef) {
  return h.audit.entries.filter((e) => e.kind === 'human' && e.connectionId === ref.key);
}

describe('out-of-band alerts: the card', () => {
  it('the review timer posts the alert card to the alert’s conversation, read-only for everyone', async () => {
    const h = reviewHarness();
    const ref = await outOfBandAlert(h);
    expect(h.notifier.posts).toHaveLength(1);
    const post = h.notifier.posts[0]!;
    expect(post.conversationId).toBe(CONVERSATION);
    expect(post.view).toMatchObject({
      audience: 'shared',
      status: { state: 'awaiting' },
      model: { approvalKey: ref.id, alert: { approvedBy: PORTAL_ADMIN, ruleName: 'flag-external', summary: 'Approved outside Linkgate for another tenant.' } },
    });
    expect((await h.approvals.get(ref))?.value.card).toMatchObject({ activityId: 'act-1', shownState: 'AwaitingReview' });
  });

  it('a refresh gives an approver the alert view', async () => {
    const h = reviewHarness();
    const ref = await outOfBandAlert(h);
    const result = await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'refresh'));
    expect(result).toMatchObject({ outcome: 'refreshed', view: { audience: 'approver', model: { alert: { approvedBy: PORTAL_ADMIN } } } });
  });

  it('a Kept record shows who kept it, with the comment', () => {
    const at = new Date('2026-11-30T12:00:00Z');
    const status = statusOf({
      connection: {} as ConnectionRef,
      state: 'Kept',
      generation: 1,
      decidedBy: { type: 'user', id: APPROVER_ADA.id, name: 'Ada' },
      decisionComment: 'known partner',
      attempts: 0,
      detectedAt: at,
      updatedAt: at,
    });
    expect(status).toEqual({ state: 'kept', by: { id: APPROVER_ADA.id, name: 'Ada' }, at, comment: 'known partner' });
  });
});

describe('out-of-band alerts: Reject', () => {
  it('an approver rejects with a reason: Rejecting, one PUT of Rejected, Rejected, and the audit names the person', async () => {
    const h = reviewHarness();
    const ref = await outOfBandAlert(h);
    const statesAtPut: (string | undefined)[] = [];
    h.connections.beforePut = async () => {
      statesAtPut.push(await stateOf(h, ref));
      return undefined;
    };
    const result = await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'reject', 'nobody asked for this'));
    expect(result.outcome).toBe('decided');
    expect(result.view.status).toMatchObject({ state: 'rejected', by: { id: APPROVER_ADA.id, name: 'Ada' }, comment: 'nobody asked for this' });
    expect(statesAtPut).toEqual(['Rejecting']);
    expect(h.connections.puts).toHaveLength(1);
    expect(h.connections.puts[0]?.change).toMatchObject({ status: 'Rejected', description: 'Rejected by Ada via Linkgate: nobody asked for this' });
    expect(h.connections.connections.get(ref.key)?.status).toBe('Rejected');
    expect((await h.approvals.get(ref))?.value).toMatchObject({ state: 'Rejected', decisionAction: 'reject', decidedBy: { id: APPROVER_ADA.id } });
    expect(h.audit.kinds(ref.id)).toEqual(['action:posted', 'human:reject', 'action:reject', 'result:rejected']);
    expect(humanEntries(h, ref)[0]).toMatchObject({ outcome: 'reject', actor: { type: 'user', id: APPROVER_ADA.id, name: 'Ada' }, detail: { comment: 'nobody asked for this' } });
    expect(h.audit.entries.find((e) => e.kind === 'result' && e.connectionId === ref.key)?.actor).toMatchObject({ type: 'user', id: APPROVER_ADA.id });
    expect(h.notifier.lastViewOf('act-1')?.status).toMatchObject({ state: 'rejected', by: { name: 'Ada' }, comment: 'nobody asked for this' });
  });

  it('a reject without a reason is refused and changes nothing', async () => {
    const h = reviewHarness();
    const ref = await outOfBandAlert(h);
    const result = await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'reject', '  '));
    expect(result.outcome).toBe('not-allowed');
    expect(result.view.notice).toMatch(/needs a reason/);
    expect(h.connections.puts).toHaveLength(0);
    expect(await stateOf(h, ref)).toBe('AwaitingReview');
    expect(humanEntries(h, ref)).toEqual([expect.objectContaining({ outcome: 'not-allowed', detail: { reason: 'reason-required', verb: 'reject' } })]);
  });

  it('Azure reporting the rejected connection as Disconnected counts as the rejection, and the audit says so', async () => {
    const h = reviewHarness();
    const ref = await outOfBandAlert(h);
    const setStatus = h.connections.setStatus.bind(h.connections);
    h.connections.setStatus = async (target, change) => {
      const result = await setStatus(target, change);
      const stored = h.connections.connections.get(target.key);
      if (stored) stored.status = 'Disconnected';
      return result;
    };
    const result = await h.reviews.handleCardAction(click(ref, APPROVER_GRACE, 'reject', 'not ours'));
    expect(result.outcome).toBe('decided');
    expect(result.view.status).toMatchObject({ state: 'rejected', by: { name: 'Grace' } });
    expect(await stateOf(h, ref)).toBe('Rejected');
    const outcome = h.audit.entries.find((e) => e.kind === 'result' && e.connectionId === ref.key);
    expect(outcome).toMatchObject({ outcome: 'rejected', detail: { status: 'Disconnected' } });
    expect(outcome?.summary).toMatch(/Disconnected/);
  });

  it('a connection rejected elsewhere before the click is not PUT: the record says what was found', async () => {
    const h = reviewHarness();
    const ref = await outOfBandAlert(h);
    h.connections.setStatus_outside(ref, 'Rejected');
    const result = await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'reject', 'too late'));
    expect(h.connections.puts).toHaveLength(0);
    expect((await h.approvals.get(ref))?.value).toMatchObject({ state: 'DecidedElsewhere', observedStatus: 'Rejected' });
    expect(result.view.status).toMatchObject({ state: 'decided-elsewhere', status: 'Rejected' });
    expect(h.audit.kinds(ref.id)).toContain('result:decided-elsewhere');
    expect(h.audit.kinds(ref.id)).not.toContain('result:rejected');
  });

  it('a connection gone before the click is not PUT: the record is Vanished', async () => {
    const h = reviewHarness();
    const ref = await outOfBandAlert(h);
    h.connections.connections.delete(ref.key);
    await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'reject', 'gone'));
    expect(h.connections.puts).toHaveLength(0);
    expect(await stateOf(h, ref)).toBe('Vanished');
  });

  it('a reject whose PUT failed is tried again by the next hint, as a reject', async () => {
    const h = reviewHarness();
    const ref = await outOfBandAlert(h);
    let failures = 1;
    h.connections.beforePut = () => {
      if (failures-- > 0) throw new Error('ARM answered 500 after retries');
      return undefined;
    };
    const first = await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'reject', 'disconnect it'));
    expect(first.outcome).toBe('in-progress');
    expect((await h.approvals.get(ref))?.value).toMatchObject({ state: 'Failed', decisionAction: 'reject' });
    h.clock.advance(h.settings.retryBaseMs);
    await h.workflow.handleHint({ ...h.hint, eventId: 'retry' });
    expect(h.connections.connections.get(ref.key)?.status).toBe('Rejected');
    expect(await stateOf(h, ref)).toBe('Rejected');
    expect(h.connections.puts.every((put) => put.change.status === 'Rejected')).toBe(true);
  });
});

describe('out-of-band alerts: Keep', () => {
  it('an approver keeps it: no PUT, Kept, the audit names the person and the comment, the card says so', async () => {
    const h = reviewHarness();
    const ref = await outOfBandAlert(h);
    const result = await h.reviews.handleCardAction(click(ref, APPROVER_GRACE, 'keep', 'known partner, ticket CHG-7'));
    expect(result.outcome).toBe('decided');
    expect(result.view.status).toMatchObject({ state: 'kept', by: { id: APPROVER_GRACE.id, name: 'Grace' }, comment: 'known partner, ticket CHG-7' });
    expect(h.connections.puts).toHaveLength(0);
    expect(h.connections.connections.get(ref.key)?.status).toBe('Approved');
    expect((await h.approvals.get(ref))?.value).toMatchObject({ state: 'Kept', decidedBy: { type: 'user', id: APPROVER_GRACE.id }, decisionComment: 'known partner, ticket CHG-7' });
    expect(humanEntries(h, ref)).toEqual([
      expect.objectContaining({ outcome: 'kept', actor: { type: 'user', id: APPROVER_GRACE.id, name: 'Grace' }, detail: expect.objectContaining({ comment: 'known partner, ticket CHG-7' }) }),
    ]);
    expect(h.notifier.lastViewOf('act-1')?.status).toMatchObject({ state: 'kept', by: { name: 'Grace' } });
    const late = await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'reject', 'changed my mind'));
    expect(late.outcome).toBe('already-decided');
    expect(h.connections.puts).toHaveLength(0);
  });

  it('the comment is optional', async () => {
    const h = reviewHarness();
    const ref = await outOfBandAlert(h);
    const result = await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'keep'));
    expect(result.outcome).toBe('decided');
    expect(await stateOf(h, ref)).toBe('Kept');
  });

  it('neither the requester nor whoever approved it outside Linkgate may keep it', async () => {
    const h = reviewHarness({ reviewDefaults: { conversation: CONVERSATION, approvers: [], timeoutAction: 'leave-pending' } });
    const ref = await outOfBandAlert(h, 'pe-oob.self', { record: { approvers: [APPROVER_ADA.id, REQUESTER.id, PORTAL_ADMIN] } });
    const byRequester = await h.reviews.handleCardAction(click(ref, REQUESTER, 'keep'));
    expect(byRequester.outcome).toBe('not-allowed');
    const byApprover = await h.reviews.handleCardAction(click(ref, { id: PORTAL_ADMIN, name: 'Dana' }, 'keep'));
    expect(byApprover.outcome).toBe('not-allowed');
    expect(byApprover.view.notice).toMatch(/someone else/);
    expect(await stateOf(h, ref)).toBe('AwaitingReview');
    expect(humanEntries(h, ref).map((e) => (e.detail as { reason: string }).reason)).toEqual(['self-review', 'self-review']);
  });

  it('a connection rejected elsewhere cannot be kept: the record says what was found', async () => {
    const h = reviewHarness();
    const ref = await outOfBandAlert(h);
    h.connections.setStatus_outside(ref, 'Disconnected');
    const result = await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'keep'));
    expect(result.outcome).toBe('already-decided');
    expect(result.view.notice).toMatch(/Disconnected/);
    expect((await h.approvals.get(ref))?.value).toMatchObject({ state: 'DecidedElsewhere', observedStatus: 'Disconnected' });
    expect(h.connections.puts).toHaveLength(0);
    expect(humanEntries(h, ref).filter((e) => e.outcome === 'kept')).toHaveLength(0);
  });

  it('a keep on an ordinary review is refused', async () => {
    const h = reviewHarness();
    const ref = h.connections.add('pe-ext.1', OTHER_SUB, 'partner sync');
    await h.workflow.handleHint({ ...h.hint, operationName: 'Microsoft.KeyVault/vaults/privateEndpointConnectionProxies/write', callerObjectId: REQUESTER.id });
    expect(await stateOf(h, ref)).toBe('AwaitingReview');
    const result = await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'keep'));
    expect(result.outcome).toBe('not-allowed');
    expect(await stateOf(h, ref)).toBe('AwaitingReview');
    expect(h.audit.entries.find((e) => e.outcome === 'not-allowed')?.detail).toEqual({ reason: 'alert-only', verb: 'keep' });
  });
});

describe('out-of-band alerts: who may click, and races', () => {
  it('approve is refused and audited, from any card and in any state; nothing changes', async () => {
    const h = reviewHarness();
    const ref = await outOfBandAlert(h);
    const current = await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'approve', 'looks fine'));
    const fromAnOldCard = await h.reviews.handleCardAction(click(ref, APPROVER_GRACE, 'approve', undefined, 0));
    expect(current.outcome).toBe('not-allowed');
    expect(current.view.notice).toMatch(/never approved/);
    expect(fromAnOldCard.outcome).toBe('not-allowed');
    await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'keep'));
    const afterKeep = await h.reviews.handleCardAction(click(ref, APPROVER_GRACE, 'approve'));
    expect(afterKeep.outcome).toBe('not-allowed');
    expect(h.connections.puts).toHaveLength(0);
    const refused = humanEntries(h, ref).filter((e) => e.outcome === 'not-allowed');
    expect(refused).toHaveLength(3);
    expect(refused.every((e) => (e.detail as { reason: string }).reason === 'not-on-alert')).toBe(true);
    expect(refused.map((e) => e.actor.id)).toEqual([APPROVER_ADA.id, APPROVER_GRACE.id, APPROVER_GRACE.id]);
  });

  it('a non-approver can neither reject nor keep', async () => {
    const h = reviewHarness();
    const ref = await outOfBandAlert(h);
    const reject = await h.reviews.handleCardAction(click(ref, BYSTANDER, 'reject', 'I do not like it'));
    const keep = await h.reviews.handleCardAction(click(ref, BYSTANDER, 'keep'));
    for (const result of [reject, keep]) {
      expect(result.outcome).toBe('not-allowed');
      expect(result.view.notice).toMatch(/Only the listed approvers/);
      expect(result.view.audience).toBe('viewer');
    }
    expect(h.connections.puts).toHaveLength(0);
    expect(await stateOf(h, ref)).toBe('AwaitingReview');
    expect(humanEntries(h, ref).map((e) => e.outcome)).toEqual(['not-allowed', 'not-allowed']);
  });

  it('reject and keep at the same instant: exactly one wins, and only a winning reject PUTs', async () => {
    const h = reviewHarness();
    const ref = await outOfBandAlert(h);
    const [reject, keep] = await Promise.all([
      h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'reject', 'disconnect')),
      h.reviews.handleCardAction(click(ref, APPROVER_GRACE, 'keep', 'fine by me')),
    ]);
    expect([reject.outcome, keep.outcome].sort()).toEqual(['already-decided', 'decided']);
    const final = await stateOf(h, ref);
    expect(['Rejected', 'Kept']).toContain(final);
    expect(h.connections.puts).toHaveLength(final === 'Rejected' ? 1 : 0);
    expect(reject.view.status.state).toBe(keep.view.status.state);
    const humans = humanEntries(h, ref);
    expect(humans.filter((e) => e.outcome === 'duplicate')).toHaveLength(1);
    // The loser may have been audited as clicked before it lost, or not at all when it saw the winner first.
    expect(humans.map((e) => e.outcome)).toContain(final === 'Rejected' ? 'reject' : 'kept');
    expect(humans.filter((e) => e.outcome === 'reject' || e.outcome === 'kept').length).toBeLessThanOrEqual(2);
  });

  it('a keep that loses to a reject writes nothing but the duplicate', async () => {
    const h = reviewHarness();
    const ref = await outOfBandAlert(h);
    // While the keep reads the connection, the reject claims the record and finishes.
    const get = h.connections.get.bind(h.connections);
    let keepRead: Promise<unknown> | undefined;
    h.connections.get = async (target) => {
      if (!keepRead) {
        keepRead = h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'reject', 'disconnect'));
        await keepRead;
      }
      return get(target);
    };
    const keep = await h.reviews.handleCardAction(click(ref, APPROVER_GRACE, 'keep'));
    expect(keep.outcome).toBe('already-decided');
    expect(keep.view.status).toMatchObject({ state: 'rejected', by: { name: 'Ada' } });
    expect(await stateOf(h, ref)).toBe('Rejected');
    expect(h.connections.puts).toHaveLength(1);
    expect(humanEntries(h, ref).map((e) => e.outcome)).toEqual(['reject', 'duplicate']);
    expect(h.audit.kinds(ref.id)).not.toContain('result:decided-elsewhere');
  });

  it('two rejects at the same instant: exactly one PUT', async () => {
    const h = reviewHarness();
    const ref = await outOfBandAlert(h);
    const results = await Promise.all([
      h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'reject', 'no by Ada')),
      h.reviews.handleCardAction(click(ref, APPROVER_GRACE, 'reject', 'no by Grace')),
    ]);
    expect(results.map((r) => r.outcome).sort()).toEqual(['already-decided', 'decided']);
    expect(h.connections.puts).toHaveLength(1);
    expect(await stateOf(h, ref)).toBe('Rejected');
    expect(humanEntries(h, ref).filter((e) => e.outcome === 'duplicate')).toHaveLength(1);
  });

  it('two keeps at the same instant: one Kept, one duplicate', async () => {
    const h = reviewHarness();
    const ref = await outOfBandAlert(h);
    const results = await Promise.all([h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'keep')), h.reviews.handleCardAction(click(ref, APPROVER_GRACE, 'keep'))]);
    expect(results.map((r) => r.outcome).sort()).toEqual(['already-decided', 'decided']);
    expect(await stateOf(h, ref)).toBe('Kept');
    expect(humanEntries(h, ref).filter((e) => e.outcome === 'duplicate')).toHaveLength(1);
  });
});

describe('out-of-band alerts: the review timer and hints', () => {
  it('reminds like a review but never expires, even past an expiry', async () => {
    const h = reviewHarness();
    const ref = await outOfBandAlert(h, 'pe-oob.timer', { record: { expiresAt: new Date(Date.parse('2026-11-30T11:00:00Z')), timeoutAction: 'reject' } });
    h.clock.advance(5 * HOUR);
    const report = await h.reviews.runTimer();
    expect(report).toMatchObject({ reminded: 1, expired: 0, errors: [] });
    expect(h.notifier.replies[0]?.text).toMatch(/approved outside Linkgate.*reject or keep/);
    h.clock.advance(30 * 24 * HOUR);
    expect(await h.reviews.runTimer()).toMatchObject({ expired: 0, errors: [] });
    expect(await stateOf(h, ref)).toBe('AwaitingReview');
    expect(h.connections.puts).toHaveLength(0);
  });

  it('the timer leaves a Kept record alone once its card shows it', async () => {
    const h = reviewHarness();
    const ref = await outOfBandAlert(h);
    await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'keep'));
    h.clock.advance(5 * HOUR);
    expect(await h.reviews.runTimer()).toEqual({ posted: 0, reminded: 0, expired: 0, updated: 0, errors: [] });
    expect(h.notifier.replies).toHaveLength(0);
    expect((await h.approvals.get(ref))?.value.card).toMatchObject({ shownState: 'Kept' });
  });

  it('a hint on the resource leaves an open alert alone while its connection reads Approved', async () => {
    const h = reviewHarness();
    const ref = await outOfBandAlert(h);
    await h.workflow.handleHint({ ...h.hint, eventId: 'evt-later' });
    expect(await stateOf(h, ref)).toBe('AwaitingReview');
    h.connections.setStatus_outside(ref, 'Rejected');
    await h.workflow.handleHint({ ...h.hint, eventId: 'evt-rejected' });
    expect((await h.approvals.get(ref))?.value).toMatchObject({ state: 'DecidedElsewhere', observedStatus: 'Rejected' });
  });
});
