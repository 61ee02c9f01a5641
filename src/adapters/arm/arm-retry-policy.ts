import { RestError, type PipelinePolicy, type PipelineRequest } from '@azure/core-rest-pipeline';
import { fullJitter } from '../../shared/backoff.js';
import { parseRetryAfter } from '../../shared/http.js';

type AbortSignalLike = NonNullable<PipelineRequest['abortSignal']>;

export interface ArmRetryOptions {
  /** Retries after the first attempt. */
  readonly maxRetries: number;
  /** Base of the exponential backoff for 5xx and network errors. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /**
   * A Retry-After longer than this is not waited out inside a request: the error goes back
   * to the caller, whose trigger fails and is redelivered later (Event Grid retries at about
   * 10 s, 30 s, 1 min, ...). An Event Grid delivery must be answered within 30 s.
   */
  readonly maxRetryAfterMs: number;
  readonly sleep?: (ms: number, signal?: AbortSignalLike) => Promise<void>;
  readonly random?: () => number;
}

export const ARM_RETRY_POLICY_NAME = 'linkgateArmRetryPolicy';

/** 5xx worth retrying. 501 and 505 will not change on a retry. */
const RETRYABLE_STATUS = new Set([500, 502, 503, 504]);

/**
 * ARM throttles with 429 + Retry-After (a token bucket per principal and operation type:
 * docs "request-limits-and-throttling"); 5xx are transient. This policy replaces the SDK's
 * default retry (configured with maxRetries 0) so that both are explicit and bounded:
 * 429 honours Retry-After up to `maxRetryAfterMs`; 5xx and network errors back off with
 * full jitter. Every ARM call Linkgate makes is a GET or an idempotent PUT, so a retry is safe.
 */
export function armRetryPolicy(options: ArmRetryOptions): PipelinePolicy {
  const sleep = options.sleep ?? abortableSleep;
  const random = options.random ?? Math.random;
  return {
    name: ARM_RETRY_POLICY_NAME,
    async sendRequest(request, next) {
      for (let attempt = 0; ; attempt += 1) {
        try {
          const response = await next(request);
          const delay = retryDelay(response.status, response.headers.get('retry-after'), attempt);
          if (delay === undefined || attempt >= options.maxRetries) return response;
          await sleep(delay, request.abortSignal);
        } catch (error) {
          if (!isTransientNetworkError(error) || attempt >= options.maxRetries) throw error;
          await sleep(backoff(attempt), request.abortSignal);
        }
      }
    },
  };

  function retryDelay(status: number, retryAfter: string | undefined, attempt: number): number | undefined {
    const hinted = parseRetryAfter(retryAfter);
    if (status === 429) {
      const wait = hinted ?? backoff(attempt);
      return wait <= options.maxRetryAfterMs ? wait : undefined;
    }
    if (RETRYABLE_STATUS.has(status)) {
      if (hinted !== undefined) return hinted <= options.maxRetryAfterMs ? hinted : undefined;
      return backoff(attempt);
    }
    return undefined;
  }

  function backoff(attempt: number): number {
    return fullJitter(attempt, options, random);
  }
}

/** Waits, unless the request's caller gives up first (a click's deadline, say). */
function abortableSleep(ms: number, signal?: AbortSignalLike): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new RestError('The request was aborted', { code: 'REQUEST_ABORTED' }));
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(new RestError('The request was aborted', { code: 'REQUEST_ABORTED' }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function isTransientNetworkError(error: unknown): boolean {
  if (!(error instanceof RestError)) return false;
  if (error.statusCode !== undefined) return false;
  return ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'REQUEST_SEND_ERROR'].includes(error.code ?? '');
}
