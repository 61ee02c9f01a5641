/**
 * Review burst: N review cards (200; quick 20) into one Teams conversation, against Teams'
 * per-conversation limits for a bot (7 per second, 60 per 30 s, 1800 per hour).
 *
 * The hint and review use cases run over the in-memory fakes of the unit tests (test/unit/fakes.ts,
 * plain TypeScript), with the product's notifier and pacer as teams-bot.ts builds them: Teams'
 * documented limits (TEAMS_CONVERSATION_LIMITS) and the default retry settings. Cards go over HTTP
 * to the Bot Connector emulator, which enforces the same limits with 429 and Retry-After.
 *
 * Everything runs on a virtual clock (FakeClock): the pacer's waits, the notifier's Retry-After
 * waits and the emulator's windows all read it, and a wait moves it on at once. 200 cards take
 * 92 s of Teams' time at best; the virtual clock makes that a second of real time while keeping
 * every window exact. The floor is the earliest moment the N-th message can be accepted under the
 * emulator's windows, computed by placing each message at the first instant every window has room
 * (which is optimal for sliding windows).
 */
import type { IMessageActivityInput } from '@microsoft/teams.api';
import { performance } from 'node:perf_hooks';
import { ConversationPacer } from '../../src/adapters/teams/pacer.js';
import { createTeamsNotifier, type BotConnectorCalls } from '../../src/adapters/teams/teams-notifier.js';
import { DEMO_PEOPLE, DEMO_TEAMS } from '../../src/dev/demo-world.js';
import { startDevHost } from '../../src/dev/dev-host.js';
import { attachTeamsEmulator } from '../../src/dev/teams-emulator/index.js';
import { TEAMS_BOT_LIMITS, type RateWindow } from '../../src/dev/teams-emulator/rate-limit.js';
import { FakeClock, OTHER_SUB, harness } from '../../test/unit/fakes.js';
import { fmtMs, median, rssMiB, type BenchCheck, type BenchOptions, type BenchScenario, type ScenarioResult } from '../lib/report.js';

const FULL_CARDS = 200;
const QUICK_CARDS = 20;
const GOAL_RATIO = 1.2;

interface BurstRun {
  readonly cards: number;
  /** Virtual ms from the first send to the last accepted card. */
  readonly virtualMs: number;
  readonly realMs: number;
  readonly sends: number;
  readonly throttled: number;
  readonly posted: number;
  readonly distinct: number;
  readonly audited: number;
  readonly recordsWithCard: number;
  readonly maxPerSecond: number;
  readonly maxPer30s: number;
  readonly warnings: number;
}

export const scenario: BenchScenario = {
  name: 'review-burst',
  async run(options: BenchOptions): Promise<ScenarioResult> {
    const started = performance.now();
    const cards = options.quick ? QUICK_CARDS : FULL_CARDS;
    const floorMs = earliestLastSend(cards, TEAMS_BOT_LIMITS);
    const runs: BurstRun[] = [];
    for (let i = 0; i < options.runs; i += 1) {
      options.print(`review-burst: run ${i + 1}/${options.runs}, ${cards} cards into one conversation…`);
      runs.push(await burst(cards));
    }
    const virtualMs = median(runs.map((r) => r.virtualMs));
    const realMs = median(runs.map((r) => r.realMs));
    const throttled = Math.max(...runs.map((r) => r.throttled));
    const ratio = virtualMs / Math.max(floorMs, 1);
    const met = ratio <= GOAL_RATIO;

    const checks: BenchCheck[] = runs.flatMap((r, i) => [
      { what: `run ${i + 1}: ${r.posted} of ${cards} cards posted`, ok: r.posted === cards },
      { what: `run ${i + 1}: every card posted exactly once (${r.distinct} distinct connections)`, ok: r.distinct === cards && r.posted === cards },
      { what: `run ${i + 1}: every post audited (${r.audited} 'posted' entries)`, ok: r.audited === cards },
      { what: `run ${i + 1}: every review record holds its card (${r.recordsWithCard})`, ok: r.recordsWithCard === cards },
      { what: `run ${i + 1}: at most 7 accepted in any second (${r.maxPerSecond}) and 60 in any 30 s (${r.maxPer30s})`, ok: r.maxPerSecond <= 7 && r.maxPer30s <= 60 },
    ]);

    return {
      name: 'review-burst',
      title: `${cards} review cards into one Teams conversation (virtual clock)`,
      size: { cards, runs: options.runs, pacer: 'TEAMS_CONVERSATION_LIMITS (7/s, 60/30 s, 1800/h)', retry: 'DEFAULT_RETRY (4 attempts)' },
      rows: [
        {
          figure: 'last card accepted, virtual time from the first send (median)',
          value: fmtMs(virtualMs),
          baseline: `${fmtMs(floorMs)} floor`,
          ratio,
          goal: `≤ ${GOAL_RATIO.toFixed(2)}×`,
          met,
        },
        { figure: '429 answers from the Bot Connector (most in a run)', value: String(throttled), baseline: `${cards} cards` },
        { figure: 'cards posted exactly once and audited', value: `${Math.min(...runs.map((r) => Math.min(r.distinct, r.audited)))} of ${cards}`, baseline: '' },
        { figure: 'real time for the burst (median)', value: fmtMs(realMs), baseline: '' },
      ],
      checks,
      goals: [
        met
          ? { what: `review burst: last of ${cards} cards within ${GOAL_RATIO}× the floor of Teams' limits`, met: true }
          : {
              what: `review burst: last of ${cards} cards within ${GOAL_RATIO}× the floor of Teams' limits`,
              met: false,
              why: `${fmtMs(virtualMs)} against a floor of ${fmtMs(floorMs)} (${ratio.toFixed(2)}×), with ${throttled} 429 answers: each 429 costs its Retry-After (whole seconds) on top of the window's own wait.`,
            },
      ],
      figures: { cards, floorMs, virtualMs, realMs, goalRatio: GOAL_RATIO, limits: TEAMS_BOT_LIMITS, runs },
      rssMiB: rssMiB(),
      wallMs: performance.now() - started,
    };
  },
};

async function burst(cards: number): Promise<BurstRun> {
  const clock = new FakeClock();
  const host = await startDevHost({ functions: [], port: 0, timers: false, log: () => {} });
  const teams = attachTeamsEmulator(host, { people: DEMO_PEOPLE, team: DEMO_TEAMS, now: () => clock.now(), rateLimit: true });
  try {
    let sends = 0;
    let throttled = 0;
    let firstSendAt: number | undefined;
    // The Bot Connector call the Teams SDK makes, with a refusal shaped like the SDK's (axios) errors.
    const connector: BotConnectorCalls = {
      async send(conversationId: string, activity: IMessageActivityInput) {
        firstSendAt ??= clock.now().getTime();
        sends += 1;
        const response = await fetch(`${teams.serviceUrl}/v3/conversations/${encodeURIComponent(conversationId)}/activities`, {
          method: 'POST',
          headers: { authorization: 'Bearer bench', 'content-type': 'application/json' },
          body: JSON.stringify(activity),
        });
        const body = (await response.json()) as { id?: string };
        if (response.status === 429) throttled += 1;
        if (!response.ok || body.id === undefined) {
          const headers = Object.fromEntries(response.headers.entries());
          throw Object.assign(new Error(`HTTP ${response.status}`), { response: { status: response.status, headers, data: body } });
        }
        return body.id;
      },
      update: async () => {},
      reply: async () => {},
    };
    let warnings = 0;
    const log = { info: () => {}, warn: () => void (warnings += 1), error: () => {} };
    // As teams-bot.ts builds them, with the virtual clock in place of Date.now and setTimeout.
    const pacer = new ConversationPacer({ now: () => clock.now().getTime(), sleep: (ms) => clock.sleep(ms) });
    const notifier = createTeamsNotifier({ connector, pacer, log, sleep: (ms) => clock.sleep(ms), now: () => clock.now() });
    const h = harness(
      {
        concurrency: 16,
        reviewDefaults: { conversation: DEMO_TEAMS.channelId, approvers: [DEMO_PEOPLE.approverAda.objectId], timeoutAction: 'leave-pending' },
      },
      notifier,
      { clickBudgetMs: 1_000, claimMs: 60 * 60_000, log },
    );
    for (let i = 0; i < cards; i += 1) h.connections.add(`pe-burst.${i}`, OTHER_SUB);

    const started = performance.now();
    await h.workflow.handleHint(h.hint);
    const realMs = performance.now() - started;

    const posted = teams.messages(DEMO_TEAMS.channelId).filter((m) => m.card);
    const times = posted.map((m) => new Date(m.timestamp).getTime()).sort((a, b) => a - b);
    const keys = posted.map((m) => /pe-burst\.\d+/.exec(JSON.stringify(m.card))?.[0]);
    return {
      cards,
      virtualMs: times.length > 0 && firstSendAt !== undefined ? times[times.length - 1]! - firstSendAt : Number.NaN,
      realMs,
      sends,
      throttled,
      posted: posted.length,
      distinct: new Set(keys.filter((k) => k !== undefined)).size,
      audited: h.audit.entries.filter((e) => e.outcome === 'posted').length,
      recordsWithCard: [...h.approvals.rows.values()].filter((r) => r.value.card?.activityId).length,
      maxPerSecond: mostInWindow(times, 1_000),
      maxPer30s: mostInWindow(times, 30_000),
      warnings,
    };
  } finally {
    await teams.close();
    await host.close();
  }
}

/**
 * The earliest time (ms after the first) at which the n-th of n messages can be accepted when
 * every window allows at most `max` in any `seconds` (a message at t counts until t + window).
 */
export function earliestLastSend(n: number, windows: readonly RateWindow[]): number {
  const sent: number[] = [];
  let t = 0;
  for (let i = 0; i < n; i += 1) {
    for (;;) {
      let next = t;
      for (const w of windows) {
        const windowMs = w.seconds * 1000;
        const inWindow = sent.filter((s) => s > t - windowMs).length;
        if (inWindow >= w.max) next = Math.max(next, sent[sent.length - w.max]! + windowMs);
      }
      if (next === t) break;
      t = next;
    }
    sent.push(t);
  }
  return sent.length > 0 ? sent[sent.length - 1]! : 0;
}

/** The most timestamps (sorted) inside any window of `windowMs` (half-open, as the limiter counts). */
function mostInWindow(sorted: readonly number[], windowMs: number): number {
  let most = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end += 1) {
    while (sorted[start]! <= sorted[end]! - windowMs) start += 1;
    most = Math.max(most, end - start + 1);
  }
  return most;
}
