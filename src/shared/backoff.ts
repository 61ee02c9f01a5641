/**
 * Exponential backoff with jitter, so instances that were throttled together do not retry
 * together (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/).
 */

export interface BackoffSettings {
  /** The ceiling of the first retry; it doubles per retry. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** The ceiling before the `retry`-th retry (0 for the first): base · 2^retry, capped. */
export function backoffCeiling(retry: number, settings: BackoffSettings): number {
  return Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** retry);
}

/** Anywhere from 0 to the ceiling ("full jitter"): spreads retries the most. `random` is 0 ≤ x < 1. */
export function fullJitter(retry: number, settings: BackoffSettings, random: () => number): number {
  return Math.floor(random() * backoffCeiling(retry, settings));
}

/** Half the ceiling plus up to half again ("equal jitter"): never retries at once. `random` is 0 ≤ x < 1. */
export function equalJitter(retry: number, settings: BackoffSettings, random: () => number): number {
  const ceiling = backoffCeiling(retry, settings);
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
