import type { IMessageActivityInput } from '@microsoft/teams.api';
import type { ReviewCardView, ReviewNotifier } from '../../app/review-ports.js';
import { PermanentDeliveryError, TeamsDeliveryError } from '../../domain/errors.js';
import { equalJitter } from '../../shared/backoff.js';
import { parseRetryAfter } from '../../shared/http.js';
import { oneLine } from '../../shared/text.js';
import { toMessageActivity } from './approval-card.js';
import type { ConversationPacer } from './pacer.js';

/**
 * Posts, updates and threads replies under approval cards, through the Bot Connector calls the
 * Teams SDK makes (teams-bot.ts supplies them).
 *
 * Every call waits for a slot in the conversation's pacer (pacer.ts), and a call Teams refuses
 * with a transient status is retried a bounded number of times, inside the same slot queue so
 * the conversation's order is kept:
 *   - 429: after Retry-After when the answer has one (capped), else with backoff;
 *   - 412, 502, 504: with exponential backoff and jitter.
 * Both are what Teams asks bots to do (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/rate-limit).
 * Other failures (403 bot not in the conversation, 404, network errors) are not retried here:
 * a POST that timed out may still have been delivered, and a retry would post the card twice.
 */

/** The three Bot Connector operations the notifier needs. */
export interface BotConnectorCalls {
  /** Posts a new activity; answers its ID. */
  send(conversationId: string, activity: IMessageActivityInput): Promise<string>;
  /** Replaces an activity the bot posted earlier. */
  update(conversationId: string, activityId: string, activity: IMessageActivityInput): Promise<void>;
  /** Posts into the thread under `activityId`. */
  reply(conversationId: string, activityId: string, activity: IMessageActivityInput): Promise<void>;
}

export interface RetrySettings {
  /** Attempts in all, the first one included. */
  readonly maxAttempts: number;
  /** Longest wait for one Retry-After (a longer one is shortened to this). */
  readonly maxRetryAfterMs: number;
  /** First backoff delay; doubles per attempt up to maxDelayMs. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetrySettings = Object.freeze({ maxAttempts: 4, maxRetryAfterMs: 60_000, baseDelayMs: 1_000, maxDelayMs: 16_000 });

export interface TeamsNotifierOptions {
  readonly connector: BotConnectorCalls;
  readonly pacer: ConversationPacer;
  readonly log: { warn(message: string): void };
  readonly retry?: Partial<RetrySettings>;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => Date;
  /** 0 ≤ x < 1, for jitter. */
  readonly random?: () => number;
}

/**
 * Teams gives the same answer again to these: the conversation or message does not exist, or the
 * bot may not post there. Callers stop retrying and tell someone (see ReviewNotifier).
 */
const PERMANENT = new Set([400, 401, 403, 404, 413]);

const RETRYABLE = new Set([412, 429, 502, 504]);

export function createTeamsNotifier(options: TeamsNotifierOptions): ReviewNotifier {
  const retry: RetrySettings = { ...DEFAULT_RETRY, ...options.retry };
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? (() => new Date());
  const random = options.random ?? Math.random;
  const { connector, pacer, log } = options;

  function call<T>(operation: 'post' | 'update' | 'reply', conversationId: string, fn: () => Promise<T>): Promise<T> {
    return pacer.schedule(paceKey(conversationId), async (pace) => {
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await fn();
        } catch (error) {
          const failure = describeHttpFailure(error);
          const retryable = failure.status !== undefined && RETRYABLE.has(failure.status);
          if (!retryable || attempt >= retry.maxAttempts) {
            const Failure = failure.status !== undefined && PERMANENT.has(failure.status) ? PermanentDeliveryError : TeamsDeliveryError;
            throw new Failure(
              `Teams ${operation} in conversation ${conversationId} failed after ${attempt} attempt(s): ${failure.text}`,
              operation,
              conversationId,
              failure.status,
              attempt,
              { cause: error },
            );
          }
          const waitMs = Math.min(
            retry.maxRetryAfterMs,
            (failure.status === 429 ? parseRetryAfter(failure.headers('retry-after'), () => now().getTime()) : undefined) ??
              equalJitter(attempt - 1, retry, random),
          );
          log.warn(`Teams ${operation} in conversation ${conversationId} answered ${failure.text}; retry ${attempt} of ${retry.maxAttempts - 1} in ${waitMs} ms`);
          await sleep(waitMs);
          await pace();
        }
      }
    });
  }

  return {
    async post(conversationId: string, view: ReviewCardView) {
      const activityId = await call('post', conversationId, () => connector.send(conversationId, outbound(view)));
      return { activityId };
    },
    async update(conversationId: string, activityId: string, view: ReviewCardView) {
      await call('update', conversationId, () => connector.update(conversationId, activityId, outbound(view)));
    },
    async reply(conversationId: string, activityId: string, text: string) {
      await call('reply', conversationId, () => connector.reply(conversationId, activityId, { type: 'message', text }));
    },
    async announce(conversationId: string, text: string) {
      await call('post', conversationId, () => connector.send(conversationId, { type: 'message', text }));
    },
  };
}

/** The card message as the SDK's outbound activity type (a fresh, mutable copy per call). */
function outbound(view: ReviewCardView): IMessageActivityInput {
  const activity = toMessageActivity(view);
  return { ...activity, attachments: activity.attachments.map((attachment) => ({ ...attachment })) };
}

/**
 * Replies in a channel thread use `conversationId;messageid=…`; they count against the same
 * conversation as the card itself, so they share its pacing queue.
 */
function paceKey(conversationId: string): string {
  return conversationId.split(';')[0] ?? conversationId;
}

interface HttpFailure {
  readonly status: number | undefined;
  readonly headers: (name: string) => string | undefined;
  readonly text: string;
}

/**
 * The Teams SDK's HTTP client is axios: a refused call rejects with an AxiosError whose
 * `response` holds `status`, `headers` (an AxiosHeaders object with lower-case names, from
 * Node's parser) and the parsed body (`{ error: { code, message } }` from the Bot Connector).
 * Read structurally so no axios import is needed.
 */
export function describeHttpFailure(error: unknown): HttpFailure {
  const response = (error as { response?: { status?: unknown; headers?: unknown; data?: unknown } } | undefined)?.response;
  const status = typeof response?.status === 'number' ? response.status : undefined;
  const rawHeaders = response?.headers as { get?: (name: string) => unknown; [name: string]: unknown } | undefined;
  const headers = (name: string): string | undefined => {
    const value = typeof rawHeaders?.get === 'function' ? rawHeaders.get(name) : rawHeaders?.[name.toLowerCase()];
    return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
  };
  const body = response?.data as { error?: { code?: unknown; message?: unknown } } | undefined;
  const detail = [body?.error?.code, body?.error?.message].filter((part) => typeof part === 'string' && part).join(': ');
  const text =
    status !== undefined ? `HTTP ${status}${detail ? ` (${clip(detail)})` : ''}` : clip(error instanceof Error ? error.message : String(error));
  return { status, headers, text };
}

function clip(text: string): string {
  return oneLine(text, 300);
}
