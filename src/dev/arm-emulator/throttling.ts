/**
 * The two ways Azure refuses a caller that asks too often:
 * - ARM's token buckets (docs: "Understand how Azure Resource Manager throttles requests"): one bucket of
 *   reads and one of writes per subscription and principal, each refilled at a steady rate;
 * - Resource Graph's per-user quota (docs: "Guidance for throttled requests in Azure Resource Graph"):
 *   so many queries per window, reported in `x-ms-user-quota-remaining` and `x-ms-user-quota-resets-after`.
 * Both count the 429s they give and the requests that came back before the Retry-After they were given.
 */

export interface BucketSettings {
  capacity: number;
  refillPerSecond: number;
}

export interface QuotaSettings {
  queries: number;
  windowMs: number;
}

export type Admission = { admitted: true; remaining: number } | { admitted: false; remaining: number; retryAfterSeconds: number };

export interface ThrottleCounts {
  throttled: number;
  unhonoured: number;
}

/** Remembers, per caller and bucket, when the last 429 said to come back, and counts who did not wait. */
class RetryAfterLedger {
  readonly counts: ThrottleCounts = { throttled: 0, unhonoured: 0 };
  private readonly retryAt = new Map<string, number>();

  /** Called for every request before it is admitted or refused. */
  arrive(key: string, nowMs: number): void {
    const until = this.retryAt.get(key);
    if (until === undefined) return;
    if (nowMs < until) this.counts.unhonoured += 1;
    else this.retryAt.delete(key);
  }

  refuse(key: string, nowMs: number, retryAfterSeconds: number): void {
    this.counts.throttled += 1;
    this.retryAt.set(key, nowMs + retryAfterSeconds * 1000);
  }
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/** Token buckets keyed by whatever the caller chooses (ARM: principal, subscription and kind). */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly ledger = new RetryAfterLedger();

  constructor(private readonly settings: BucketSettings) {
    assertPositive(settings.capacity, 'capacity');
    assertPositive(settings.refillPerSecond, 'refillPerSecond');
  }

  get counts(): ThrottleCounts {
    return this.ledger.counts;
  }

  take(key: string, nowMs: number): Admission {
    this.ledger.arrive(key, nowMs);
    const bucket = this.buckets.get(key) ?? { tokens: this.settings.capacity, updatedMs: nowMs };
    const elapsedMs = Math.max(0, nowMs - bucket.updatedMs);
    bucket.tokens = Math.min(this.settings.capacity, bucket.tokens + (elapsedMs * this.settings.refillPerSecond) / 1000);
    bucket.updatedMs = nowMs;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { admitted: true, remaining: Math.floor(bucket.tokens) };
    }
    const retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / this.settings.refillPerSecond));
    this.ledger.refuse(key, nowMs, retryAfterSeconds);
    return { admitted: false, remaining: 0, retryAfterSeconds };
  }
}

interface Window {
  startMs: number;
  used: number;
}

export type QuotaAdmission = Admission & { resetsAfterMs: number };

/** A fixed window per caller: it opens with the caller's first query and closes `windowMs` later. */
export class QueryQuota {
  private readonly windows = new Map<string, Window>();
  private readonly ledger = new RetryAfterLedger();

  constructor(private readonly settings: QuotaSettings) {
    assertPositive(settings.queries, 'queries');
    assertPositive(settings.windowMs, 'windowMs');
  }

  get counts(): ThrottleCounts {
    return this.ledger.counts;
  }

  take(key: string, nowMs: number): QuotaAdmission {
    this.ledger.arrive(key, nowMs);
    let window = this.windows.get(key);
    if (!window || nowMs >= window.startMs + this.settings.windowMs) {
      window = { startMs: nowMs, used: 0 };
      this.windows.set(key, window);
    }
    const resetsAfterMs = window.startMs + this.settings.windowMs - nowMs;
    if (window.used < this.settings.queries) {
      window.used += 1;
      return { admitted: true, remaining: this.settings.queries - window.used, resetsAfterMs };
    }
    const retryAfterSeconds = Math.max(1, Math.ceil(resetsAfterMs / 1000));
    this.ledger.refuse(key, nowMs, retryAfterSeconds);
    return { admitted: false, remaining: 0, retryAfterSeconds, resetsAfterMs };
  }
}

/** `hh:mm:ss`, rounded up to the next whole second, as Resource Graph writes `x-ms-user-quota-resets-after`. */
export function formatResetsAfter(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(Math.floor(total / 3600))}:${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
}

function assertPositive(value: number, name: string): void {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${value}.`);
}

export interface ArmThrottlingSettings {
  reads?: BucketSettings;
  writes?: BucketSettings;
}

/** ARM's per-subscription budgets when a kind is not throttled: counted down, never refused. */
const UNTHROTTLED_BUDGET = { read: 12_000, write: 1_200 } as const;

export type RequestKind = 'read' | 'write';

/**
 * ARM's read and write budgets. A kind with bucket settings is enforced per principal and subscription;
 * a kind without them is only counted down per subscription, as the emulator always did.
 */
export class ArmBudgets {
  private readonly buckets: Partial<Record<RequestKind, TokenBuckets>>;
  private readonly counted = new Map<string, number>();

  constructor(settings: ArmThrottlingSettings | undefined) {
    this.buckets = {
      ...(settings?.reads ? { read: new TokenBuckets(settings.reads) } : {}),
      ...(settings?.writes ? { write: new TokenBuckets(settings.writes) } : {}),
    };
  }

  get counts(): ThrottleCounts {
    const all = [this.buckets.read?.counts, this.buckets.write?.counts];
    return {
      throttled: all.reduce((sum, c) => sum + (c?.throttled ?? 0), 0),
      unhonoured: all.reduce((sum, c) => sum + (c?.unhonoured ?? 0), 0),
    };
  }

  /** Charges one request; `retryAfterSeconds` is set when the bucket was empty. */
  charge(kind: RequestKind, principal: string, scope: string, nowMs: number): { headers: Record<string, string>; retryAfterSeconds?: number } {
    const buckets = this.buckets[kind];
    if (!buckets) return { headers: this.count(kind, scope) };
    const admission = buckets.take(`${principal.toLowerCase()}|${scope.toLowerCase()}`, nowMs);
    const headers = { [remainingHeader(kind)]: String(admission.remaining) };
    return admission.admitted ? { headers } : { headers, retryAfterSeconds: admission.retryAfterSeconds };
  }

  /** Counts a request that was not charged to a bucket (unthrottled kind, injected fault, no token). */
  count(kind: RequestKind, scope: string): Record<string, string> {
    if (this.buckets[kind]) return {};
    const key = `${kind}|${scope.toLowerCase()}`;
    const left = Math.max(0, (this.counted.get(key) ?? UNTHROTTLED_BUDGET[kind]) - 1);
    this.counted.set(key, left);
    return { [remainingHeader(kind)]: String(left) };
  }
}

function remainingHeader(kind: RequestKind): string {
  return kind === 'read' ? 'x-ms-ratelimit-remaining-subscription-reads' : 'x-ms-ratelimit-remaining-subscription-writes';
}
