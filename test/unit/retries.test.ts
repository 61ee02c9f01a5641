import { describe, expect, it } from 'vitest';
import { retryDue } from '../../src/app/retries.js';
import { retryDelayMs } from '../../src/app/steps.js';
import { harness, HOME_SUB, OTHER_SUB, reviewHarness, APPROVER_ADA, REQUESTER } from './fakes.js';

/** Every PUT Linkgate attempts, with the fake clock's time; `failing` of them throw as ARM would after its own retries. */
function countPuts(h: ReturnType<typeof harness>, failing: number) {
  const attempts: Date[] = [];
  h.connections.beforePut = () => {
    attempts.push(h.clock.now());
    if (attempts.length <= failing) throw new Error('ARM answered 503 Service Unavailable after retries');
    return undefined;
  };
  return attempts;
}

/** Runs the minute timer's retry pass every 10 s of fake time for `ms`. */
async function runTimerFor(h: ReturnType<typeof harness>, ms: number) {
  for (let waited = 0; waited < ms; waited += 10_000) {
    h.clock.advance(10_000);
    await retryDue({ workflow: h.workflow, approvals: h.approvals, clock: h.clock, log: h.log, settings: h.settings });
  }
}

describe('retries: failed connections are retried with growing spacing, then go to a person', () => {
  it('spaces attempts base, 2×base, 4×base …, capped at an hour', () => {
    const settings = { retryBaseMs: 30_000 };
    expect([1, 2, 3, 4].map((failures) => retryDelayMs(settings, failures))).toEqual([30_000, 60_000, 120_000, 240_000]);
    expect(retryDelayMs(settings, 30)).toBe(3_600_000);
  });

  it('a burst of duplicate hints after a failure spends no attempt', async () => {
    // Prepare
    const h = harness({ maxAttempts: 5 });
    const ref = h.connections.add('pe-app.1', HOME_SUB);
    const attempts = countPuts(h, 100);
    await expect(h.workflow.handleHint(h.hint)).rejects.toThrow(/503/);
    // Act: Event Grid redelivers and ARM raises more events, all within a second.
    const outcomes = [];
    for (let i = 0; i < 5; i += 1) {
      h.clock.advance(80);
      outcomes.push(...(await h.workflow.handleHint({ ...h.hint, eventId: `dup-${i}` })).outcomes.map((o) => o.outcome));
      outcomes.push(...(await h.workflow.handleHint({ resource: h.hint.resource, source: 'sweep' })).outcomes.map((o) => o.outcome));
    }
    // Assess
    expect(attempts).toHaveLength(1);
    expect(new Set(outcomes)).toEqual(new Set(['retry-scheduled']));
    expect((await h.approvals.get(ref))?.value).toMatchObject({ state: 'Failed', attempts: 1, nextAttemptAt: new Date(attempts[0]!.getTime() + 30_000) });
  });

  it('with a fake clock the retry timer makes each attempt at growing spacing', async () => {
    const h = harness({ maxAttempts: 4 });
    h.connections.add('pe-app.1', HOME_SUB);
    const attempts = countPuts(h, 100);
    await expect(h.workflow.handleHint(h.hint)).rejects.toThrow(/503/);
    await runTimerFor(h, 10 * 60_000);
    expect(attempts).toHaveLength(4);
    const gaps = attempts.slice(1).map((at, i) => at.getTime() - attempts[i]!.getTime());
    expect(gaps).toEqual([30_000, 60_000, 120_000]);
  });

  it('a transient failure that recovers approves exactly once, with no give-up', async () => {
    const h = harness({ maxAttempts: 5 });
    const ref = h.connections.add('pe-app.1', HOME_SUB);
    const attempts = countPuts(h, 2);
    await expect(h.workflow.handleHint(h.hint)).rejects.toThrow(/503/);
    await runTimerFor(h, 5 * 60_000);
    expect(attempts).toHaveLength(3);
    expect(h.connections.puts).toHaveLength(1);
    expect(h.connections.connections.get(ref.key)?.status).toBe('Approved');
    expect((await h.approvals.get(ref))?.value.state).toBe('Approved');
    expect(h.audit.entries.filter((e) => e.outcome === 'failed')).toHaveLength(2);
    expect(h.audit.entries.some((e) => /gave up/.test(e.summary))).toBe(false);
  });

  it('after the last attempt the connection goes to the review channel with the error, and an approver decides it by hand', async () => {
    // Prepare: an in-tenant request that the rule approves, but every PUT fails.
    const h = reviewHarness({ maxAttempts: 3 });
    const ref = h.connections.add('pe-app.1', HOME_SUB);
    let failing = true;
    h.connections.beforePut = () => {
      if (failing) throw new Error('ARM answered 500 InternalServerError after retries');
      return undefined;
    };
    // Act
    await expect(h.workflow.handleHint(h.hint)).rejects.toThrow(/500/);
    await runTimerFor(h, 5 * 60_000);
    // Assess: a card with what failed, how often and the last error; an audit entry that says so.
    const record = (await h.approvals.get(ref))!.value;
    expect(record).toMatchObject({ state: 'AwaitingReview', attempts: 0, failure: { during: 'setting the status to Approved', attempts: 3 } });
    expect(record.failure?.error).toMatch(/500 InternalServerError/);
    expect(h.notifier.posts).toHaveLength(1);
    expect(h.notifier.posts[0]?.view.model.failure).toMatchObject({ attempts: 3, during: 'setting the status to Approved' });
    const gaveUp = h.audit.entries.filter((e) => e.outcome === 'failed' && /gave up after 3 attempts/.test(e.summary));
    expect(gaveUp).toHaveLength(1);
    expect(gaveUp[0]?.summary).toMatch(/Sent to review in Teams conversation 19:approvals@thread.tacv2/);
    // The requester of an in-tenant rule approval is not known: two different people must approve.
    failing = false;
    expect((await h.reviews.handleCardAction({ verb: 'approve', approvalKey: ref.id, generation: 1, user: APPROVER_ADA })).outcome).toBe('recorded');
    expect((await h.reviews.handleCardAction({ verb: 'approve', approvalKey: ref.id, generation: 1, user: REQUESTER })).outcome).toBe('decided');
    expect(h.connections.connections.get(ref.key)?.status).toBe('Approved');
    expect(h.connections.puts).toHaveLength(1);
  });

  it('a person’s decision that fails again is retried, and goes back to the card with the new error', async () => {
    const h = reviewHarness({ maxAttempts: 2 });
    const ref = h.connections.add('pe-ext.1', OTHER_SUB);
    await h.workflow.handleHint({ ...h.hint, operationName: 'Microsoft.KeyVault/vaults/privateEndpointConnectionProxies/write', callerObjectId: REQUESTER.id });
    h.connections.beforePut = () => {
      throw new Error('ARM answered 503 after retries');
    };
    await h.reviews.handleCardAction({ verb: 'approve', approvalKey: ref.id, generation: 1, user: APPROVER_ADA });
    expect((await h.approvals.get(ref))?.value).toMatchObject({ state: 'Failed', attempts: 1 });
    await runTimerFor(h, 2 * 60_000);
    const record = (await h.approvals.get(ref))!.value;
    expect(record).toMatchObject({ state: 'AwaitingReview', failure: { attempts: 2 } });
    // The card it already had is updated to show the failure, not posted again.
    expect(h.notifier.posts).toHaveLength(1);
    expect(h.notifier.lastViewOf('act-1')).toMatchObject({ status: { state: 'awaiting' }, model: { failure: { attempts: 2 } } });
  });

  it('without a review conversation, giving up is logged as an error and audited, and the record stays Failed', async () => {
    const errors: string[] = [];
    const h = harness({ maxAttempts: 2 }, undefined, { log: { info: () => {}, warn: () => {}, error: (message: string) => void errors.push(message) } });
    const ref = h.connections.add('pe-app.1', HOME_SUB);
    countPuts(h, 100);
    await expect(h.workflow.handleHint(h.hint)).rejects.toThrow(/503/);
    h.clock.advance(h.settings.retryBaseMs);
    await expect(h.workflow.handleHint(h.hint)).rejects.toThrow(/503/);
    expect((await h.approvals.get(ref))?.value).toMatchObject({ state: 'Failed', attempts: 2 });
    const gaveUp = h.audit.entries.filter((e) => e.outcome === 'failed' && /gave up/.test(e.summary));
    expect(gaveUp).toHaveLength(1);
    expect(gaveUp[0]?.summary).toMatch(/No review conversation is configured: decide the connection in the portal/);
    expect(errors.some((line) => /gave up after 2 attempts.*No review conversation is configured/.test(line))).toBe(true);
    // Nothing more is tried by itself.
    h.clock.advance(24 * 3_600_000);
    expect((await retryDue({ workflow: h.workflow, approvals: h.approvals, clock: h.clock, log: h.log, settings: h.settings })).resources).toBe(0);
  });
});
