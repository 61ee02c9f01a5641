/**
 * The Teams bot: receives Bot Framework activities on POST /api/messages through the Teams SDK
 * (@microsoft/teams.apps), answers Universal Action clicks on approval cards, remembers the
 * conversations it is installed in, and gives the review use cases a notifier to post cards.
 *
 * Authentication of inbound requests is the SDK's: every request must carry a Bot Framework
 * JWT (RS256, key from the Bot Framework JWKS, issuer https://api.botframework.com, audience
 * the bot's app ID, not expired, `serviceurl` claim equal to the activity's serviceUrl)
 * (https://learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-authentication).
 * Only `dev-anonymous`, which configuration allows in dev mode alone, turns that off.
 *
 * Outbound calls authenticate as the bot with the user-assigned managed identity whose client
 * ID is the bot's app ID (no secret anywhere); in dev mode a fixed token stands in.
 *
 * The SDK falls back to process.env (CLIENT_ID, CLIENT_SECRET, TENANT_ID, SERVICE_URL,
 * MANAGED_IDENTITY_CLIENT_ID, CLOUD, OAUTH_URL, DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS,
 * LOG, LOG_LEVEL) for every option it is not given, so every one of those is given here and
 * only Linkgate's own configuration decides.
 */
import {
  PUBLIC,
  withOverrides,
  type AdaptiveCardActionErrorResponse,
  type AdaptiveCardActionMessageResponse,
  type AdaptiveCardActionResponse,
  type CloudEnvironment,
  type IAdaptiveCardActionInvokeActivity,
  type IConversationUpdateActivity,
  type InstallUpdateActivity,
} from '@microsoft/teams.api';
import { App, type AppOptions, type HttpRouteHandler, type IHttpServerAdapter, type IPlugin } from '@microsoft/teams.apps';
import type { Logger } from '../../app/ports.js';
import type { CardAction, CardActionResult, ConversationReference, ConversationStore, RefusedClick, ReviewNotifier } from '../../app/review-ports.js';
import { isGuid } from '../../domain/resource-id.js';
import { oneLine } from '../../shared/text.js';
import { TEXT_LIMITS, toInvokeCardResponse } from './approval-card.js';
import { ConversationPacer } from './pacer.js';
import { createTeamsNotifier, type BotConnectorCalls } from './teams-notifier.js';

export interface TeamsBotOptions {
  /** The bot's app (client) ID = the user-assigned managed identity's client ID in Azure. */
  readonly botId: string;
  /** Single-tenant bot: the tenant of the bot registration and of the conversations it serves. */
  readonly tenantId: string;
  /** Bot Connector base URL (Teams: https://smba.trafficmanager.net/teams; dev: the emulator's). */
  readonly serviceUrl: string;
  readonly auth:
    | { readonly kind: 'managed-identity'; readonly managedIdentityClientId: string }
    | { readonly kind: 'dev-anonymous' };
  /**
   * Test/sovereign override of the Bot Framework OpenID metadata (JWKS) and token issuer.
   * `botScope` is the outbound token's scope in a sovereign cloud (public: https://api.botframework.com/.default).
   */
  readonly cloud?: { readonly openIdMetadataUrl: string; readonly tokenIssuer: string; readonly loginEndpoint?: string; readonly botScope?: string };
  readonly onCardAction: (action: CardAction) => Promise<CardActionResult>;
  /** A click refused here (another tenant, no tenant, no usable object ID), for the audit. */
  readonly onRefusedClick: (refusal: RefusedClick) => Promise<void>;
  readonly conversations: ConversationStore;
  readonly log: Logger;
  readonly now?: () => Date;
  /** dev only: a fixed outbound token instead of acquiring one. */
  readonly outboundToken?: () => Promise<string>;
}

export interface TeamsBot {
  /** Handles one POST /api/messages request (body already parsed as JSON, headers lower-cased). */
  handle(request: { body: unknown; headers: Record<string, string> }): Promise<{ status: number; body?: unknown }>;
  readonly notifier: ReviewNotifier;
}

export const MESSAGING_ENDPOINT = '/api/messages';
export const CARD_NOT_UNDERSTOOD = 'This card could not be understood; nothing was changed.';
export const CLICK_FAILED = 'Linkgate could not process this click; nothing was changed unless the card says so.';
/**
 * The outbound token in dev mode when none is given; only emulators accept it. It is an unsigned
 * JWT because the SDK decodes (without verifying) every outbound token to read its expiry, and
 * throws on anything that is not JWT-shaped.
 */
export const DEV_OUTBOUND_TOKEN = [{ alg: 'none', typ: 'JWT' }, { iss: 'linkgate-dev', aud: 'https://api.botframework.com' }]
  .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'))
  .concat('')
  .join('.');

/** Bot Connector calls get this long before they are abandoned (the SDK's axios default is no timeout). */
const HTTP_TIMEOUT_MS = 30_000;
const VERBS: ReadonlySet<string> = new Set(['approve', 'reject', 'keep', 'refresh']);
const MAX_APPROVAL_KEY_LENGTH = 1_024;
const MAX_NAME_LENGTH = 256;

export function createTeamsBot(options: TeamsBotOptions): TeamsBot {
  const now = options.now ?? (() => new Date());
  const log = options.log;
  const adapter = new MessagesRouteAdapter(log);
  const app = new App(teamsAppOptions(options, adapter));

  app.on('card.action', async ({ activity }) => answerCardAction(activity, options));
  app.on('conversationUpdate', async ({ activity }) => trackConversationUpdate(activity, options, now()));
  // `installationUpdate` rather than `install.add`/`install.remove`: Teams also sends
  // `add-upgrade` and `remove-upgrade`, which mean the same for us
  // (https://github.com/microsoft/botframework-sdk/issues/6139).
  app.on('installationUpdate', async ({ activity }) => trackInstallationUpdate(activity, options, now()));

  let initializing: Promise<void> | undefined;
  const initialize = (): Promise<void> => {
    initializing ??= app.initialize().catch((error: unknown) => {
      initializing = undefined; // the next request tries again
      throw error;
    });
    return initializing;
  };

  const connector: BotConnectorCalls = {
    async send(conversationId, activity) {
      return (await app.send(conversationId, activity)).id;
    },
    async update(conversationId, activityId, activity) {
      // The activity ID in the body too, as the Bot Framework update operation expects.
      await app.api.conversations.updateActivity(conversationId, activityId, { ...activity, id: activityId });
    },
    async reply(conversationId, activityId, activity) {
      // app.reply posts to `conversationId;messageid=<activityId>`, which is how Teams routes a
      // message into a channel thread; it accepts only Teams' numeric message IDs.
      if (/^[1-9]\d*$/.test(activityId)) await app.reply(conversationId, activityId, activity);
      else await app.api.conversations.replyToActivity(conversationId, activityId, activity);
    },
  };
  const pacer = new ConversationPacer({ now: () => Date.now(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) });
  const notifier = createTeamsNotifier({ connector, pacer, log, now });

  return {
    notifier,
    async handle(request) {
      if (!looksLikeActivity(request.body)) {
        return { status: 400, body: { error: 'The body must be a Bot Framework activity with type and serviceUrl.' } };
      }
      await initialize();
      const handler = adapter.messages;
      if (!handler) throw new Error(`The Teams SDK did not register ${MESSAGING_ENDPOINT}`);
      const response = await handler({ body: request.body, headers: request.headers });
      return response.body === undefined ? { status: response.status } : { status: response.status, body: response.body };
    },
  };
}

/**
 * Every App option, so that nothing comes from process.env. Exported for the test that proves it.
 */
export function teamsAppOptions(options: TeamsBotOptions, adapter: IHttpServerAdapter): AppOptions<IPlugin> {
  if (!isGuid(options.botId)) throw new Error(`Teams bot ID must be an app (client) ID GUID, got '${options.botId}'`);
  if (!isGuid(options.tenantId)) throw new Error(`Teams tenant ID must be a GUID, got '${options.tenantId}'`);
  const dev = options.auth.kind === 'dev-anonymous';
  if (!dev && options.outboundToken) throw new Error('A fixed outbound token is only for dev-anonymous mode');
  const devToken = options.outboundToken ?? (() => Promise.resolve(DEV_OUTBOUND_TOKEN));
  const cloud = cloudEnvironment(options.cloud);
  const logger = sdkLogger(options.log, 'teams');
  return {
    clientId: options.botId,
    // An empty string, not undefined: the SDK reads CLIENT_SECRET from the environment when the
    // option is undefined (`??`) and would switch to client-secret auth; '' is kept and means none.
    clientSecret: '',
    tenantId: options.tenantId,
    // Normally equal to clientId: the SDK then gets tokens as that user-assigned managed identity
    // itself. A different ID makes the SDK use that identity as a federated credential of the
    // bot's app registration instead. In dev mode the token override wins over either.
    managedIdentityClientId: options.auth.kind === 'managed-identity' ? options.auth.managedIdentityClientId : options.botId,
    ...(dev ? { token: () => devToken().then(requireJwtShape) } : {}),
    applicationIdUri: undefined, // only for app.function() (tabs calling the bot); not used
    client: { name: 'teams', logger, timeout: HTTP_TIMEOUT_MS },
    logger,
    storage: undefined, // the SDK's in-memory store; Linkgate keeps no bot state in it
    plugins: [],
    httpServerAdapter: adapter,
    // No user sign-in: never fetch a user token per activity.
    oauth: { fetchUserToken: false },
    activity: { mentions: { stripText: false } },
    dangerouslyAllowUnauthenticatedRequests: dev,
    messagingEndpoint: MESSAGING_ENDPOINT,
    serviceUrl: options.serviceUrl,
    apiClientSettings: { oauthUrl: cloud.tokenServiceUrl },
    cloud,
  };
}

function requireJwtShape(token: string): string {
  if (!/^[\w-]+\.[\w-]+\.[\w-]*$/.test(token)) throw new Error('The dev outbound token must be JWT-shaped (header.payload.signature); the Teams SDK decodes it');
  return token;
}

function cloudEnvironment(override: TeamsBotOptions['cloud']): CloudEnvironment {
  if (!override) return PUBLIC;
  return withOverrides(PUBLIC, {
    openIdMetadataUrl: override.openIdMetadataUrl,
    tokenIssuer: override.tokenIssuer,
    ...(override.loginEndpoint ? { loginEndpoint: override.loginEndpoint } : {}),
    ...(override.botScope ? { botScope: override.botScope } : {}),
  });
}

/**
 * The SDK registers its routes on an adapter and normally starts an Express server. Here the
 * Functions host is the server: the adapter only keeps the /api/messages handler (JWT check,
 * activity processing) for `handle` to call.
 */
class MessagesRouteAdapter implements IHttpServerAdapter {
  messages: HttpRouteHandler | undefined;

  constructor(private readonly log: Logger) {}

  registerRoute(method: 'POST', path: string, handler: HttpRouteHandler): void {
    if (method === 'POST' && path === MESSAGING_ENDPOINT) this.messages = handler;
    else this.log.warn(`Teams SDK route ${method} ${path} is not served`);
  }
}

/**
 * The SDK checks the `serviceurl` claim against the activity's serviceUrl only when the activity
 * has one; an activity without it would pass with any Bot Framework token. Teams always sends it.
 */
function looksLikeActivity(body: unknown): body is { type: string; serviceUrl: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const { type, serviceUrl } = body as { type?: unknown; serviceUrl?: unknown };
  return typeof type === 'string' && type !== '' && typeof serviceUrl === 'string' && serviceUrl !== '';
}

// ---------------------------------------------------------------------------------------------
// Card clicks (Universal Actions)

type ParsedClick =
  | { readonly ok: true; readonly action: CardAction }
  /** Not a click on one of our cards: answered "not understood", nothing recorded. */
  | { readonly ok: false; readonly reason: string }
  /** A well-formed click Linkgate may not take from this user: answered, and audited. */
  | { readonly ok: false; readonly reason: string; readonly refusal: RefusedClick };

export const FOREIGN_TENANT_CLICK = 'Linkgate takes decisions only from people in its own tenant, and this click came from another one. Nothing was changed.';
export const NO_TENANT_CLICK = 'This click did not say which tenant it came from, so Linkgate cannot accept it. Nothing was changed.';
export const NO_OBJECT_ID_CLICK = 'This click carried no Entra object ID that Linkgate can check, so it cannot be accepted. Nothing was changed.';

async function answerCardAction(activity: IAdaptiveCardActionInvokeActivity, options: TeamsBotOptions): Promise<AdaptiveCardActionResponse> {
  const parsed = parseCardAction(activity, options.tenantId);
  if (!parsed.ok) {
    options.log.warn(`Card click refused (${parsed.reason}) in conversation ${logField(activity.conversation?.id)}`);
    if (!('refusal' in parsed)) return messageResponse(CARD_NOT_UNDERSTOOD);
    try {
      await options.onRefusedClick(parsed.refusal);
    } catch (error) {
      // The audit is the record of a refusal; without it the click is still refused, and says so.
      options.log.error(`Could not record the refused click: ${logField(error instanceof Error ? error.message : String(error), 500)}`);
    }
    return messageResponse(parsed.refusal.message);
  }
  const { action } = parsed;
  const what = `${action.verb} on ${logField(action.approvalKey)} (generation ${action.generation}) by ${action.user.id}`;
  try {
    const result = await options.onCardAction(action);
    options.log.info(`Card ${what}: ${result.outcome}`);
    return toInvokeCardResponse(result.view);
  } catch (error) {
    options.log.error(`Card ${what} failed: ${logField(error instanceof Error ? error.message : String(error), 500)}`);
    return errorResponse(CLICK_FAILED);
  }
}

/**
 * What Teams sends for an Action.Execute: `value.action` holds the verb and the action's `data`
 * merged with the card's inputs (the comment box), `from.aadObjectId` the clicking user's Entra
 * object ID (https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-cards),
 * and the user's tenant in both `conversation.tenantId` and `channelData.tenant.id`
 * (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/send-proactive-messages
 * and the Bot Framework activity schema's `ConversationAccount.tenantId`).
 *
 * Approvers are object IDs of the home tenant, and an object ID means nothing outside its
 * tenant: a guest or a user of a shared channel from another tenant must not be taken for a
 * home approver with the same ID. So the click is refused unless every tenant it names is the
 * home tenant and it names at least one. The JWT proves that Teams sent the activity, not
 * which tenant the user belongs to.
 */
export function parseCardAction(activity: IAdaptiveCardActionInvokeActivity, homeTenantId: string): ParsedClick {
  const invoke = activity.value?.action as { verb?: unknown; data?: unknown } | undefined;
  const verb = invoke?.verb;
  if (typeof verb !== 'string' || !VERBS.has(verb)) return { ok: false, reason: `unknown verb ${logField(verb)}` };
  const data = invoke?.data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { ok: false, reason: 'no action data' };
  const { approvalKey, generation, comment } = data as { approvalKey?: unknown; generation?: unknown; comment?: unknown };
  if (typeof approvalKey !== 'string' || approvalKey.trim() === '' || approvalKey.length > MAX_APPROVAL_KEY_LENGTH) {
    return { ok: false, reason: 'no approvalKey' };
  }
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0) {
    return { ok: false, reason: `generation ${logField(generation)} is not a whole number` };
  }
  let note: string | undefined;
  if (verb !== 'refresh' && comment !== undefined && comment !== null) {
    if (typeof comment !== 'string') return { ok: false, reason: 'comment is not text' };
    note = comment.trim() || undefined;
    // The comment box has this maxLength, so a longer one did not come from our card.
    if (note !== undefined && Array.from(note).length > TEXT_LIMITS.comment) return { ok: false, reason: 'comment too long' };
  }
  const from = activity.from as { aadObjectId?: unknown; name?: unknown } | undefined;
  const objectId = from?.aadObjectId;
  const givenName = typeof from?.name === 'string' && from.name.trim() ? from.name.trim().slice(0, MAX_NAME_LENGTH) : undefined;
  const tenants = clickTenants(activity);
  const refuse = (reason: RefusedClick['reason'], message: string, why: string): ParsedClick => ({
    ok: false,
    reason: why,
    refusal: {
      reason,
      message,
      verb,
      approvalKey: approvalKey.trim(),
      ...(typeof objectId === 'string' && objectId.trim() ? { claimedObjectId: oneLine(objectId.trim(), 100) } : {}),
      ...(givenName ? { name: oneLine(givenName, TEXT_LIMITS.name) } : {}),
      tenants,
    },
  });
  const home = homeTenantId.toLowerCase();
  if (tenants.conversation === undefined && tenants.channelData === undefined) return refuse('no-tenant', NO_TENANT_CLICK, 'the activity names no tenant');
  for (const tenant of [tenants.conversation, tenants.channelData]) {
    if (tenant !== undefined && tenant.toLowerCase() !== home) return refuse('foreign-tenant', FOREIGN_TENANT_CLICK, `tenant ${logField(tenant)} is not the home tenant`);
  }
  if (typeof objectId !== 'string' || !isGuid(objectId)) return refuse('invalid-object-id', NO_OBJECT_ID_CLICK, 'no Entra object ID for the user');
  const userId = objectId.toLowerCase();
  const name = givenName ?? userId;
  const tenantId = tenants.conversation ?? tenants.channelData;
  return {
    ok: true,
    action: {
      verb: verb as CardAction['verb'],
      approvalKey: approvalKey.trim(),
      generation,
      ...(note !== undefined ? { comment: note } : {}),
      user: { id: userId, name, ...(tenantId ? { tenantId } : {}) },
    },
  };
}

function messageResponse(text: string): AdaptiveCardActionMessageResponse {
  return { statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: text };
}

/** Universal Actions error answer (https://learn.microsoft.com/adaptive-cards/authoring-cards/universal-action-model#response-format). */
function errorResponse(text: string): AdaptiveCardActionErrorResponse {
  return {
    statusCode: 500,
    type: 'application/vnd.microsoft.error',
    value: { code: 'InternalError', message: text, innerHttpError: { statusCode: 500, body: null } },
  };
}

// ---------------------------------------------------------------------------------------------
// Where the bot is installed
//
// Teams announces an install in a team (`conversationUpdate` with the bot added, then
// `installationUpdate`) on one conversation: the team's General channel in its earlier documented
// shape (conversation ID = team ID), the channel the installer picked in its current one. That
// picked channel is also named in `channelData.settings.selectedChannel`
// (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/subscribe-to-conversation-events),
// and the bot can post to every channel of a team it belongs to. So an install stores the
// conversation it arrived on and, when another channel is named, that channel too: the approvals
// channel an operator picked must be listed even when the install arrived on General.

type ConversationActivity = IConversationUpdateActivity | InstallUpdateActivity;
type NamedChannel = { readonly id: string; readonly name: string | undefined };

/** Graph calls a team's primary channel, whose ID is the team ID, General (https://learn.microsoft.com/graph/api/team-get-primarychannel). */
const GENERAL_CHANNEL_NAME = 'General';

async function trackConversationUpdate(activity: IConversationUpdateActivity, options: TeamsBotOptions, at: Date): Promise<void> {
  if (activity.membersAdded?.some((member) => isThisBot(member.id, activity, options))) await remember(activity, options, at);
  if (activity.membersRemoved?.some((member) => isThisBot(member.id, activity, options))) {
    // `teamMemberRemoved` with the bot: it left the team, so no channel of the team is a target.
    // Other events (a shared channel's `channelMemberRemoved`) concern that conversation alone.
    await forget(activity, options, at, String(activity.channelData?.eventType) === 'teamMemberRemoved');
  }
}

async function trackInstallationUpdate(activity: InstallUpdateActivity, options: TeamsBotOptions, at: Date): Promise<void> {
  const action = String(activity.action);
  if (action === 'add' || action === 'add-upgrade') await remember(activity, options, at);
  // The app left the scope it was installed in: in a team, the whole team.
  else if (action === 'remove' || action === 'remove-upgrade') await forget(activity, options, at, true);
}

async function remember(activity: ConversationActivity, options: TeamsBotOptions, at: Date): Promise<void> {
  const tenantId = conversationTenant(activity);
  if (isForeignTenant(tenantId, options)) {
    // Cards name vaults and requesters of this tenant; a conversation elsewhere is never a target.
    options.log.warn(`Bot added to conversation ${logField(activity.conversation.id)} of tenant ${logField(tenantId)}, not ${options.tenantId}; not recorded`);
    return;
  }
  const channelData = activity.channelData;
  const conversation = activity.conversation;
  const conversationId = baseConversationId(conversation.id);
  const team = channelData?.team;
  const shared = {
    ...(team?.id ? { teamId: team.id } : {}),
    ...(team?.name ? { teamName: team.name } : {}),
    ...(tenantId ? { tenantId } : {}),
    serviceUrl: activity.serviceUrl ?? options.serviceUrl,
    botId: activity.recipient?.id || options.botId,
    installedAt: at,
  };
  const name = channelName(activity, conversationId) ?? conversation.name ?? (team?.id && conversationId === team.id ? GENERAL_CHANNEL_NAME : undefined);
  const references: ConversationReference[] = [
    { conversationId, conversationType: String(conversation.conversationType ?? 'unknown'), ...(name ? { name } : {}), ...shared },
    ...otherChannels(activity, conversationId).map((channel) => ({
      conversationId: channel.id,
      conversationType: 'channel',
      ...(channel.name ? { name: channel.name } : {}),
      ...shared,
    })),
  ];
  for (const reference of references) {
    await options.conversations.save(reference);
    options.log.info(`Bot installed in ${reference.conversationType} ${logField(reference.conversationId)} (${logField(reference.name ?? reference.teamName ?? 'unnamed')})`);
  }
}

/**
 * Marks the conversation the removal arrived on, and any channel it names, removed; when the bot
 * left a whole team, every stored conversation of that team as well.
 */
async function forget(activity: ConversationActivity, options: TeamsBotOptions, at: Date, wholeTeam: boolean): Promise<void> {
  const tenantId = conversationTenant(activity);
  if (isForeignTenant(tenantId, options)) {
    // Nothing of another tenant is stored, and its team IDs must not reach this tenant's rows.
    options.log.warn(`Bot removed from conversation ${logField(activity.conversation.id)} of tenant ${logField(tenantId)}, not ${options.tenantId}; ignored`);
    return;
  }
  const conversationId = baseConversationId(activity.conversation.id);
  const removed = new Set([conversationId, ...otherChannels(activity, conversationId).map((channel) => channel.id)]);
  const teamId = activity.channelData?.team?.id;
  if (wholeTeam && teamId) {
    for (const reference of await options.conversations.list()) {
      if (reference.teamId === teamId && !reference.removedAt) removed.add(reference.conversationId);
    }
  }
  for (const id of removed) {
    await options.conversations.markRemoved(id, at);
    options.log.info(`Bot removed from ${logField(id)}`);
  }
}

/** The name channelData gives the conversation itself (`channel` without an ID is the conversation's). */
function channelName(activity: ConversationActivity, conversationId: string): string | undefined {
  const channelData = activity.channelData;
  for (const channel of [channelData?.channel, channelData?.settings?.selectedChannel]) {
    const name = textOf(channel?.name);
    const id = textOf(channel?.id);
    if (name && (!id || baseConversationId(id) === conversationId)) return name;
  }
  return undefined;
}

/** Channels other than the conversation named by `settings.selectedChannel` and `channel`, each once. */
function otherChannels(activity: ConversationActivity, conversationId: string): NamedChannel[] {
  const channelData = activity.channelData;
  const found = new Map<string, NamedChannel>();
  for (const channel of [channelData?.settings?.selectedChannel, channelData?.channel]) {
    const raw = textOf(channel?.id);
    if (!raw) continue;
    const id = baseConversationId(raw);
    if (id === conversationId) continue;
    found.set(id, { id, name: found.get(id)?.name ?? textOf(channel?.name) });
  }
  return [...found.values()];
}

function textOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() ? value.trim() : undefined;
}

function isForeignTenant(tenantId: string | undefined, options: TeamsBotOptions): boolean {
  return tenantId !== undefined && tenantId.toLowerCase() !== options.tenantId.toLowerCase();
}

/** In Teams the bot's account ID is `28:<app ID>`; the activity's recipient is the bot. */
function isThisBot(memberId: string | undefined, activity: ConversationActivity, options: TeamsBotOptions): boolean {
  if (!memberId) return false;
  return memberId === activity.recipient?.id || memberId === options.botId || memberId === `28:${options.botId}`;
}

/** Both places an invoke names the tenant; an empty or non-text value counts as absent. */
function clickTenants(activity: { conversation?: { tenantId?: unknown }; channelData?: { tenant?: { id?: unknown } } }): RefusedClick['tenants'] {
  const conversation = textOf(activity.conversation?.tenantId);
  const channelData = textOf(activity.channelData?.tenant?.id);
  return { ...(conversation ? { conversation: oneLine(conversation, 100) } : {}), ...(channelData ? { channelData: oneLine(channelData, 100) } : {}) };
}

function conversationTenant(activity: { conversation?: { tenantId?: string }; channelData?: { tenant?: { id?: string } } }): string | undefined {
  return activity.conversation?.tenantId || activity.channelData?.tenant?.id || undefined;
}

/** `19:…@thread.tacv2;messageid=123` names a thread of the channel `19:…@thread.tacv2`. */
function baseConversationId(conversationId: string): string {
  return conversationId.split(';')[0] ?? conversationId;
}

// ---------------------------------------------------------------------------------------------
// Logging

type SdkLogger = NonNullable<AppOptions<IPlugin>['logger']>;
type SdkLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * The SDK's ILogger over Linkgate's log. Debug and trace are dropped (they include whole
 * activities). Token validation failures are logged by the SDK as errors; they are caused by
 * the caller, so they arrive here as warnings. Text is flattened and capped because much of it
 * comes from requests.
 */
function sdkLogger(log: Logger, name: string): SdkLogger {
  const write = (level: SdkLevel, parts: unknown[]): void => {
    if (level === 'debug' || level === 'trace') return;
    const text = `[${name}] ${parts.map(describe).join(' ')}`;
    const clipped = logField(text, 1_000);
    if (level === 'error' && !/^\[[^\]]*\] (JWT |Custom validation failed|Failed to get signing key)/.test(clipped)) log.error(clipped);
    else if (level === 'error' || level === 'warn') log.warn(clipped);
    else log.info(clipped);
  };
  return {
    loggerOptions: { level: 'warn', pattern: '*' },
    error: (...parts: unknown[]) => write('error', parts),
    warn: (...parts: unknown[]) => write('warn', parts),
    info: (...parts: unknown[]) => write('info', parts),
    debug: () => undefined,
    trace: () => undefined,
    log: (level: SdkLevel, ...parts: unknown[]) => write(level, parts),
    child: (child: string) => sdkLogger(log, `${name}/${child}`),
  };
}

function describe(part: unknown): string {
  if (typeof part === 'string') return part;
  if (part instanceof Error) return `${part.name}: ${part.message}`;
  try {
    return JSON.stringify(part) ?? String(part);
  } catch {
    return String(part);
  }
}

/** One line, bounded: values from requests must not forge log lines or flood them. */
function logField(value: unknown, max = 200): string {
  return oneLine(String(value ?? 'unknown'), max);
}
