/**
 * Sliding-window rate limits like the Teams Bot Connector's "per bot per thread" limits
 * (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit): a request is
 * allowed only while every window still has room. Refused requests are not counted, as a 429
 * from Teams does not use up quota either.
 */

export interface RateWindow {
  readonly seconds: number;
  readonly max: number;
}

/** 7 per second, 60 per 30 seconds, 1800 per hour, per bot per conversation. */
export const TEAMS_BOT_LIMITS: readonly RateWindow[] = [
  { seconds: 1, max: 7 },
  { seconds: 30, max: 60 },
  { seconds: 3600, max: 1800 },
];

export type RateDecision = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

export class SlidingWindowLimiter {
  private readonly hits = new Map<string, number[]>();
  private readonly longestMs: number;

  constructor(
    private readonly windows: readonly RateWindow[],
    private readonly nowMs: () => number,
  ) {
    this.longestMs = Math.max(0, ...windows.map((w) => w.seconds * 1000));
  }

  /** Counts the request when it fits every window; otherwise says how long to wait (whole seconds, at least 1). */
  take(key: string): RateDecision {
    const now = this.nowMs();
    // Ascending by time; anything older than the longest window can never matter again.
    const hits = (this.hits.get(key) ?? []).filter((t) => t > now - this.longestMs);
    let waitMs = 0;
    for (const window of this.windows) {
      const windowMs = window.seconds * 1000;
      const inWindow = hits.filter((t) => t > now - windowMs);
      if (inWindow.length < window.max) continue;
      // Room opens once enough of the oldest hits in this window have aged out.
      const freeing = inWindow[inWindow.length - window.max] as number;
      waitMs = Math.max(waitMs, freeing + windowMs - now);
    }
    if (waitMs > 0) {
      this.hits.set(key, hits);
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
    }
    hits.push(now);
    this.hits.set(key, hits);
    return { ok: true };
  }
}
