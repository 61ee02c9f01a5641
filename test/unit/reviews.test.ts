import { describe, expect, it } from 'vitest';
import type { CardAction } from '../../src/app/review-ports.js';
import { parseRule } from '../../src/domain/policy/rule.js';
import { APPROVER_ADA, APPROVER_GRACE, BYSTANDER, OTHER_SUB, REQUESTER, reviewHarness } from './fakes.js';

const HOUR = 3_600_000;

/** A request in review; by default the requester's own event named them (`null`: nothing did, as when the sweep found it). */
async function awaitingReview(h: ReturnType<typeof reviewHarness>, name = 'pe-ext.1', requestedBy: string | null = REQUESTER.id) {
  const ref = h.connections.add(name, OTHER_SUB, 'partner sync');
  await h.workflow.handleHint({
    ...h.hint,
    operationName: 'Microsoft.KeyVault/vaults/privateEndpointConnectionProxies/write',
    ...(requestedBy ? { callerObjectId: requestedBy } : {}),
  });
  const record = await h.approvals.get(ref);
  return { ref, record: record! };
}

function click(ref: { id: string }, user: { id: string; name: string }, verb: CardAction['verb'], comment?: string, generation = 1): CardAction {
  return { verb, approvalKey: ref.id, generation, user, ...(comment ? { comment } : {}) };
}

describe('reviews: cards, clicks, first decision wins', () => {
  it('posts a read-only shared card with the approvers to the configured conversation and audits it', async () => {
    const h = reviewHarness();
    const { ref, record } = await awaitingReview(h);
    expect(h.notifier.posts).toHaveLength(1);
    const post = h.notifier.posts[0]!;
    expect(post.conversationId).toBe('19:approvals@thread.tacv2');
    expect(post.view).toMatchObject({ audience: 'shared', status: { state: 'awaiting' }, model: { approvalKey: ref.id, requester: { badge: 'external' } } });
    expect(post.view.model.approverIds).toContain(APPROVER_ADA.id);
    expect(record.value.card).toMatchObject({ activityId: 'act-1', shownState: 'AwaitingReview' });
    expect(h.audit.entries.find((e) => e.outcome === 'posted')).toMatchObject({ connectionId: ref.key });
  });

  it('routes to the rule’s own conversation and approvers', async () => {
    const h = reviewHarness();
    await h.rules.put(parseRule({ name: 'partners', priority: 50, action: 'review', conditions: { requesterTenant: ['other'] }, review: { conversation: '19:partners', approvers: [APPROVER_GRACE.id] } }));
    const { record } = await awaitingReview(h);
    expect(h.notifier.posts[0]?.conversationId).toBe('19:partners');
    expect(record.value.approvers).toEqual([APPROVER_GRACE.id]);
  });

  it('an approver approves: one PUT, Approved, the card is replaced everywhere and the audit names the approver', async () => {
    const h = reviewHarness();
    const { ref } = await awaitingReview(h);
    const result = await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'approve', 'ticket CHG-1'));
    expect(result.outcome).toBe('decided');
    expect(result.view.status).toMatchObject({ state: 'approved', by: { name: 'Ada' }, comment: 'ticket CHG-1' });
    expect(h.connections.puts).toHaveLength(1);
    expect(h.connections.puts[0]?.change.description).toBe('Approved by Ada via Linkgate: ticket CHG-1');
    expect(h.connections.connections.get(ref.key)?.status).toBe('Approved');
    expect(h.notifier.lastViewOf('act-1')?.status.state).toBe('approved');
    const human = h.audit.entries.find((e) => e.kind === 'human');
    expect(human).toMatchObject({ outcome: 'approve', actor: { type: 'user', id: APPROVER_ADA.id, name: 'Ada' }, detail: { comment: 'ticket CHG-1' } });
    expect(h.audit.entries.find((e) => e.kind === 'action' && e.outcome === 'approve')?.actor).toMatchObject({ type: 'user', id: APPROVER_ADA.id });
  });

  it('a non-approver gets a clear message and nothing changes', async () => {
    const h = reviewHarness();
    const { ref } = await awaitingReview(h);
    const result = await h.reviews.handleCardAction(click(ref, BYSTANDER, 'approve'));
    expect(result.outcome).toBe('not-allowed');
    expect(result.view.notice).toMatch(/Only the listed approvers/);
    expect(result.view.audience).toBe('viewer');
    expect(h.connections.puts).toHaveLength(0);
    expect((await h.approvals.get(ref))?.value.state).toBe('AwaitingReview');
    expect(h.audit.entries.find((e) => e.outcome === 'not-allowed')?.actor.id).toBe(BYSTANDER.id);
  });

  it('the requester cannot approve their own request even when listed as an approver', async () => {
    const h = reviewHarness();
    const { ref } = await awaitingReview(h, 'pe-self.1', REQUESTER.id);
    const result = await h.reviews.handleCardAction(click(ref, REQUESTER, 'approve'));
    expect(result.outcome).toBe('not-allowed');
    expect(result.view.notice).toMatch(/someone else must approve/);
    expect(result.view.audience).toBe('requester');
    expect(h.connections.puts).toHaveLength(0);
  });

  it('a rejection needs a reason', async () => {
    const h = reviewHarness();
    const { ref } = await awaitingReview(h);
    const result = await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'reject', '   '));
    expect(result.outcome).toBe('not-allowed');
    expect(result.view.notice).toMatch(/needs a reason/);
    const rejected = await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'reject', 'unknown partner'));
    expect(rejected.view.status).toMatchObject({ state: 'rejected', comment: 'unknown partner' });
    expect(h.connections.connections.get(ref.key)?.status).toBe('Rejected');
  });

  it('an unknown approval changes nothing', async () => {
    const h = reviewHarness();
    const result = await h.reviews.handleCardAction(click({ id: '/subscriptions/aaaaaaaa-0000-4000-8000-000000000001/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-nope/privateEndpointConnections/nope' }, APPROVER_ADA, 'approve'));
    expect(result.outcome).toBe('unknown');
    const garbage = await h.reviews.handleCardAction(click({ id: 'not-an-id' }, APPROVER_ADA, 'approve'));
    expect(garbage.outcome).toBe('invalid');
    expect(h.connections.puts).toHaveLength(0);
  });

  it('a click on an already decided approval shows the final card and makes no call', async () => {
    const h = reviewHarness();
    const { ref } = await awaitingReview(h);
    await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'approve'));
    const late = await h.reviews.handleCardAction(click(ref, APPROVER_GRACE, 'reject', 'no'));
    expect(late.outcome).toBe('already-decided');
    expect(late.view.status).toMatchObject({ state: 'approved', by: { name: 'Ada' } });
    expect(h.connections.puts).toHaveLength(1);
  });

  it('a stale click (an earlier generation of the card) changes nothing', async () => {
    const h = reviewHarness();
    const { ref } = await awaitingReview(h);
    const result = await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'approve', undefined, 0));
    expect(result.outcome).toBe('stale');
    expect(h.connections.puts).toHaveLength(0);
  });

  it('two approvers at the same instant: exactly one PUT, and the loser sees the final card', async () => {
    const h = reviewHarness();
    const { ref } = await awaitingReview(h);
    const [a, b] = await Promise.all([
      h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'approve')),
      h.reviews.handleCardAction(click(ref, APPROVER_GRACE, 'reject', 'too risky')),
    ]);
    expect(h.connections.puts).toHaveLength(1);
    const outcomes = [a.outcome, b.outcome].sort();
    expect(outcomes).toEqual(['already-decided', 'decided']);
    const final = (await h.approvals.get(ref))!.value.state;
    expect(['Approved', 'Rejected']).toContain(final);
    expect(a.view.status.state).toBe(b.view.status.state);
    const human = h.audit.entries.filter((e) => e.kind === 'human');
    expect(human.filter((e) => e.outcome === 'duplicate')).toHaveLength(1);
    expect(human.filter((e) => e.outcome !== 'duplicate')).toHaveLength(2);
  });

  it('keeps a person’s decision when the PUT fails, and the next hint retries that decision, not the rules', async () => {
    const h = reviewHarness();
    const { ref } = await awaitingReview(h);
    let failures = 1;
    h.connections.beforePut = () => {
      if (failures-- > 0) throw new Error('ARM answered 500 after retries');
      return undefined;
    };
    const click1 = await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'approve', 'ticket 42'));
    expect(click1.outcome).toBe('in-progress');
    expect(click1.view.notice).toMatch(/keeps your decision/);
    expect((await h.approvals.get(ref))?.value).toMatchObject({ state: 'Failed', decisionAction: 'approve' });
    h.clock.advance(h.settings.retryBaseMs);
    await h.workflow.handleHint({ ...h.hint, eventId: 'retry' });
    expect(h.connections.connections.get(ref.key)?.status).toBe('Approved');
    expect(h.connections.puts.at(-1)?.change.description).toBe('Approved by Ada via Linkgate: ticket 42');
    expect(h.audit.entries.filter((e) => e.kind === 'decision')).toHaveLength(1);
    expect(h.notifier.lastViewOf('act-1')?.status).toMatchObject({ state: 'approved', by: { name: 'Ada' } });
  });

  it('a click is not lost when bookkeeping moved the record’s ETag in between', async () => {
    const h = reviewHarness();
    const { ref } = await awaitingReview(h);
    const replace = h.approvals.replace.bind(h.approvals);
    let interfered = false;
    h.approvals.replace = async (record, etag) => {
      if (!interfered && record.state === 'Approving') {
        interfered = true;
        const current = (await h.approvals.get(ref))!;
        await replace({ ...current.value, remindedAt: h.clock.now() }, current.etag); // a reminder claim lands first
      }
      return replace(record, etag);
    };
    const result = await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'approve', 'ok'));
    expect(interfered).toBe(true);
    expect(result.outcome).toBe('decided');
    expect(h.connections.connections.get(ref.key)?.status).toBe('Approved');
    expect(h.audit.entries.filter((e) => e.outcome === 'duplicate')).toHaveLength(0);
  });

  it('a name reused by another endpoint while the review is open closes the old card and never approves the new endpoint from it', async () => {
    const h = reviewHarness();
    const { ref } = await awaitingReview(h);
    h.connections.connections.delete(ref.key);
    h.connections.add(ref.name, OTHER_SUB.replace('bbbb', 'eeee'), 'someone else');
    await h.workflow.handleHint({ ...h.hint, eventId: 'reused' });
    expect(h.notifier.lastViewOf('act-1')?.status.state).toBe('vanished');
    const record = (await h.approvals.get(ref))!.value;
    expect(record).toMatchObject({ generation: 2, state: 'AwaitingReview', requestMessage: 'someone else' });
    const old = await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'approve', 'from the old card', 1));
    expect(old.outcome).toBe('stale');
    expect(h.connections.puts).toHaveLength(0);
  });

  it('a conversation Teams refuses for good is audited once and not retried every minute', async () => {
    const h = reviewHarness();
    h.notifier.refusePosts = true;
    const { ref } = await awaitingReview(h);
    h.clock.advance(2 * 60_000);
    await h.reviews.runTimer();
    await h.reviews.runTimer();
    const errors = h.audit.entries.filter((e) => e.kind === 'error' && e.connectionId === ref.key);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.summary).toMatch(/could not be posted to 19:approvals@thread.tacv2/);
    expect((await h.approvals.get(ref))?.value.card?.error).toMatch(/ConversationNotFound/);
    h.notifier.refusePosts = false;
    h.clock.advance(61 * 60_000);
    await h.reviews.runTimer();
    expect(h.notifier.posts).toHaveLength(1);
  });

  it('refresh gives approvers their buttons and everyone else a read-only view', async () => {
    const h = reviewHarness();
    const { ref } = await awaitingReview(h, 'pe-ext.1', REQUESTER.id);
    expect((await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'refresh'))).view.audience).toBe('approver');
    expect((await h.reviews.handleCardAction(click(ref, BYSTANDER, 'refresh'))).view.audience).toBe('viewer');
    expect((await h.reviews.handleCardAction(click(ref, REQUESTER, 'refresh'))).view.audience).toBe('requester');
  });
});

describe('reviews: changes outside Linkgate, reminders and expiry', () => {
  it('updates the card when the connection is approved in the portal', async () => {
    const h = reviewHarness();
    const { ref } = await awaitingReview(h);
    h.connections.setStatus_outside(ref, 'Approved');
    await h.workflow.handleHint({ ...h.hint, eventId: 'portal' });
    expect(h.notifier.lastViewOf('act-1')?.status).toMatchObject({ state: 'decided-elsewhere', status: 'Approved' });
    // The approval was made outside Linkgate: the review is closed and an alert card follows.
    expect(h.notifier.posts.map((p) => p.activityId)).toEqual(['act-1', 'act-2']);
    expect((await h.approvals.get(ref))?.value).toMatchObject({ state: 'AwaitingReview', alert: { kind: 'out-of-band' }, card: { activityId: 'act-2' } });
  });

  it('updates the card when the connection is deleted', async () => {
    const h = reviewHarness();
    const { ref } = await awaitingReview(h);
    h.connections.connections.delete(ref.key);
    await h.workflow.handleHint({ ...h.hint, eventId: 'deleted' });
    expect(h.notifier.lastViewOf('act-1')?.status.state).toBe('vanished');
  });

  it('reminds once in the card’s thread after the rule’s hours', async () => {
    const h = reviewHarness();
    await awaitingReview(h);
    expect((await h.reviews.runTimer()).reminded).toBe(0);
    h.clock.advance(4 * HOUR + 1);
    expect((await h.reviews.runTimer()).reminded).toBe(1);
    expect((await h.reviews.runTimer()).reminded).toBe(0);
    expect(h.notifier.replies).toHaveLength(1);
    expect(h.notifier.replies[0]).toMatchObject({ conversationId: '19:approvals@thread.tacv2', activityId: 'act-1' });
    expect(h.audit.entries.filter((e) => e.outcome === 'reminded')).toHaveLength(1);
  });

  it('expires after the rule’s days and leaves the connection Pending by default', async () => {
    const h = reviewHarness();
    const { ref } = await awaitingReview(h);
    h.clock.advance(2 * 24 * HOUR + 1);
    expect((await h.reviews.runTimer()).expired).toBe(1);
    expect((await h.approvals.get(ref))?.value.state).toBe('Expired');
    expect(h.connections.connections.get(ref.key)?.status).toBe('Pending');
    expect(h.connections.puts).toHaveLength(0);
    expect(h.notifier.lastViewOf('act-1')?.status).toMatchObject({ state: 'expired', action: 'leave-pending' });
  });

  it('expires with reject when the rule says so', async () => {
    const h = reviewHarness();
    await h.rules.put(parseRule({ name: 'partners', priority: 50, action: 'review', conditions: {}, review: { expireAfterDays: 1, timeoutAction: 'reject' } }));
    const { ref } = await awaitingReview(h);
    h.clock.advance(24 * HOUR + 1);
    await h.reviews.runTimer();
    expect(h.connections.connections.get(ref.key)?.status).toBe('Rejected');
    expect((await h.approvals.get(ref))?.value.state).toBe('Rejected');
    expect(h.notifier.lastViewOf('act-1')?.status.state).toBe('rejected');
  });

  it('a card that could not be posted is posted by the timer, once', async () => {
    const h = reviewHarness();
    h.notifier.failPosts = 1;
    const { ref } = await awaitingReview(h);
    expect(h.notifier.posts).toHaveLength(0);
    h.clock.advance(61_000); // the deciding instance's posting claim runs out
    await h.reviews.runTimer();
    await h.reviews.runTimer();
    expect(h.notifier.posts).toHaveLength(1);
    expect((await h.approvals.get(ref))?.value.card?.activityId).toBe('act-1');
  });

  it('a burst of 200 reviews posts 200 cards and audits each one', async () => {
    const h = reviewHarness({ concurrency: 8 });
    for (let i = 0; i < 200; i += 1) h.connections.add(`pe-burst.${i}`, OTHER_SUB);
    await h.workflow.handleHint(h.hint);
    expect(h.notifier.posts).toHaveLength(200);
    expect(new Set(h.notifier.posts.map((p) => p.view.model.approvalKey)).size).toBe(200);
    expect(h.audit.entries.filter((e) => e.outcome === 'posted')).toHaveLength(200);
  });
});

describe('reviews: separation of duties and quorums', () => {
  const ALAN = { id: 'a1a00000-0000-4000-8000-0000000000a3', name: 'Alan' };
  const EDSGER = { id: 'ed500000-0000-4000-8000-0000000000a4', name: 'Edsger' };

  async function quorumReview(h: ReturnType<typeof reviewHarness>, requiredApprovals: number, requestedBy: string | null = REQUESTER.id) {
    await h.rules.put(
      parseRule({
        name: 'partners',
        priority: 50,
        action: 'review',
        conditions: { requesterTenant: ['other'] },
        review: { approvers: [APPROVER_ADA.id, APPROVER_GRACE.id, ALAN.id, EDSGER.id, REQUESTER.id], requiredApprovals },
      }),
    );
    return awaitingReview(h, 'pe-quorum.1', requestedBy);
  }

  it('when nobody can tell who requested it, the card says so and one approval is not enough; a second approver approves with one PUT', async () => {
    const h = reviewHarness();
    const { ref, record } = await awaitingReview(h, 'pe-swept.1', null);
    expect(record.value.requestedBy).toBeUndefined();
    expect(h.notifier.posts[0]?.view.model).toMatchObject({ requesterUnknown: true, requiredApprovals: 2 });

    const first = await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'approve', 'looks fine'));
    expect(first.outcome).toBe('recorded');
    expect(first.view.notice).toMatch(/needs 1 more approval from other approvers/);
    expect(first.view.audience).toBe('voted');
    expect(h.connections.puts).toHaveLength(0);
    expect((await h.approvals.get(ref))?.value).toMatchObject({ state: 'AwaitingReview', approvals: [{ id: APPROVER_ADA.id, name: 'Ada', comment: 'looks fine' }] });
    // The shared card is updated for everyone with who approved so far.
    expect(h.notifier.lastViewOf('act-1')?.model.approvals).toEqual([{ id: APPROVER_ADA.id, name: 'Ada', at: h.clock.now() }]);

    const again = await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'approve'));
    expect(again.outcome).toBe('not-allowed');
    expect(again.view.notice).toMatch(/You already approved this request; it needs 1 more approval/);
    expect(h.connections.puts).toHaveLength(0);

    // Rita is on the approver list; nobody knows she asked, so she counts as a second, different person.
    const second = await h.reviews.handleCardAction(click(ref, REQUESTER, 'approve'));
    expect(second.outcome).toBe('decided');
    expect(h.connections.puts).toHaveLength(1);
    expect(h.connections.puts[0]?.change.description).toBe('Approved by Ada and Rita via Linkgate.');
    expect(second.view.status).toMatchObject({ state: 'approved' });
    const humans = h.audit.entries.filter((e) => e.kind === 'human');
    expect(humans.map((e) => `${e.outcome}:${e.actor.id}`)).toEqual([`approve:${APPROVER_ADA.id}`, `not-allowed:${APPROVER_ADA.id}`, `approve:${REQUESTER.id}`]);
  });

  it('an approval the requester gave before their own event named them stops counting, and the review keeps its quorum', async () => {
    const h = reviewHarness();
    const { ref } = await awaitingReview(h, 'pe-swept.2', null);
    await h.reviews.handleCardAction(click(ref, REQUESTER, 'approve'));
    // The requester's proxy write arrives late and names Rita.
    await h.workflow.handleHint({ ...h.hint, eventId: 'late-claims', operationName: 'Microsoft.KeyVault/vaults/privateEndpointConnectionProxies/write', callerObjectId: REQUESTER.id });
    const record = (await h.approvals.get(ref))!.value;
    expect(record).toMatchObject({ requestedBy: REQUESTER.id, requiredApprovals: 2 });
    // The card no longer says the requester is unknown, and Rita's approval is no longer counted.
    expect(h.notifier.lastViewOf('act-1')?.model).toMatchObject({ requesterUnknown: false, approvals: [] });
    // The review keeps the quorum it started with: two people other than Rita.
    expect((await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'approve'))).outcome).toBe('recorded');
    expect((await h.reviews.handleCardAction(click(ref, REQUESTER, 'approve'))).outcome).toBe('not-allowed');
    expect((await h.reviews.handleCardAction(click(ref, APPROVER_GRACE, 'approve'))).outcome).toBe('decided');
    expect(h.connections.puts[0]?.change.description).toBe('Approved by Ada and Grace via Linkgate.');
  });

  it('quorum 2: the known requester can never approve, the first approval is recorded, the second approves', async () => {
    const h = reviewHarness();
    const { ref } = await quorumReview(h, 2);
    const own = await h.reviews.handleCardAction(click(ref, REQUESTER, 'approve'));
    expect(own.outcome).toBe('not-allowed');
    expect((await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'approve'))).outcome).toBe('recorded');
    expect(h.connections.puts).toHaveLength(0);
    expect((await h.reviews.handleCardAction(click(ref, APPROVER_GRACE, 'approve', 'second'))).outcome).toBe('decided');
    expect(h.connections.puts).toHaveLength(1);
    expect(h.connections.connections.get(ref.key)?.status).toBe('Approved');
    const final = h.notifier.lastViewOf('act-1')!;
    expect(final.status.state).toBe('approved');
    expect(final.model.approvals?.map((vote) => vote.name)).toEqual(['Ada', 'Grace']);
  });

  it.each([2, 3])('quorum %i with four approvers clicking at once: exactly one PUT, every needed approval kept, nobody counted twice', async (quorum) => {
    const h = reviewHarness();
    const { ref } = await quorumReview(h, quorum);
    const people = [APPROVER_ADA, APPROVER_GRACE, ALAN, EDSGER];
    const results = await Promise.all(people.map((person) => h.reviews.handleCardAction(click(ref, person, 'approve'))));
    expect(h.connections.puts).toHaveLength(1);
    expect(h.connections.connections.get(ref.key)?.status).toBe('Approved');
    const record = (await h.approvals.get(ref))!.value;
    expect(record.state).toBe('Approved');
    const ids = (record.approvals ?? []).map((vote) => vote.id);
    expect(ids).toHaveLength(quorum);
    expect(new Set(ids).size).toBe(quorum);
    expect(results.filter((r) => r.outcome === 'recorded')).toHaveLength(quorum - 1);
    expect(results.filter((r) => r.outcome === 'decided')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'already-decided')).toHaveLength(4 - quorum);
    // Every partial approval is audited, naming the person.
    const approveEntries = h.audit.entries.filter((e) => e.kind === 'human' && e.outcome === 'approve').map((e) => e.actor.id);
    expect(new Set(approveEntries)).toEqual(new Set(people.map((p) => p.id)));
  });

  it('the same person clicking Approve five times at once counts once and never reaches the quorum alone', async () => {
    const h = reviewHarness();
    const { ref } = await quorumReview(h, 2);
    const results = await Promise.all(Array.from({ length: 5 }, () => h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'approve'))));
    expect(results.filter((r) => r.outcome === 'recorded')).toHaveLength(1);
    expect(results.filter((r) => r.outcome === 'not-allowed')).toHaveLength(4);
    expect(h.connections.puts).toHaveLength(0);
    expect((await h.approvals.get(ref))?.value).toMatchObject({ state: 'AwaitingReview', approvals: [{ id: APPROVER_ADA.id }] });
  });

  it('one rejection with a reason ends a quorum review at once', async () => {
    const h = reviewHarness();
    const { ref } = await quorumReview(h, 3);
    expect((await h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'approve'))).outcome).toBe('recorded');
    const rejected = await h.reviews.handleCardAction(click(ref, APPROVER_GRACE, 'reject', 'not a partner we know'));
    expect(rejected.outcome).toBe('decided');
    expect(h.connections.puts).toHaveLength(1);
    expect(h.connections.connections.get(ref.key)?.status).toBe('Rejected');
    const late = await h.reviews.handleCardAction(click(ref, ALAN, 'approve'));
    expect(late.outcome).toBe('already-decided');
    expect(h.connections.puts).toHaveLength(1);
  });

  it('racing approvals and a rejection: one PUT, and never an approval after the rejection', async () => {
    const h = reviewHarness();
    const { ref } = await quorumReview(h, 3);
    await Promise.all([
      h.reviews.handleCardAction(click(ref, APPROVER_ADA, 'approve')),
      h.reviews.handleCardAction(click(ref, APPROVER_GRACE, 'reject', 'no')),
      h.reviews.handleCardAction(click(ref, ALAN, 'approve')),
      h.reviews.handleCardAction(click(ref, EDSGER, 'approve')),
    ]);
    expect(h.connections.puts).toHaveLength(1);
    expect(['Approved', 'Rejected']).toContain(h.connections.connections.get(ref.key)?.status);
  });
});

describe('reviews: clicks refused at the Teams boundary', () => {
  it('audits a foreign-tenant click under the request it names as not-allowed and changes nothing', async () => {
    const h = reviewHarness();
    const { ref } = await awaitingReview(h);
    const before = await h.approvals.get(ref);
    await h.reviews.refuseCardAction({
      reason: 'foreign-tenant',
      message: 'Linkgate takes decisions only from people in its own tenant. Nothing was changed.',
      verb: 'approve',
      approvalKey: ref.id,
      claimedObjectId: APPROVER_ADA.id,
      name: 'Ada',
      tenants: { conversation: 'f0f0f0f0-0000-4000-8000-0000000000ff' },
    });
    const entry = h.audit.entries.at(-1);
    expect(entry).toMatchObject({ kind: 'human', outcome: 'not-allowed', actor: { type: 'user', id: APPROVER_ADA.id }, connectionId: ref.key, detail: { reason: 'foreign-tenant' } });
    expect((await h.approvals.get(ref))?.etag).toBe(before?.etag);
    expect(h.connections.puts).toHaveLength(0);
  });

  it('audits a click without a usable object ID even when its approval key names nothing Linkgate knows', async () => {
    const h = reviewHarness();
    await h.reviews.refuseCardAction({ reason: 'invalid-object-id', message: 'no object ID', verb: 'approve', approvalKey: 'garbage', claimedObjectId: 'ada@contoso.com', tenants: {} });
    expect(h.audit.entries.at(-1)).toMatchObject({ outcome: 'not-allowed', actor: { id: 'ada@contoso.com' }, detail: { reason: 'invalid-object-id' } });
  });
});
