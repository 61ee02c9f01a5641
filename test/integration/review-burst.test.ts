import type { IMessageActivityInput } from '@microsoft/teams.api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConversationPacer } from '../../src/adapters/teams/pacer.js';
import { createTeamsNotifier, type BotConnectorCalls } from '../../src/adapters/teams/teams-notifier.js';
import { DEMO_PEOPLE, DEMO_TEAMS } from '../../src/dev/demo-world.js';
import { startDevHost, type DevHost } from '../../src/dev/dev-host.js';
import { attachTeamsEmulator, type TeamsEmulator } from '../../src/dev/teams-emulator/index.js';
import { FakeClock, OTHER_SUB, harness, silentLog } from '../unit/fakes.js';

/**
 * A burst of 200 reviews against the Bot Connector emulator, which enforces Teams' per-conversation
 * limits (7/s, 60/30 s, 1800/h) on a virtual clock. The pacer is deliberately looser than Teams
 * (20/s), so the emulator answers 429s and the notifier has to honour Retry-After: every card must
 * still arrive exactly once, and each is audited when posted.
 */
describe('review burst through the paced notifier and the rate-limited Bot Connector emulator', () => {
  let host: DevHost;
  let teams: TeamsEmulator;
  const clock = new FakeClock();

  beforeAll(async () => {
    host = await startDevHost({ functions: [], port: 0, timers: false, log: () => {} });
    teams = attachTeamsEmulator(host, { people: DEMO_PEOPLE, team: DEMO_TEAMS, now: () => clock.now(), rateLimit: true });
  });
  afterAll(async () => {
    await teams?.close();
    await host?.close();
  });

  it('posts all 200 cards, retrying 429s, and audits each one', async () => {
    // Prepare
    let throttled = 0;
    const connector: BotConnectorCalls = {
      async send(conversationId: string, activity: IMessageActivityInput) {
        const response = await fetch(`${teams.serviceUrl}/v3/conversations/${encodeURIComponent(conversationId)}/activities`, {
          method: 'POST',
          headers: { authorization: 'Bearer test', 'content-type': 'application/json' },
          body: JSON.stringify(activity),
        });
        const body = (await response.json()) as { id?: string };
        if (response.status === 429) throttled += 1;
        if (!response.ok) {
          const headers = Object.fromEntries(response.headers.entries());
          throw Object.assign(new Error(`HTTP ${response.status}`), { response: { status: response.status, headers, data: body } });
        }
        return body.id!;
      },
      update: async () => {},
      reply: async () => {},
    };
    const pacer = new ConversationPacer({ limits: [{ count: 20, windowMs: 1_000 }], now: () => clock.now().getTime(), sleep: (ms) => clock.sleep(ms) });
    const notifier = createTeamsNotifier({ connector, pacer, log: silentLog, sleep: (ms) => clock.sleep(ms), now: () => clock.now(), retry: { maxAttempts: 10 } });
    const h = harness(
      {
        concurrency: 16,
        reviewDefaults: { conversation: DEMO_TEAMS.channelId, approvers: [DEMO_PEOPLE.approverAda.objectId], timeoutAction: 'leave-pending' },
      },
      notifier,
      { clickBudgetMs: 1_000, claimMs: 60 * 60_000 },
    );
    for (let i = 0; i < 200; i += 1) h.connections.add(`pe-burst.${i}`, OTHER_SUB);

    // Act
    await h.workflow.handleHint(h.hint);

    // Assess
    const posted = teams.messages(DEMO_TEAMS.channelId).filter((m) => m.card);
    expect(posted).toHaveLength(200);
    expect(throttled).toBeGreaterThan(0);
    const keys = posted.map((m) => JSON.stringify(m.card).match(/pe-burst\.\d+/)?.[0]);
    expect(new Set(keys).size).toBe(200);
    expect(h.audit.entries.filter((e) => e.outcome === 'posted')).toHaveLength(200);
    const records = [...h.approvals.rows.values()];
    expect(records.every((r) => r.value.card?.activityId)).toBe(true);
    // No second of virtual time ever held more than Teams allows.
    const perSecond = new Map<number, number>();
    for (const m of posted) {
      const second = Math.floor(new Date(m.timestamp).getTime() / 1000);
      perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
    }
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(7);
  });
});
