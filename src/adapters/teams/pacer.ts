/**
 * Paces outbound Bot Connector calls per Teams conversation.
 *
 * Teams limits what one bot may send into one conversation ("per bot per thread"): 7 operations
 * per second, 60 per 30 seconds and 1800 per hour, and answers 429 beyond that
 * (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit). Staying under the
 * limits is cheaper than being throttled, so every call for a conversation waits here for a slot
 * in each sliding window before it starts.
 *
 * Calls for one conversation run one at a time, in the order they were scheduled (a card update
 * must not overtake the post it updates); different conversations never wait for each other.
 * Work that retries gets `pace` and calls it before each further attempt, so retries are counted
 * too without losing their place in the queue.
 *
 * The limits are per process: several Function instances each pace on their own, and the retry
 * of 429s in the notifier covers what they add up to.
 */

export interface RateLimit {
  /** At most this many operations... */
  readonly count: number;
  /** ...in any window of this many milliseconds. */
  readonly windowMs: number;
}

/** Teams' documented per-conversation limits for a bot. */
export const TEAMS_CONVERSATION_LIMITS: readonly RateLimit[] = Object.freeze([
  { count: 7, windowMs: 1_000 },
  { count: 60, windowMs: 30_000 },
  { count: 1800, windowMs: 3_600_000 },
]);

export interface ConversationPacerOptions {
  readonly limits?: readonly RateLimit[];
  /** Milliseconds, monotonic enough for windows (Date.now in production). */
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

/** Waits for a free slot in every window and takes it. */
export type Pace = () => Promise<void>;

interface ConversationState {
  /** Start times of operations inside the longest window, oldest first. */
  readonly starts: number[];
  /** Settles when everything scheduled so far for this conversation has finished. */
  tail: Promise<void>;
  pending: number;
}

export class ConversationPacer {
  private readonly limits: readonly RateLimit[];
  private readonly longestWindowMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly conversations = new Map<string, ConversationState>();

  constructor(opts: ConversationPacerOptions) {
    const limits = opts.limits ?? TEAMS_CONVERSATION_LIMITS;
    if (limits.length === 0) throw new RangeError('ConversationPacer needs at least one limit');
    for (const limit of limits) {
      if (!Number.isInteger(limit.count) || limit.count < 1 || !(limit.windowMs > 0)) {
        throw new RangeError(`Invalid rate limit ${limit.count} per ${limit.windowMs} ms`);
      }
    }
    this.limits = limits;
    this.longestWindowMs = Math.max(...limits.map((limit) => limit.windowMs));
    this.now = opts.now;
    this.sleep = opts.sleep;
  }

  /**
   * Runs `work` once every earlier call for this conversation has finished and a slot is free.
   * The slot for the first attempt is taken before `work` starts; `work` calls `pace()` before
   * any further attempt it makes.
   */
  schedule<T>(conversationId: string, work: (pace: Pace) => Promise<T>): Promise<T> {
    this.forgetIdle();
    let state = this.conversations.get(conversationId);
    if (state === undefined) {
      state = { starts: [], tail: Promise.resolve(), pending: 0 };
      this.conversations.set(conversationId, state);
    }
    const current = state;
    const pace: Pace = () => this.takeSlot(current);
    current.pending += 1;
    const run = current.tail.then(async () => {
      await pace();
      return work(pace);
    });
    const settled = (): void => {
      current.pending -= 1;
    };
    // The queue moves on whether this call succeeded or not; the caller sees the outcome through `run`.
    current.tail = run.then(settled, settled);
    return run;
  }

  private async takeSlot(state: ConversationState): Promise<void> {
    for (;;) {
      const now = this.now();
      const starts = state.starts;
      while (starts.length > 0 && (starts[0] as number) <= now - this.longestWindowMs) starts.shift();
      let waitMs = 0;
      for (const limit of this.limits) {
        // Operations still inside this window: those that started after now - windowMs.
        let inWindow = 0;
        for (let i = starts.length - 1; i >= 0 && (starts[i] as number) > now - limit.windowMs; i -= 1) inWindow += 1;
        if (inWindow >= limit.count) {
          // The oldest of the last `count` starts must leave the window before another may begin.
          const oldest = starts[starts.length - limit.count] as number;
          waitMs = Math.max(waitMs, oldest + limit.windowMs - now);
        }
      }
      if (waitMs <= 0) {
        starts.push(now);
        return;
      }
      await this.sleep(waitMs);
    }
  }

  /** Drops conversations with nothing queued whose history has left every window. */
  private forgetIdle(): void {
    const now = this.now();
    for (const [id, state] of this.conversations) {
      const last = state.starts[state.starts.length - 1];
      if (state.pending === 0 && (last === undefined || last <= now - this.longestWindowMs)) this.conversations.delete(id);
    }
  }
}
