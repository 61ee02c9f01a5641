import { describe, expect, it } from 'vitest';
import { ConversationPacer, TEAMS_CONVERSATION_LIMITS, type RateLimit } from '../../src/adapters/teams/pacer.js';

/**
 * A virtual clock: `sleep` parks a timer, `settle` lets every ready promise run and then jumps
 * the clock to the next timer, until the awaited work is done. No real time passes.
 */
function virtualTime() {
  let clock = 0;
  const timers: Array<{ at: number; seq: number; resolve: () => void }> = [];
  let seq = 0;
  const flush = () => new Promise<void>((resolve) => setImmediate(resolve));
  return {
    now: () => clock,
    sleep: (ms: number) =>
      new Promise<void>((resolve) => {
        timers.push({ at: clock + Math.max(0, ms), seq: seq++, resolve });
      }),
    sleeps: () => seq,
    async settle<T>(work: Promise<T>): Promise<T> {
      let outcome: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
      work.then(
        (value) => void (outcome = { ok: true, value }),
        (error: unknown) => void (outcome = { ok: false, error }),
      );
      for (;;) {
        await flush();
        if (outcome?.ok === true) return outcome.value;
        if (outcome?.ok === false) throw outcome.error;
        if (timers.length === 0) throw new Error('work is stuck: nothing runs and no timer is pending');
        timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
        const next = timers.shift()!;
        clock = Math.max(clock, next.at);
        next.resolve();
      }
    },
  };
}

/** For each limit, the largest number of starts inside any window of that length. */
function busiestWindow(starts: readonly number[], windowMs: number): number {
  let most = 0;
  for (let i = 0; i < starts.length; i += 1) {
    let inWindow = 0;
    for (let j = i; j >= 0 && starts[j]! > starts[i]! - windowMs; j -= 1) inWindow += 1;
    most = Math.max(most, inWindow);
  }
  return most;
}

describe('ConversationPacer', () => {
  it('keeps 200 sends to one conversation inside every Teams window', async () => {
    // Prepare
    const time = virtualTime();
    const pacer = new ConversationPacer({ now: time.now, sleep: time.sleep });
    const starts: number[] = [];
    // Act
    const all = Promise.all(
      Array.from({ length: 200 }, () =>
        pacer.schedule('19:general@thread.tacv2', async () => {
          starts.push(time.now());
        }),
      ),
    );
    await time.settle(all);
    // Assess
    expect(starts).toHaveLength(200);
    for (const limit of TEAMS_CONVERSATION_LIMITS) {
      expect(busiestWindow(starts, limit.windowMs), `${limit.count} per ${limit.windowMs} ms`).toBeLessThanOrEqual(limit.count);
    }
    // Not slower than needed either: with 60 per 30 s the 181st send starts at 90 s.
    expect(starts[0]).toBe(0);
    expect(starts[6]).toBe(0);
    expect(starts[7]).toBe(1_000);
    expect(starts[60]).toBe(30_000);
    expect(starts[199]).toBeLessThan(100_000);
  });

  it('honours the hourly limit with small windows too', async () => {
    const time = virtualTime();
    const limits: RateLimit[] = [
      { count: 2, windowMs: 10 },
      { count: 5, windowMs: 1_000 },
    ];
    const pacer = new ConversationPacer({ limits, now: time.now, sleep: time.sleep });
    const starts: number[] = [];
    await time.settle(Promise.all(Array.from({ length: 23 }, () => pacer.schedule('c', async () => void starts.push(time.now())))));
    for (const limit of limits) expect(busiestWindow(starts, limit.windowMs)).toBeLessThanOrEqual(limit.count);
    expect(starts.slice(0, 6)).toEqual([0, 0, 10, 10, 20, 1_000]);
  });

  it('runs one conversation in the order scheduled, one call at a time', async () => {
    const time = virtualTime();
    const pacer = new ConversationPacer({ now: time.now, sleep: time.sleep });
    const events: string[] = [];
    const all = Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        pacer.schedule('conv', async () => {
          events.push(`start ${i}`);
          // Earlier calls take longer: a later call must still wait for them.
          await time.sleep(30 - i);
          events.push(`end ${i}`);
          return i;
        }),
      ),
    );
    const results = await time.settle(all);
    expect(results).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(events).toEqual(Array.from({ length: 30 }, (_, i) => [`start ${i}`, `end ${i}`]).flat());
  });

  it('keeps the queue moving after a failed call and reports the failure to its caller', async () => {
    const time = virtualTime();
    const pacer = new ConversationPacer({ now: time.now, sleep: time.sleep });
    const failing = pacer.schedule('conv', async () => {
      throw new Error('boom');
    });
    const next = pacer.schedule('conv', async () => 'next ran');
    await expect(time.settle(failing)).rejects.toThrow('boom');
    await expect(time.settle(next)).resolves.toBe('next ran');
  });

  it('does not let one busy conversation delay another', async () => {
    const time = virtualTime();
    const pacer = new ConversationPacer({ now: time.now, sleep: time.sleep });
    const busy: number[] = [];
    const quiet: number[] = [];
    const busyRun = Promise.all(Array.from({ length: 100 }, () => pacer.schedule('busy', async () => void busy.push(time.now()))));
    const quietRun = Promise.all(Array.from({ length: 7 }, () => pacer.schedule('quiet', async () => void quiet.push(time.now()))));
    await time.settle(Promise.all([busyRun, quietRun]));
    // The quiet conversation used its own 7-per-second budget at once, while the busy one was throttled.
    expect(quiet).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(busy[99]).toBeGreaterThanOrEqual(30_000);
  });

  it('counts retries made through pace() against the same windows', async () => {
    const time = virtualTime();
    const pacer = new ConversationPacer({ limits: [{ count: 2, windowMs: 1_000 }], now: time.now, sleep: time.sleep });
    const attempts: number[] = [];
    const run = pacer.schedule('conv', async (pace) => {
      attempts.push(time.now());
      for (let retry = 0; retry < 3; retry += 1) {
        await pace();
        attempts.push(time.now());
      }
    });
    await time.settle(run);
    expect(attempts).toEqual([0, 0, 1_000, 1_000]);
  });

  it('refuses limits that could never let anything through', () => {
    const time = virtualTime();
    expect(() => new ConversationPacer({ limits: [], now: time.now, sleep: time.sleep })).toThrow(RangeError);
    expect(() => new ConversationPacer({ limits: [{ count: 0, windowMs: 1 }], now: time.now, sleep: time.sleep })).toThrow(RangeError);
  });
});
