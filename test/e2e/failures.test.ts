import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConnectionId } from '../../src/domain/resource-id.js';
import { DEMO, DEMO_PEOPLE, DEMO_TEAMS } from '../../src/dev/demo-world.js';
import type { LocalStack } from '../../src/dev/local-stack.js';
import { auditEntries, eventually, putsFor, startTestStack } from './helpers.js';

/**
 * A connection whose approval keeps failing, through the whole stack: a fault-injected ARM
 * emulator answers the PUTs with 500, the retry timer tries again at growing spacing (base
 * 1.5 s here), and after the last attempt the connection goes to the Teams channel.
 */
describe('never stranded: retries with growing spacing, then a person decides', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startTestStack({
      // No ARM-level retries, so that each attempt is one PUT and the count below is exact.
      env: { LINKGATE_MAX_ATTEMPTS: '3', LINKGATE_RETRY_BASE_SECONDS: '1.5', LINKGATE_ARM_MAX_RETRIES: '0' },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  /** An in-tenant request, which rule 'in-tenant' approves, with `failing` PUTs answered 500. */
  async function failingRequest(endpointName: string, failing: number) {
    stack.emulator!.injectFault({ method: 'PUT', pathIncludes: endpointName, status: 500, times: failing });
    const connection = await stack.emulator!.simulateRequest({
      vault: DEMO.vaultName,
      fromSubscription: DEMO.appSubscriptionId,
      endpointName,
      message: `${endpointName} please`,
      requesterObjectId: DEMO_PEOPLE.requesterRita.objectId,
    });
    const ref = parseConnectionId(connection.id);
    await eventually(async () => (putsFor(stack, ref.name).length > 0 ? true : undefined), 'the first attempt');
    return ref;
  }

  /** The minute timer, run every 100 ms of real time until `done`. */
  async function timerUntil<T>(done: () => Promise<T | undefined>, what: string): Promise<T> {
    return eventually(async () => {
      await stack.host.runTimer('reviews');
      return done();
    }, what, 20_000);
  }

  const status = (id: string) => stack.emulator!.getConnection(id)?.properties.privateLinkServiceConnectionState.status;

  it('a burst of duplicate hints spends no attempt; after the last one a card with the error is posted, a failed audit entry written, and an approver decides by hand', async () => {
    const ref = await failingRequest('pe-stranded', 3);
    // The request's events (validate and write) have arrived; redeliveries and sweeps follow at once,
    // before the next attempt is due.
    const { nextAttemptAt } = (await stack.services.approvals.get(ref))!.value;
    for (let i = 0; i < 3; i += 1) await stack.host.runTimer('sweep');
    expect(Date.now()).toBeLessThan(nextAttemptAt!.getTime());
    expect(putsFor(stack, ref.name)).toHaveLength(1);
    expect((await stack.services.approvals.get(ref))!.value).toMatchObject({ state: 'Failed', attempts: 1 });

    const card = await timerUntil(async () => stack.teams!.messages(DEMO_TEAMS.channelId).find((m) => JSON.stringify(m.card ?? '').includes('pe-stranded')), 'the card after the last attempt');
    expect(putsFor(stack, ref.name)).toHaveLength(3);
    const times = putsFor(stack, ref.name).map((call) => new Date(call.at).getTime());
    // Growing spacing: 1.5 s, then 3 s (the timer runs every 100 ms).
    const [first, second] = [times[1]! - times[0]!, times[2]! - times[1]!];
    expect(first).toBeGreaterThanOrEqual(1_500);
    expect(second).toBeGreaterThanOrEqual(3_000);
    const shown = JSON.stringify(card.card);
    expect(shown).toContain('Linkgate gave up after 3 attempts at setting the status to Approved');
    expect(shown).toContain('InternalServerError');
    const gaveUp = (await auditEntries(stack, { connection: ref.id, outcome: 'failed' })).filter((e) => /gave up after 3 attempts/.test(e.summary));
    expect(gaveUp).toHaveLength(1);
    expect(status(ref.id)).toBe('Pending');

    const answer = await stack.teams!.click({ activityId: card.id, objectId: DEMO_PEOPLE.approverAda.objectId, verb: 'approve', data: { approvalKey: ref.id, generation: 1, comment: 'checked by hand' } });
    expect(JSON.stringify(answer.body)).toContain('Approved by');
    expect(status(ref.id)).toBe('Approved');
    expect(putsFor(stack, ref.name)).toHaveLength(4);
  }, 40_000);

  it('a transient failure that recovers is approved exactly once, without a card', async () => {
    const ref = await failingRequest('pe-transient', 1);
    await timerUntil(async () => (status(ref.id) === 'Approved' ? true : undefined), 'the retried approval');
    await stack.host.runTimer('sweep');
    await stack.host.runTimer('reviews');
    expect(putsFor(stack, ref.name)).toHaveLength(2);
    const entries = await auditEntries(stack, { connection: ref.id });
    expect(entries.filter((e) => e.kind === 'result' && e.outcome === 'approved')).toHaveLength(1);
    expect(entries.filter((e) => /gave up/.test(e.summary))).toHaveLength(0);
    expect(stack.teams!.messages(DEMO_TEAMS.channelId).some((m) => JSON.stringify(m.card ?? '').includes('pe-transient'))).toBe(false);
  }, 30_000);
});
