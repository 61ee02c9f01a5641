/**
 * A local Teams for the dev stack, served by the dev host:
 * - a Bot Connector emulator under `/teams-emulator/connector` (the bot's service URL in dev), see
 *   connector.ts;
 * - a page at `/teams` that plays the Teams client for one channel: it renders every card the bot
 *   posts with the official Adaptive Cards renderer, runs Universal Actions refreshes for users
 *   listed in `refresh.userIds` (by MRI, `8:orgid:<object ID>` or `29:…`, as Teams matches them),
 *   and sends `adaptiveCard/action` invokes when someone clicks.
 *
 * Activities go to the bot's messaging endpoint (`/api/messages`) without an Authorization header:
 * there is no Bot Framework token service locally, so the bot must run in its explicit dev mode
 * that accepts unauthenticated requests. The connector, in turn, accepts any bearer token.
 *
 * Page endpoints: `GET /teams` (HTML), `/teams/app.js`, `/teams/app.css`, `/teams/adaptivecards.js`,
 * `/teams/adaptivecards.css` (from the adaptivecards package), `GET /teams/state` (channel, people,
 * messages), `GET /teams/events` (Server-Sent Events, one `change` event per post, reply, update or
 * delete), `POST /teams/invoke` ({ activityId, objectId, verb, data, title?, actionId?, trigger? }
 * → { status, body } of the bot's answer), `POST /teams/install` (installBot()).
 */
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DevHost } from '../dev-host.js';
import { DEMO } from '../demo-world.js';
import { adaptiveCardInvoke, appInstalled, botAddedToTeam, GENERAL_CHANNEL_NAME, teamsUserId, type ActivityContext, type EmulatedPerson, type EmulatedTeam } from './activities.js';
import { sendJson } from '../dev-host.js';
import { ConnectorEmulator, type ConnectorChange, type EmulatedConversation, type EmulatedMessage } from './connector.js';
import { PAGE_CSS, PAGE_SCRIPT, pageHtml } from './page.js';

export type { EmulatedPerson, EmulatedTeam } from './activities.js';
export type { ConnectorChange, EmulatedAccount, EmulatedAttachment, EmulatedConversation, EmulatedMessage, EmulatedVersion } from './connector.js';

export const CONNECTOR_PATH = '/teams-emulator/connector';
export const PAGE_PATH = '/teams';
/** The Teams client stops waiting for a card action after a while; a hung handler should show, not hang the page. */
const INVOKE_TIMEOUT_MS = 15_000;
const SSE_HEARTBEAT_MS = 15_000;

/**
 * The tenant an invoke names, where Teams writes it: `conversation.tenantId` and
 * `channelData.tenant.id`. Default: the team's tenant in both; `null` leaves one out. Lets a test
 * play a guest or a shared-channel member from another tenant.
 */
export interface InvokeTenants {
  readonly conversation?: string | null;
  readonly channelData?: string | null;
}

export interface ClickInput {
  readonly activityId: string;
  readonly objectId: string;
  readonly tenants?: InvokeTenants;
  readonly verb: string;
  readonly data?: Record<string, unknown>;
}

export interface InvokeRequest {
  readonly activityId: string;
  readonly objectId: string;
  readonly verb?: string;
  readonly data?: Record<string, unknown>;
  readonly title?: string;
  readonly actionId?: string;
  /** Default `manual` (a click); `automatic` is a refresh the client runs by itself. */
  readonly trigger?: 'manual' | 'automatic';
  readonly tenants?: InvokeTenants;
}

export interface TeamsEmulator {
  /** `${devHost.url}/teams` */
  readonly pageUrl: string;
  /** `${devHost.url}/teams-emulator/connector` */
  readonly serviceUrl: string;
  /**
   * Sends the activities Teams sends when the app is added to the team, on its General channel,
   * with `team.channelId` as the channel picked during install; rejects unless the bot answers 2xx.
   */
  installBot(): Promise<void>;
  /** Sends an Action.Execute invoke as a person, like clicking in Teams; returns the invoke response body. */
  click(input: ClickInput): Promise<{ status: number; body: unknown }>;
  /** Like click(), with every field the page can send (title, action ID, trigger). */
  invoke(input: InvokeRequest): Promise<{ status: number; body: unknown }>;
  /** The conversations the connector accepts posts to: `team.channelId` and the team's General channel. */
  conversations(): EmulatedConversation[];
  /** Posted messages, oldest first, with replies and update history; default: every conversation. */
  messages(conversationId?: string): EmulatedMessage[];
  /** Activities sent to the bot so far (installs and invokes), oldest first. */
  sent(): Record<string, unknown>[];
  /** Ends live-update streams; the routes then answer 503. The host's own close() does this too. */
  close(): Promise<void>;
}

export interface TeamsEmulatorOptions {
  readonly people: Readonly<Record<string, EmulatedPerson>> | readonly EmulatedPerson[];
  readonly team: EmulatedTeam;
  /** The bot's messaging endpoint; default `${host.url}/api/messages`. */
  readonly messagesUrl?: string;
  /** Clock for message timestamps, IDs, activity timestamps and the rate-limit windows. */
  readonly now?: () => Date;
  /** Teams' per-conversation rate limits on the connector; default true. */
  readonly rateLimit?: boolean;
  /** The bot's display name in activities; default `Linkgate`. */
  readonly botName?: string;
}

export function attachTeamsEmulator(host: DevHost, opts: TeamsEmulatorOptions): TeamsEmulator {
  const now = opts.now ?? (() => new Date());
  const people: readonly EmulatedPerson[] = Array.isArray(opts.people)
    ? (opts.people as readonly EmulatedPerson[])
    : Object.values(opts.people as Readonly<Record<string, EmulatedPerson>>);
  const team = opts.team;
  const botName = opts.botName ?? 'Linkgate';
  const serviceUrl = `${host.url}${CONNECTOR_PATH}`;
  const pageUrl = `${host.url}${PAGE_PATH}`;
  const messagesUrl = opts.messagesUrl ?? `${host.url}/api/messages`;
  const streams = new Set<ServerResponse>();
  const sentActivities: Record<string, unknown>[] = [];
  let installed = false;
  let closed = false;

  const connector = new ConnectorEmulator({
    // The channel, and the team's General channel, whose ID is the team ID in Teams: the install
    // arrives there, so the bot may post there too.
    conversations: [
      { id: team.channelId, name: team.channelName },
      { id: team.teamId, name: GENERAL_CHANNEL_NAME },
    ],
    defaultFrom: { id: team.botId, name: botName, role: 'bot' },
    now,
    rateLimit: opts.rateLimit ?? true,
    onChange: broadcast,
  });

  function broadcast(change: ConnectorChange): void {
    const frame = `event: change\ndata: ${JSON.stringify(change)}\n\n`;
    for (const res of streams) res.write(frame);
  }

  const heartbeat = setInterval(() => {
    for (const res of streams) res.write(': keep-alive\n\n');
  }, SSE_HEARTBEAT_MS);
  heartbeat.unref();

  function endStreams(): void {
    closed = true;
    clearInterval(heartbeat);
    for (const res of streams) res.end();
    streams.clear();
  }
  host.onClose(endStreams);

  function context(): ActivityContext {
    return { team, botName, serviceUrl, now: now() };
  }

  function person(objectId: string): EmulatedPerson {
    return people.find((p) => p.objectId.toLowerCase() === objectId.toLowerCase()) ?? { objectId, name: objectId, role: 'unknown' };
  }

  async function send(activity: Record<string, unknown>): Promise<{ status: number; body: unknown }> {
    sentActivities.push(structuredClone(activity));
    const response = await fetch(messagesUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(activity),
      signal: AbortSignal.timeout(INVOKE_TIMEOUT_MS),
    });
    const text = await response.text();
    let body: unknown = text === '' ? undefined : text;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON: the text is the body.
    }
    return { status: response.status, body };
  }

  async function invoke(input: InvokeRequest): Promise<{ status: number; body: unknown }> {
    const target = connector.find(input.activityId);
    if (!target) throw new Error(`No message ${input.activityId} in the emulated Teams`);
    const activity = adaptiveCardInvoke(context(), person(input.objectId), {
      activityId: input.activityId,
      rootId: target.rootId,
      verb: input.verb,
      data: input.data ?? {},
      ...(input.title !== undefined ? { title: input.title } : {}),
      ...(input.actionId !== undefined ? { actionId: input.actionId } : {}),
      trigger: input.trigger ?? 'manual',
    });
    return send(withTenants(activity, input.tenants));
  }

  async function installBot(): Promise<void> {
    const installer = people.find((p) => p.role === 'approver') ?? people[0];
    if (!installer) throw new Error('installBot needs at least one person to install the app');
    for (const activity of [botAddedToTeam(context(), installer), appInstalled(context(), installer)]) {
      const answer = await send(activity);
      if (answer.status < 200 || answer.status > 299) {
        throw new Error(`The bot answered ${answer.status} to ${String(activity.type)}: ${JSON.stringify(answer.body)}`);
      }
    }
    installed = true;
  }

  function state(): unknown {
    const requester = people.find((p) => p.role === 'requester');
    return {
      team: { id: team.teamId, name: team.teamName },
      channel: { id: team.channelId, name: team.channelName },
      tenantId: team.tenantId,
      serviceUrl,
      installed,
      people: people.map((p) => ({ ...p, mris: userMris(p.objectId) })),
      hint: {
        text: 'Simulate a request that falls to review (a partner subscription), then watch its card arrive here:',
        command:
          `npx linkgate simulate request --vault ${DEMO.vaultName} --from-subscription ${DEMO.partnerSubscriptionId}` +
          ` --message "Nightly partner sync"${requester ? ` --requester ${requester.objectId}` : ''}`,
      },
      messages: connector.messages(team.channelId),
    };
  }

  // --- routes ---
  const guard =
    (handler: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void | Promise<void>) =>
    (req: IncomingMessage, res: ServerResponse, body: Buffer): void | Promise<void> => {
      if (closed) {
        sendJson(res, 503, { error: 'The Teams emulator is closed' });
        return;
      }
      return handler(req, res, body);
    };

  for (const method of ['GET', 'POST', 'PUT', 'DELETE']) {
    host.addRoute(
      method,
      `${CONNECTOR_PATH}/*`,
      guard((req, res, body) => connector.handle(req, res, (req.url ?? '/').slice(CONNECTOR_PATH.length) || '/', body)),
    );
  }
  host.addRoute('GET', PAGE_PATH, guard((_req, res) => sendText(res, 'text/html', pageHtml({ channelName: team.channelName }))));
  host.addRoute('GET', `${PAGE_PATH}/app.js`, guard((_req, res) => sendText(res, 'text/javascript', PAGE_SCRIPT)));
  host.addRoute('GET', `${PAGE_PATH}/app.css`, guard((_req, res) => sendText(res, 'text/css', PAGE_CSS)));
  host.addRoute('GET', `${PAGE_PATH}/adaptivecards.js`, guard((_req, res) => sendText(res, 'text/javascript', rendererFile('adaptivecards.js'))));
  host.addRoute('GET', `${PAGE_PATH}/adaptivecards.css`, guard((_req, res) => sendText(res, 'text/css', rendererFile('adaptivecards.css'))));
  host.addRoute('GET', `${PAGE_PATH}/state`, guard((_req, res) => sendJson(res, 200, state())));
  host.addRoute(
    'GET',
    `${PAGE_PATH}/events`,
    guard((req, res) => {
      // Connection: close, so ending the stream on close() also frees the socket at once.
      res.writeHead(200, {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache',
        Connection: 'close',
      });
      res.write('retry: 1000\n\nevent: hello\ndata: {}\n\n');
      streams.add(res);
      req.on('close', () => streams.delete(res));
    }),
  );
  host.addRoute(
    'POST',
    `${PAGE_PATH}/invoke`,
    guard(async (_req, res, body) => {
      const input = parseInvokeRequest(body);
      if (typeof input === 'string') {
        sendJson(res, 400, { error: input });
        return;
      }
      if (!connector.find(input.activityId)) {
        sendJson(res, 404, { error: `No message ${input.activityId}` });
        return;
      }
      try {
        sendJson(res, 200, await invoke(input));
      } catch (error) {
        sendJson(res, 502, { error: `The bot did not answer: ${error instanceof Error ? error.message : String(error)}` });
      }
    }),
  );
  host.addRoute(
    'POST',
    `${PAGE_PATH}/install`,
    guard(async (_req, res) => {
      try {
        await installBot();
        sendJson(res, 200, { installed: true });
      } catch (error) {
        sendJson(res, 502, { error: error instanceof Error ? error.message : String(error) });
      }
    }),
  );

  return {
    pageUrl,
    serviceUrl,
    installBot,
    click: (input) => invoke({ ...input, trigger: 'manual' }),
    invoke,
    conversations: () => connector.knownConversations(),
    messages: (conversationId) => connector.messages(conversationId),
    sent: () => structuredClone(sentActivities),
    close: async () => endStreams(),
  };
}

function parseInvokeRequest(body: Buffer): InvokeRequest | string {
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString('utf8'));
  } catch {
    return 'The body is not valid JSON';
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'The body must be a JSON object';
  const r = raw as Record<string, unknown>;
  if (typeof r.activityId !== 'string' || typeof r.objectId !== 'string') return 'activityId and objectId are required strings';
  if (r.verb !== undefined && typeof r.verb !== 'string') return 'verb must be a string';
  if (r.data !== undefined && (typeof r.data !== 'object' || r.data === null || Array.isArray(r.data))) return 'data must be an object';
  if (r.trigger !== undefined && r.trigger !== 'manual' && r.trigger !== 'automatic') return "trigger must be 'manual' or 'automatic'";
  return {
    activityId: r.activityId,
    objectId: r.objectId,
    ...(typeof r.verb === 'string' ? { verb: r.verb } : {}),
    ...(r.data !== undefined ? { data: r.data as Record<string, unknown> } : {}),
    ...(typeof r.title === 'string' ? { title: r.title } : {}),
    ...(typeof r.actionId === 'string' ? { actionId: r.actionId } : {}),
    ...(r.trigger !== undefined ? { trigger: r.trigger as 'manual' | 'automatic' } : {}),
  };
}

function withTenants(activity: Record<string, unknown>, tenants: InvokeTenants | undefined): Record<string, unknown> {
  if (!tenants) return activity;
  const conversation = { ...(activity.conversation as Record<string, unknown>) };
  const channelData = { ...(activity.channelData as Record<string, unknown>) };
  if (tenants.conversation === null) delete conversation.tenantId;
  else if (tenants.conversation !== undefined) conversation.tenantId = tenants.conversation;
  if (tenants.channelData === null) delete channelData.tenant;
  else if (tenants.channelData !== undefined) channelData.tenant = { id: tenants.channelData };
  return { ...activity, conversation, channelData };
}

/** The IDs Teams matches in `refresh.userIds`: the Entra MRI and the user's Bot Framework ID. */
export function userMris(objectId: string): string[] {
  return [`8:orgid:${objectId}`, teamsUserId(objectId)].map((id) => id.toLowerCase());
}

const rendererCache = new Map<string, string>();

/** The official renderer's browser bundle and styles, from the adaptivecards devDependency. */
function rendererFile(name: 'adaptivecards.js' | 'adaptivecards.css'): string {
  let text = rendererCache.get(name);
  if (text === undefined) {
    text = readFileSync(require.resolve(`adaptivecards/dist/${name}`), 'utf8');
    rendererCache.set(name, text);
  }
  return text;
}

function sendText(res: ServerResponse, type: string, text: string): void {
  res.writeHead(200, {
    'Content-Type': `${type}; charset=utf-8`,
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-cache',
  });
  res.end(text);
}
