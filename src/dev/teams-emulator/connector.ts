/**
 * The part of the Bot Framework v3 Connector REST API (Teams' "smba" service) that a bot uses to
 * post proactively, kept in memory: the bot's `SERVICE_URL` points here in dev.
 *
 * Served below the service URL:
 * - `POST /v3/conversations/{conversationId}/activities` creates a message. A conversation ID with
 *   `;messageid=X` (what `App.reply` in @microsoft/teams.apps builds) posts a reply in the thread of X.
 *   A `replyToId` in the body alone does not thread: Teams channels thread by conversation ID or by
 *   the reply URL, so such a message lands top-level there too.
 * - `POST /v3/conversations/{conversationId}/activities/{activityId}` replies to activityId.
 * - `PUT /v3/conversations/{conversationId}/activities/{activityId}` replaces a message; every
 *   version is kept.
 * - `DELETE /v3/conversations/{conversationId}/activities/{activityId}` marks it deleted.
 *
 * Like Teams: a bearer token is required (any value: tokens are not validated here), message IDs are
 * numeric strings (the SDK's thread helper insists on it), writes are rate limited per conversation
 * (see rate-limit.ts) with 429 and Retry-After, a message over 28 KB is refused, and errors carry the
 * Bot Framework `{ error: { code, message } }` body. Targeted (`isTargetedActivity`) messages and the
 * member APIs are not emulated and answer 501 rather than pretending.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SlidingWindowLimiter, TEAMS_BOT_LIMITS } from './rate-limit.js';
import { sendJson } from '../dev-host.js';

export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';
/** Teams refuses messages above roughly 28 KB (text, cards and all). */
export const MAX_MESSAGE_BYTES = 28 * 1024;

export interface EmulatedAttachment {
  readonly contentType: string;
  readonly content?: unknown;
  readonly contentUrl?: string;
  readonly name?: string;
}

export interface EmulatedAccount {
  readonly id: string;
  readonly name?: string;
  readonly role?: string;
  readonly aadObjectId?: string;
}

/** One version of a message: what a post or an update carried. */
export interface EmulatedVersion {
  readonly at: string;
  readonly text?: string;
  readonly attachments: readonly EmulatedAttachment[];
}

export interface EmulatedMessage {
  /** Numeric, like Teams message IDs (epoch milliseconds, kept unique). */
  readonly id: string;
  /** The channel or chat, without any `;messageid=` suffix. */
  readonly conversationId: string;
  /** For a reply: the ID of the thread's root message. */
  readonly replyToId?: string;
  readonly from: EmulatedAccount;
  readonly timestamp: string;
  readonly lastModified?: string;
  readonly text?: string;
  readonly attachments: readonly EmulatedAttachment[];
  /** The first Adaptive Card attachment's JSON, for convenience. */
  readonly card?: unknown;
  readonly deleted: boolean;
  /** Every version in order: the original post first, the current content last. */
  readonly history: readonly EmulatedVersion[];
  readonly replies: readonly EmulatedMessage[];
  /** The activity body of the latest post or update, as the bot sent it. */
  readonly activity: Record<string, unknown>;
}

export interface ConnectorChange {
  readonly kind: 'posted' | 'replied' | 'updated' | 'deleted';
  readonly conversationId: string;
  readonly messageId: string;
  /** The thread root: the message itself unless it is a reply. */
  readonly rootId: string;
}

interface StoredMessage {
  id: string;
  conversationId: string;
  replyToId: string | undefined;
  from: EmulatedAccount;
  timestamp: string;
  lastModified: string | undefined;
  deleted: boolean;
  history: EmulatedVersion[];
  replies: StoredMessage[];
  activity: Record<string, unknown>;
}

interface StoredConversation {
  readonly id: string;
  readonly name: string | undefined;
  readonly messages: StoredMessage[];
}

/** A conversation the connector knows: a channel (a team's General channel among them) or a chat. */
export interface EmulatedConversation {
  readonly id: string;
  readonly name?: string;
}

export interface ConnectorOptions {
  /** Conversations that exist (a channel, a team's General channel); anything else is 404. */
  readonly conversations: readonly EmulatedConversation[];
  readonly defaultFrom: EmulatedAccount;
  readonly now: () => Date;
  readonly rateLimit: boolean;
  readonly onChange: (change: ConnectorChange) => void;
}

class ConnectorError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export class ConnectorEmulator {
  private readonly conversations = new Map<string, StoredConversation>();
  private readonly limiter: SlidingWindowLimiter;
  private lastId = 0;

  constructor(private readonly opts: ConnectorOptions) {
    for (const { id, name } of opts.conversations) this.conversations.set(id.toLowerCase(), { id, name, messages: [] });
    this.limiter = new SlidingWindowLimiter(TEAMS_BOT_LIMITS, () => opts.now().getTime());
  }

  /** The conversations that exist here, in the order they were given. */
  knownConversations(): EmulatedConversation[] {
    return [...this.conversations.values()].map(({ id, name }) => (name === undefined ? { id } : { id, name }));
  }

  /** Messages of one conversation (default: all), oldest first, replies nested; copies. */
  messages(conversationId?: string): EmulatedMessage[] {
    const conversations =
      conversationId === undefined
        ? [...this.conversations.values()]
        : [this.conversations.get(baseConversationId(conversationId).toLowerCase())].filter((c) => c !== undefined);
    return conversations.flatMap((c) => c.messages.map((m) => snapshot(m)));
  }

  /** The stored message (root or reply) with this ID, and its thread root. */
  find(activityId: string): { message: EmulatedMessage; rootId: string } | undefined {
    for (const conversation of this.conversations.values()) {
      const hit = findIn(conversation, activityId);
      if (hit) return { message: snapshot(hit.message), rootId: hit.root.id };
    }
    return undefined;
  }

  /** Serves one request; `path` is the request path below the service URL, query included. */
  handle(req: IncomingMessage, res: ServerResponse, path: string, body: Buffer): void {
    try {
      const result = this.route(req, path, body);
      sendJson(res, result.status, result.body);
    } catch (error) {
      if (error instanceof ConnectorError) {
        sendJson(res, error.status, { error: { code: error.code, message: error.message } }, error.headers);
        return;
      }
      throw error;
    }
  }

  private route(req: IncomingMessage, path: string, body: Buffer): { status: number; body: unknown } {
    const method = (req.method ?? 'GET').toUpperCase();
    const authorization = req.headers.authorization ?? '';
    if (!/^Bearer\s+\S+/i.test(authorization)) {
      throw new ConnectorError(401, 'Unauthorized', 'Authorization has been denied for this request.', {
        'WWW-Authenticate': 'Bearer',
      });
    }
    const url = new URL(path, 'http://connector');
    const segments = splitPath(url.pathname);
    if (segments === undefined) throw new ConnectorError(400, 'BadArgument', 'Malformed percent-encoding in the path');
    // v3/conversations/{conversationId}/activities[/{activityId}[/members]]
    const [v3, conversations, rawConversationId, activities, activityId, extra] = segments;
    if (v3 !== 'v3' || conversations !== 'conversations' || rawConversationId === undefined) {
      throw new ConnectorError(501, 'NotImplemented', `${method} ${url.pathname} is not emulated`);
    }
    if (activities !== 'activities' || extra !== undefined || segments.length > 5) {
      throw new ConnectorError(501, 'NotImplemented', `${method} ${url.pathname} is not emulated`);
    }
    if (url.searchParams.get('isTargetedActivity') === 'true') {
      throw new ConnectorError(501, 'NotImplemented', 'Targeted messages are not emulated');
    }
    const conversation = this.conversations.get(baseConversationId(rawConversationId).toLowerCase());
    if (!conversation) {
      throw new ConnectorError(404, 'ConversationNotFound', `Conversation ${rawConversationId} not found`);
    }

    if (method === 'POST' && activityId === undefined) {
      const threadId = threadMessageId(rawConversationId);
      const root = threadId === undefined ? undefined : this.rootOf(conversation, threadId);
      const activity = this.admit(conversation, body);
      return { status: 201, body: { id: this.post(conversation, activity, root) } };
    }
    if (activityId === undefined) {
      throw new ConnectorError(405, 'MethodNotAllowed', `${method} is not allowed on ${url.pathname}`);
    }
    const target = findIn(conversation, activityId);
    if (!target) throw new ConnectorError(404, 'ActivityNotFound', `Activity ${activityId} not found in ${conversation.id}`);
    switch (method) {
      case 'POST': {
        const activity = this.admit(conversation, body);
        return { status: 201, body: { id: this.post(conversation, activity, target.root) } };
      }
      case 'PUT': {
        const activity = this.admit(conversation, body);
        this.update(conversation, target.message, target.root, activity);
        return { status: 200, body: { id: target.message.id } };
      }
      case 'DELETE': {
        this.rateLimit(conversation);
        target.message.deleted = true;
        target.message.lastModified = this.opts.now().toISOString();
        this.opts.onChange({ kind: 'deleted', conversationId: conversation.id, messageId: target.message.id, rootId: target.root.id });
        return { status: 200, body: {} };
      }
      default:
        throw new ConnectorError(405, 'MethodNotAllowed', `${method} is not allowed on ${url.pathname}`);
    }
  }

  /** Parses and checks a message activity, then takes it out of the conversation's rate budget. */
  private admit(conversation: StoredConversation, body: Buffer): Record<string, unknown> {
    let activity: unknown;
    try {
      activity = JSON.parse(body.toString('utf8'));
    } catch {
      throw new ConnectorError(400, 'BadSyntax', 'The request body is not valid JSON');
    }
    if (!isRecord(activity)) throw new ConnectorError(400, 'BadArgument', 'The request body must be an activity object');
    if (activity.type !== 'message') {
      throw new ConnectorError(400, 'BadArgument', `Only message activities are emulated, not '${String(activity.type)}'`);
    }
    if (activity.attachments !== undefined && !Array.isArray(activity.attachments)) {
      throw new ConnectorError(400, 'BadArgument', 'attachments must be an array');
    }
    const size = Buffer.byteLength(JSON.stringify({ text: activity.text, attachments: activity.attachments }));
    if (size > MAX_MESSAGE_BYTES) {
      throw new ConnectorError(413, 'MessageSizeTooBig', `Message is ${size} bytes; Teams accepts about ${MAX_MESSAGE_BYTES}`);
    }
    this.rateLimit(conversation);
    return activity;
  }

  private rateLimit(conversation: StoredConversation): void {
    if (!this.opts.rateLimit) return;
    const decision = this.limiter.take(conversation.id.toLowerCase());
    if (!decision.ok) {
      throw new ConnectorError(429, 'Throttled', `Too many requests to ${conversation.id}; retry after ${decision.retryAfterSeconds} s`, {
        'Retry-After': String(decision.retryAfterSeconds),
      });
    }
  }

  private rootOf(conversation: StoredConversation, messageId: string): StoredMessage {
    const hit = findIn(conversation, messageId);
    if (!hit) throw new ConnectorError(404, 'ActivityNotFound', `Thread ${messageId} not found in ${conversation.id}`);
    return hit.root;
  }

  private post(conversation: StoredConversation, activity: Record<string, unknown>, root: StoredMessage | undefined): string {
    const at = this.opts.now();
    const id = this.nextId(at);
    const message: StoredMessage = {
      id,
      conversationId: conversation.id,
      replyToId: root?.id,
      from: account(activity.from) ?? this.opts.defaultFrom,
      timestamp: at.toISOString(),
      lastModified: undefined,
      deleted: false,
      history: [version(activity, at)],
      replies: [],
      activity,
    };
    if (root) root.replies.push(message);
    else conversation.messages.push(message);
    this.opts.onChange({ kind: root ? 'replied' : 'posted', conversationId: conversation.id, messageId: id, rootId: root?.id ?? id });
    return id;
  }

  private update(conversation: StoredConversation, message: StoredMessage, root: StoredMessage, activity: Record<string, unknown>): void {
    const at = this.opts.now();
    message.history.push(version(activity, at));
    message.lastModified = at.toISOString();
    message.activity = activity;
    this.opts.onChange({ kind: 'updated', conversationId: conversation.id, messageId: message.id, rootId: root.id });
  }

  /** Teams message IDs are epoch milliseconds; bumped when two land in the same millisecond. */
  private nextId(at: Date): string {
    this.lastId = Math.max(at.getTime(), this.lastId + 1);
    return String(this.lastId);
  }
}

/** `19:abc@thread.tacv2;messageid=123` → `19:abc@thread.tacv2`. */
export function baseConversationId(conversationId: string): string {
  return conversationId.split(';')[0] as string;
}

function threadMessageId(conversationId: string): string | undefined {
  for (const part of conversationId.split(';').slice(1)) {
    const [key, value] = part.split('=');
    if (key?.trim().toLowerCase() === 'messageid' && value) return value.trim();
  }
  return undefined;
}

function findIn(conversation: StoredConversation, id: string): { message: StoredMessage; root: StoredMessage } | undefined {
  for (const root of conversation.messages) {
    if (root.id === id) return { message: root, root };
    const reply = root.replies.find((r) => r.id === id);
    if (reply) return { message: reply, root };
  }
  return undefined;
}

function version(activity: Record<string, unknown>, at: Date): EmulatedVersion {
  const attachments = Array.isArray(activity.attachments) ? activity.attachments.filter(isRecord).map(attachment) : [];
  return {
    at: at.toISOString(),
    ...(typeof activity.text === 'string' ? { text: activity.text } : {}),
    attachments,
  };
}

function attachment(raw: Record<string, unknown>): EmulatedAttachment {
  return {
    contentType: typeof raw.contentType === 'string' ? raw.contentType : '',
    ...(raw.content !== undefined ? { content: raw.content } : {}),
    ...(typeof raw.contentUrl === 'string' ? { contentUrl: raw.contentUrl } : {}),
    ...(typeof raw.name === 'string' ? { name: raw.name } : {}),
  };
}

function account(raw: unknown): EmulatedAccount | undefined {
  if (!isRecord(raw) || typeof raw.id !== 'string') return undefined;
  return {
    id: raw.id,
    ...(typeof raw.name === 'string' ? { name: raw.name } : {}),
    ...(typeof raw.role === 'string' ? { role: raw.role } : {}),
    ...(typeof raw.aadObjectId === 'string' ? { aadObjectId: raw.aadObjectId } : {}),
  };
}

function snapshot(message: StoredMessage): EmulatedMessage {
  const current = message.history[message.history.length - 1] as EmulatedVersion;
  const card = current.attachments.find((a) => a.contentType === ADAPTIVE_CARD_CONTENT_TYPE)?.content;
  return structuredClone({
    id: message.id,
    conversationId: message.conversationId,
    ...(message.replyToId !== undefined ? { replyToId: message.replyToId } : {}),
    from: message.from,
    timestamp: message.timestamp,
    ...(message.lastModified !== undefined ? { lastModified: message.lastModified } : {}),
    ...(current.text !== undefined ? { text: current.text } : {}),
    attachments: current.attachments,
    ...(card !== undefined ? { card } : {}),
    deleted: message.deleted,
    history: message.history,
    replies: message.replies.map((r) => snapshot(r)),
    activity: message.activity,
  });
}

function splitPath(pathname: string): string[] | undefined {
  try {
    return pathname
      .split('/')
      .filter((s) => s !== '')
      .map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

