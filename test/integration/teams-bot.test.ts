import { createSign, generateKeyPairSync, createHmac, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App } from '@microsoft/teams.apps';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { TableConversationsStore } from '../../src/adapters/tables/conversations-store.js';
import { createTableClient } from '../../src/adapters/tables/table-clients.js';
import { ConversationPacer } from '../../src/adapters/teams/pacer.js';
import {
  CARD_NOT_UNDERSTOOD,
  CLICK_FAILED,
  FOREIGN_TENANT_CLICK,
  NO_OBJECT_ID_CLICK,
  NO_TENANT_CLICK,
  DEV_OUTBOUND_TOKEN,
  createTeamsBot,
  teamsAppOptions,
  type TeamsBotOptions,
} from '../../src/adapters/teams/teams-bot.js';
import { createTeamsNotifier, type BotConnectorCalls } from '../../src/adapters/teams/teams-notifier.js';
import { TeamsDeliveryError } from '../../src/domain/errors.js';
import type { CardAction, CardActionResult, ConversationReference, ConversationStore, RefusedClick, ReviewCardView } from '../../src/app/review-ports.js';
import { startAzuriteTables, type AzuriteTables } from '../../src/dev/azurite.js';

const BOT_ID = 'b07b07b0-0000-4000-8000-0000000000b7';
const TENANT = 'c0a1b2c3-0000-4000-8000-00000000c0de';
const FOREIGN_TENANT = 'f0f0f0f0-0000-4000-8000-0000000000ff';
const USER_OID = 'a11ce000-0000-4000-8000-0000000000a1';
const ISSUER = 'https://api.botframework.com';
/** Where Teams says the activity came from; the token's `serviceurl` claim must match it. */
const ACTIVITY_SERVICE_URL = 'https://smba.trafficmanager.net/emea/';
const CHANNEL = '19:5e1ec7ed0c6a4e1f@thread.tacv2';
const APPROVAL_KEY = '/subscriptions/5ec00000-0000-4000-8000-000000000001/resourcegroups/rg-secrets/providers/microsoft.keyvault/vaults/kv-payments/privateendpointconnections/pe-app.1';
const KID = 'linkgate-test-key';

// ---------------------------------------------------------------------------------------------
// Local servers: a Bot Framework OpenID/JWKS endpoint, a fake Bot Connector, a fake managed
// identity endpoint. All on 127.0.0.1, plain http (see the JWKS note below).

interface Recorded {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: any;
}
type Reply = { status: number; headers?: Record<string, string>; body?: unknown };

interface JsonServer {
  readonly url: string;
  readonly requests: Recorded[];
  close(): Promise<void>;
}

async function startJsonServer(route: (request: Recorded) => Reply): Promise<JsonServer> {
  const requests: Recorded[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const recorded: Recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: text ? JSON.parse(text) : undefined };
      requests.push(recorded);
      const reply = route(recorded);
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const strangerKey = generateKeyPairSync('rsa', { modulusLength: 2048 });

let openId: JsonServer;
let azurite: AzuriteTables;

beforeAll(async () => {
  const jwk = { ...signingKey.publicKey.export({ format: 'jwk' }), kid: KID, use: 'sig', alg: 'RS256' };
  openId = await startJsonServer((request) => {
    if (request.url === '/v1/.well-known/openidconfiguration') {
      return { status: 200, body: { issuer: ISSUER, jwks_uri: `${openId.url}/v1/.well-known/keys`, id_token_signing_alg_values_supported: ['RS256'] } };
    }
    if (request.url === '/v1/.well-known/keys') return { status: 200, body: { keys: [jwk] } };
    return { status: 404 };
  });
  azurite = await startAzuriteTables();
});

afterAll(async () => {
  await Promise.all([openId?.close(), azurite?.close()]);
});

// ---------------------------------------------------------------------------------------------
// Tokens: RS256 JWTs signed with node:crypto, claims as the Bot Connector sends them.

const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function signJwt(claims: Record<string, unknown>, options: { key?: KeyObject; kid?: string; alg?: 'RS256' | 'HS256' | 'none'; hmacSecret?: string } = {}): string {
  const alg = options.alg ?? 'RS256';
  const input = `${b64url({ alg, typ: 'JWT', kid: options.kid ?? KID })}.${b64url(claims)}`;
  if (alg === 'none') return `${input}.`;
  if (alg === 'HS256') return `${input}.${createHmac('sha256', options.hmacSecret ?? '').update(input).digest('base64url')}`;
  const signature = createSign('RSA-SHA256').update(input).sign(options.key ?? signingKey.privateKey);
  return `${input}.${signature.toString('base64url')}`;
}

function connectorClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { aud: BOT_ID, iss: ISSUER, nbf: now - 60, iat: now - 60, exp: now + 3600, serviceurl: ACTIVITY_SERVICE_URL, appid: 'botframework-connector', ...overrides };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

// ---------------------------------------------------------------------------------------------
// Activities as Teams sends them.

function cardClick(verb: string, data: unknown, from: Record<string, unknown> = { id: '29:1ada', aadObjectId: USER_OID, name: 'Ada Approver' }, overrides: Record<string, unknown> = {}) {
  return {
    type: 'invoke',
    name: 'adaptiveCard/action',
    id: 'f:invoke-1',
    channelId: 'msteams',
    serviceUrl: ACTIVITY_SERVICE_URL,
    from,
    recipient: { id: `28:${BOT_ID}`, name: 'Linkgate' },
    conversation: { id: `${CHANNEL};messageid=1700000000123`, conversationType: 'channel', tenantId: TENANT, isGroup: true },
    channelData: { tenant: { id: TENANT }, team: { id: CHANNEL, name: 'Platform' }, channel: { id: CHANNEL, name: 'Approvals' } },
    value: { action: { type: 'Action.Execute', verb, data }, trigger: 'manual' },
    ...overrides,
  };
}

const approveData = { approvalKey: APPROVAL_KEY, generation: 3, comment: '  Looks right  ' };

function botAdded(overrides: Record<string, unknown> = {}) {
  return {
    type: 'conversationUpdate',
    id: 'f:update-1',
    channelId: 'msteams',
    serviceUrl: ACTIVITY_SERVICE_URL,
    from: { id: '29:1owner', aadObjectId: USER_OID },
    recipient: { id: `28:${BOT_ID}`, name: 'Linkgate' },
    conversation: { id: CHANNEL, conversationType: 'channel', tenantId: TENANT, isGroup: true },
    membersAdded: [{ id: `28:${BOT_ID}` }],
    channelData: { eventType: 'teamMemberAdded', tenant: { id: TENANT }, team: { id: CHANNEL, name: 'Platform' }, channel: { id: CHANNEL, name: 'Approvals' } },
    ...overrides,
  };
}

// ---------------------------------------------------------------------------------------------
// The bot under test, with an in-memory conversation store and a recorded log.

class MemoryConversations implements ConversationStore {
  readonly rows = new Map<string, ConversationReference>();
  readonly saved: ConversationReference[] = [];
  readonly removed: Array<{ conversationId: string; at: Date }> = [];
  async save(reference: ConversationReference) {
    this.saved.push(reference);
    this.rows.set(reference.conversationId, reference);
  }
  async markRemoved(conversationId: string, at: Date) {
    this.removed.push({ conversationId, at });
    const row = this.rows.get(conversationId);
    if (row) this.rows.set(conversationId, { ...row, removedAt: at });
  }
  async get(conversationId: string) {
    return this.rows.get(conversationId);
  }
  async list() {
    return [...this.rows.values()];
  }
}

function recordingLog() {
  const lines: Array<{ level: 'info' | 'warn' | 'error'; message: string }> = [];
  return {
    lines,
    info: (message: string) => void lines.push({ level: 'info', message }),
    warn: (message: string) => void lines.push({ level: 'warn', message }),
    error: (message: string) => void lines.push({ level: 'error', message }),
  };
}

function view(status: ReviewCardView['status'] = { state: 'awaiting' }, audience: ReviewCardView['audience'] = 'approver'): ReviewCardView {
  return {
    model: {
      approvalKey: APPROVAL_KEY,
      generation: 3,
      resource: { id: '/subscriptions/5ec00000-0000-4000-8000-000000000001/resourceGroups/rg-secrets/providers/Microsoft.KeyVault/vaults/kv-payments', type: 'Microsoft.KeyVault/vaults', typeName: 'Key Vault', noun: 'key vault', name: 'kv-payments', resourceGroup: 'rg-secrets', subscriptionId: '5ec00000-0000-4000-8000-000000000001' },
      connectionName: 'pe-app.1',
      requester: { subscriptionId: 'a9900000-0000-4000-8000-000000000002', tenantId: FOREIGN_TENANT, badge: 'external' },
      requestMessage: 'app team needs secrets',
      rule: { name: 'everyone-else', summary: 'No rule approves external tenants.' },
      requestedAt: new Date('2026-03-01T09:00:00Z'),
      links: { resource: 'https://portal.azure.com/#resource/subscriptions/5ec00000-0000-4000-8000-000000000001/resourceGroups/rg-secrets/providers/Microsoft.KeyVault/vaults/kv-payments' },
      approverIds: [USER_OID],
    },
    status,
    audience,
  };
}

const NOW = new Date('2026-03-01T10:00:00Z');

function makeBot(overrides: Partial<TeamsBotOptions> = {}) {
  const onCardAction = vi.fn(
    async (action: CardAction): Promise<CardActionResult> => ({
      view: action.verb === 'refresh' ? view() : view({ state: action.verb === 'approve' ? 'approved' : 'rejected', by: action.user, at: NOW }),
      outcome: action.verb === 'refresh' ? 'refreshed' : 'decided',
    }),
  );
  const onRefusedClick = vi.fn(async (_refusal: RefusedClick): Promise<void> => undefined);
  const conversations = new MemoryConversations();
  const log = recordingLog();
  const bot = createTeamsBot({
    botId: BOT_ID,
    tenantId: TENANT,
    serviceUrl: 'https://smba.trafficmanager.net/teams',
    auth: { kind: 'managed-identity', managedIdentityClientId: BOT_ID },
    cloud: { openIdMetadataUrl: `${openId.url}/v1/.well-known/openidconfiguration`, tokenIssuer: ISSUER },
    onCardAction,
    onRefusedClick,
    conversations,
    log,
    now: () => NOW,
    ...overrides,
  });
  return { bot, onCardAction, onRefusedClick, conversations, log };
}

/** Sets environment variables for the duration of `fn`, then puts the old values back. */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]));
  Object.assign(process.env, vars);
  try {
    return await fn();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

// =============================================================================================

describe('inbound authentication: the Bot Framework JWT on /api/messages', () => {
  it('handles a click with a valid token and answers the card from onCardAction', async () => {
    // Prepare
    const { bot, onCardAction } = makeBot();
    // Act
    const response = await bot.handle({ body: cardClick('approve', approveData), headers: bearer(signJwt(connectorClaims())) });
    // Assess
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive', value: { type: 'AdaptiveCard' } });
    expect(onCardAction).toHaveBeenCalledTimes(1);
  });

  // The SDK derives the keys URL from the metadata URL (…/openidconfiguration → …/keys) and
  // fetches it with jwks-rsa, which uses Node's http or https module by the URL's scheme, so a
  // plain-http JWKS on 127.0.0.1 works without any certificate. The metadata document itself is
  // never read.
  it('fetches the signing keys from the keys URL next to the metadata URL', async () => {
    const before = openId.requests.length;
    const { bot } = makeBot();
    await bot.handle({ body: cardClick('refresh', approveData), headers: bearer(signJwt(connectorClaims())) });
    const urls = openId.requests.slice(before).map((request) => request.url);
    expect(urls).toContain('/v1/.well-known/keys');
    expect(urls).not.toContain('/v1/.well-known/openidconfiguration');
  });

  const now = () => Math.floor(Date.now() / 1000);
  const refused: Array<[string, () => Record<string, string>]> = [
    ['the audience is another app', () => bearer(signJwt(connectorClaims({ aud: 'f00f00f0-0000-4000-8000-000000000f00' })))],
    ['the issuer is not the Bot Framework', () => bearer(signJwt(connectorClaims({ iss: 'https://sts.windows.net/evil/' })))],
    ['it is signed by another key under the same kid', () => bearer(signJwt(connectorClaims(), { key: strangerKey.privateKey }))],
    ['its kid is not published', () => bearer(signJwt(connectorClaims(), { kid: 'unknown-kid' }))],
    // The SDK allows 5 minutes of clock skew, so "expired" means more than that ago.
    ['it expired 10 minutes ago', () => bearer(signJwt(connectorClaims({ exp: now() - 600, iat: now() - 4200, nbf: now() - 4200 })))],
    ['it is not valid yet', () => bearer(signJwt(connectorClaims({ nbf: now() + 900 })))],
    ['its serviceurl is not the activity serviceUrl', () => bearer(signJwt(connectorClaims({ serviceurl: 'https://attacker.example/' })))],
    ['it has no serviceurl claim', () => bearer(signJwt(connectorClaims({ serviceurl: undefined })))],
    ['it is unsigned (alg none)', () => bearer(signJwt(connectorClaims(), { alg: 'none' }))],
    [
      'it is HMAC-signed with the public key as secret',
      () => bearer(signJwt(connectorClaims(), { alg: 'HS256', hmacSecret: signingKey.publicKey.export({ type: 'spki', format: 'pem' }).toString() })),
    ],
    ['the Authorization header is missing', () => ({})],
    ['the Authorization header is not a JWT', () => ({ authorization: 'Bearer not-a-token' })],
  ];
  it.each(refused)('answers 401 and does nothing when %s', async (_case, headers) => {
    const { bot, onCardAction, log } = makeBot();
    const response = await bot.handle({ body: cardClick('approve', approveData), headers: headers() });
    expect(response.status).toBe(401);
    expect(onCardAction).not.toHaveBeenCalled();
    // Refused callers are the caller's problem: warnings, not errors.
    expect(log.lines.filter((line) => line.level === 'error')).toEqual([]);
  });

  it('accepts a token that expired within the 5-minute clock skew the SDK allows', async () => {
    const { bot, onCardAction } = makeBot();
    const response = await bot.handle({ body: cardClick('approve', approveData), headers: bearer(signJwt(connectorClaims({ exp: now() - 60 }))) });
    expect(response.status).toBe(200);
    expect(onCardAction).toHaveBeenCalledTimes(1);
  });

  it('refuses an activity without serviceUrl before authentication (the SDK would skip the serviceurl check)', async () => {
    const { bot, onCardAction } = makeBot();
    const withoutServiceUrl = { ...cardClick('approve', approveData), serviceUrl: undefined };
    const response = await bot.handle({ body: withoutServiceUrl, headers: bearer(signJwt(connectorClaims())) });
    expect(response.status).toBe(400);
    expect(onCardAction).not.toHaveBeenCalled();
  });

  it.each([null, [], 'text', 42])('answers 400 for a body that is not an activity (%j)', async (body) => {
    const { bot } = makeBot();
    expect((await bot.handle({ body, headers: bearer(signJwt(connectorClaims())) })).status).toBe(400);
  });

  it('accepts an unsigned request in dev-anonymous mode', async () => {
    const { bot, onCardAction } = makeBot({ auth: { kind: 'dev-anonymous' } });
    const response = await bot.handle({ body: cardClick('approve', approveData), headers: {} });
    expect(response.status).toBe(200);
    expect(onCardAction).toHaveBeenCalledTimes(1);
  });

  it('refuses a fixed outbound token outside dev-anonymous mode', () => {
    expect(() => makeBot({ outboundToken: async () => DEV_OUTBOUND_TOKEN })).toThrow(/dev-anonymous/);
  });
});

describe('card clicks (Universal Actions)', () => {
  async function click(verb: string, data: unknown, from?: Record<string, unknown>) {
    const made = makeBot();
    const response = await made.bot.handle({ body: cardClick(verb, data, from), headers: bearer(signJwt(connectorClaims())) });
    return { ...made, response };
  }

  it('reads an approval with its comment, the user and the tenant', async () => {
    const { onCardAction, response, log } = await click('approve', approveData);
    expect(onCardAction).toHaveBeenCalledWith({
      verb: 'approve',
      approvalKey: APPROVAL_KEY,
      generation: 3,
      comment: 'Looks right',
      user: { id: USER_OID, name: 'Ada Approver', tenantId: TENANT },
    });
    expect(response.body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive' });
    expect(JSON.stringify(response.body)).toContain('Approved');
    expect(log.lines).toContainEqual({ level: 'info', message: expect.stringContaining('approve on') });
  });

  it('reads a rejection', async () => {
    const { onCardAction } = await click('reject', { approvalKey: APPROVAL_KEY, generation: 3, comment: 'Unknown tenant' });
    expect(onCardAction.mock.calls[0]?.[0]).toMatchObject({ verb: 'reject', comment: 'Unknown tenant' });
  });

  it('reads a keep (an out-of-band alert), with its comment', async () => {
    const { onCardAction } = await click('keep', { approvalKey: APPROVAL_KEY, generation: 3, comment: 'Known partner' });
    expect(onCardAction.mock.calls[0]?.[0]).toMatchObject({ verb: 'keep', comment: 'Known partner', user: { id: USER_OID } });
  });

  it('reads a refresh and leaves any comment out', async () => {
    const { onCardAction, response } = await click('refresh', { approvalKey: APPROVAL_KEY, generation: 3, comment: 'typed, not sent' });
    expect(onCardAction.mock.calls[0]?.[0]).toEqual({ verb: 'refresh', approvalKey: APPROVAL_KEY, generation: 3, user: { id: USER_OID, name: 'Ada Approver', tenantId: TENANT } });
    expect(response.body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive' });
  });

  it('drops an empty comment and lower-cases the object ID', async () => {
    const { onCardAction } = await click('approve', { approvalKey: APPROVAL_KEY, generation: 3, comment: '   ' }, { id: '29:1ada', aadObjectId: USER_OID.toUpperCase() });
    expect(onCardAction.mock.calls[0]?.[0]).toEqual({ verb: 'approve', approvalKey: APPROVAL_KEY, generation: 3, user: { id: USER_OID, name: USER_OID, tenantId: TENANT } });
  });

  const malformed: Array<[string, string, unknown, Record<string, unknown>?]> = [
    ['an unknown verb', 'delete', approveData],
    ['no verb', '', approveData],
    ['no data', 'approve', undefined],
    ['no approvalKey', 'approve', { generation: 3 }],
    ['a blank approvalKey', 'approve', { approvalKey: '  ', generation: 3 }],
    ['a generation that is text', 'approve', { approvalKey: APPROVAL_KEY, generation: '3' }],
    ['a fractional generation', 'approve', { approvalKey: APPROVAL_KEY, generation: 2.5 }],
    ['a negative generation', 'approve', { approvalKey: APPROVAL_KEY, generation: -1 }],
    ['no generation', 'approve', { approvalKey: APPROVAL_KEY }],
    ['a comment that is not text', 'approve', { ...approveData, comment: { text: 'x' } }],
    ['a comment longer than the card allows', 'reject', { ...approveData, comment: 'x'.repeat(501) }],
  ];
  it.each(malformed)('answers a message and changes nothing for %s', async (_case, verb, data, from) => {
    const { onCardAction, response, log } = await click(verb, data, from);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: CARD_NOT_UNDERSTOOD });
    expect(onCardAction).not.toHaveBeenCalled();
    expect(log.lines).toContainEqual({ level: 'warn', message: expect.stringContaining('Card click refused') });
  });

  const channelData = (tenant: string | undefined) => ({ ...(tenant ? { tenant: { id: tenant } } : {}), team: { id: CHANNEL, name: 'Platform' }, channel: { id: CHANNEL, name: 'Approvals' } });
  const conversation = (tenant: string | undefined) => ({ id: `${CHANNEL};messageid=1700000000123`, conversationType: 'channel', isGroup: true, ...(tenant ? { tenantId: tenant } : {}) });
  const refused: Array<[string, Record<string, unknown>, Record<string, unknown> | undefined, RefusedClick['reason'], string]> = [
    ['conversation.tenantId names another tenant', { conversation: conversation(FOREIGN_TENANT) }, undefined, 'foreign-tenant', FOREIGN_TENANT_CLICK],
    ['channelData.tenant names another tenant', { channelData: channelData(FOREIGN_TENANT) }, undefined, 'foreign-tenant', FOREIGN_TENANT_CLICK],
    ['both name another tenant', { conversation: conversation(FOREIGN_TENANT), channelData: channelData(FOREIGN_TENANT) }, undefined, 'foreign-tenant', FOREIGN_TENANT_CLICK],
    ['neither names a tenant', { conversation: conversation(undefined), channelData: channelData(undefined) }, undefined, 'no-tenant', NO_TENANT_CLICK],
    ['the user has no Entra object ID', {}, { id: '29:1ada', name: 'Ada' }, 'invalid-object-id', NO_OBJECT_ID_CLICK],
    ['the object ID is not a GUID', {}, { id: '29:1ada', aadObjectId: 'ada@contoso.com', name: 'Ada' }, 'invalid-object-id', NO_OBJECT_ID_CLICK],
  ];
  it.each(refused)('refuses a click with a known approver’s object ID when %s, says why, and hands it to the audit', async (_case, overrides, from, reason, message) => {
    const made = makeBot();
    const response = await made.bot.handle({ body: cardClick('approve', approveData, from, overrides), headers: bearer(signJwt(connectorClaims())) });
    expect(response.body).toEqual({ statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: message });
    expect(made.onCardAction).not.toHaveBeenCalled();
    expect(made.onRefusedClick).toHaveBeenCalledTimes(1);
    expect(made.onRefusedClick.mock.calls[0]?.[0]).toMatchObject({ reason, verb: 'approve', approvalKey: APPROVAL_KEY });
  });

  it('accepts the home tenant in either casing, and a click that names it in only one place', async () => {
    const made = makeBot();
    await made.bot.handle({ body: cardClick('approve', approveData, undefined, { conversation: conversation(TENANT.toUpperCase()), channelData: channelData(undefined) }), headers: bearer(signJwt(connectorClaims())) });
    expect(made.onCardAction).toHaveBeenCalledTimes(1);
    expect(made.onRefusedClick).not.toHaveBeenCalled();
  });

  it('answers a Universal Actions error (statusCode 500) when the click cannot be processed, and logs it', async () => {
    const { bot, onCardAction, log } = makeBot();
    onCardAction.mockRejectedValueOnce(new Error('table unavailable'));
    const response = await bot.handle({ body: cardClick('approve', approveData), headers: bearer(signJwt(connectorClaims())) });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ statusCode: 500, type: 'application/vnd.microsoft.error', value: { message: CLICK_FAILED } });
    expect(log.lines).toContainEqual({ level: 'error', message: expect.stringContaining('table unavailable') });
  });
});

describe('install tracking', () => {
  async function deliver(activity: unknown) {
    const made = makeBot();
    const response = await made.bot.handle({ body: activity, headers: bearer(signJwt(connectorClaims())) });
    return { ...made, response };
  }

  it('saves the conversation with names from channelData when the bot is added to a team', async () => {
    const { conversations, response } = await deliver(botAdded());
    expect(response.status).toBe(200);
    expect(conversations.saved).toEqual([
      {
        conversationId: CHANNEL,
        conversationType: 'channel',
        name: 'Approvals',
        teamId: CHANNEL,
        teamName: 'Platform',
        tenantId: TENANT,
        serviceUrl: ACTIVITY_SERVICE_URL,
        botId: `28:${BOT_ID}`,
        installedAt: NOW,
      },
    ]);
  });

  it('ignores members other than the bot', async () => {
    const { conversations } = await deliver(botAdded({ membersAdded: [{ id: '29:1someone', aadObjectId: USER_OID }] }));
    expect(conversations.saved).toEqual([]);
    expect(conversations.removed).toEqual([]);
  });

  it('marks the conversation removed when the bot is removed', async () => {
    const { conversations } = await deliver(botAdded({ membersAdded: undefined, membersRemoved: [{ id: `28:${BOT_ID}` }], channelData: { eventType: 'teamMemberRemoved', tenant: { id: TENANT } } }));
    expect(conversations.removed).toEqual([{ conversationId: CHANNEL, at: NOW }]);
  });

  it('saves on installationUpdate add (and add-upgrade) and marks removed on remove', async () => {
    const personal = { id: 'a:1personal-chat', conversationType: 'personal', tenantId: TENANT };
    const install = (action: string) => ({ ...botAdded(), type: 'installationUpdate', action, membersAdded: undefined, conversation: personal, channelData: { tenant: { id: TENANT } } });
    const added = await deliver(install('add'));
    expect(added.conversations.saved).toEqual([
      { conversationId: 'a:1personal-chat', conversationType: 'personal', tenantId: TENANT, serviceUrl: ACTIVITY_SERVICE_URL, botId: `28:${BOT_ID}`, installedAt: NOW },
    ]);
    expect((await deliver(install('add-upgrade'))).conversations.saved).toHaveLength(1);
    expect((await deliver(install('remove'))).conversations.removed).toEqual([{ conversationId: 'a:1personal-chat', at: NOW }]);
  });

  it('answers 500 and logs when the install cannot be stored, so the channel can deliver it again', async () => {
    const { bot, conversations, log } = makeBot();
    conversations.save = async () => {
      throw new Error('table unavailable');
    };
    const response = await bot.handle({ body: botAdded(), headers: bearer(signJwt(connectorClaims())) });
    expect(response.status).toBe(500);
    expect(log.lines).toContainEqual({ level: 'error', message: expect.stringContaining('table unavailable') });
  });

  it('does not record a conversation of another tenant', async () => {
    const { conversations, log } = await deliver(
      botAdded({ conversation: { id: CHANNEL, conversationType: 'channel', tenantId: FOREIGN_TENANT }, channelData: { eventType: 'teamMemberAdded', tenant: { id: FOREIGN_TENANT } } }),
    );
    expect(conversations.saved).toEqual([]);
    expect(log.lines).toContainEqual({ level: 'warn', message: expect.stringContaining(FOREIGN_TENANT) });
  });

  // A team whose General channel (ID = team ID) is where the install arrives, and the channel
  // picked during install, named in channelData.settings.selectedChannel.
  const TEAM = '19:7ea3f00d0c6a4e1f@thread.tacv2';
  const OTHER_TEAM = '19:0the4tea3b6a4e1f@thread.tacv2';
  const onGeneral = { id: TEAM, conversationType: 'channel', tenantId: TENANT, isGroup: true };
  const teamData = { tenant: { id: TENANT }, team: { id: TEAM, name: 'Platform' }, settings: { selectedChannel: { id: CHANNEL, name: 'Approvals' } } };
  const installedInTeam = (overrides: Partial<ConversationReference> = {}): ConversationReference => ({
    conversationId: TEAM,
    conversationType: 'channel',
    teamId: TEAM,
    teamName: 'Platform',
    tenantId: TENANT,
    serviceUrl: ACTIVITY_SERVICE_URL,
    botId: `28:${BOT_ID}`,
    installedAt: NOW,
    ...overrides,
  });

  it('saves the General channel the install arrived on and the channel picked during install', async () => {
    const { conversations, response } = await deliver(botAdded({ conversation: onGeneral, channelData: { eventType: 'teamMemberAdded', ...teamData } }));
    expect(response.status).toBe(200);
    expect(conversations.saved).toEqual([installedInTeam({ name: 'General' }), installedInTeam({ conversationId: CHANNEL, name: 'Approvals' })]);
  });

  it('does the same for installationUpdate, whose channel is the conversation, and takes a picked channel without a name', async () => {
    const install = {
      ...botAdded(),
      type: 'installationUpdate',
      action: 'add',
      membersAdded: undefined,
      conversation: onGeneral,
      channelData: { ...teamData, settings: { selectedChannel: { id: CHANNEL } }, channel: { id: TEAM }, source: { name: 'message' } },
    };
    const { conversations } = await deliver(install);
    expect(conversations.saved).toEqual([installedInTeam({ name: 'General' }), installedInTeam({ conversationId: CHANNEL })]);
  });

  it('saves one conversation when the install arrives on the picked channel itself', async () => {
    const { conversations } = await deliver(
      botAdded({
        conversation: { id: CHANNEL, conversationType: 'channel', tenantId: TENANT, isGroup: true, name: 'Approvals' },
        channelData: { eventType: 'teamMemberAdded', ...teamData, settings: { selectedChannel: { id: CHANNEL } } },
      }),
    );
    expect(conversations.saved).toEqual([installedInTeam({ conversationId: CHANNEL, name: 'Approvals' })]);
  });

  it('marks every stored conversation of the team removed when the bot leaves the team, and no other', async () => {
    const { bot, conversations } = makeBot();
    const headers = bearer(signJwt(connectorClaims()));
    await bot.handle({ body: botAdded({ conversation: onGeneral, channelData: { eventType: 'teamMemberAdded', ...teamData } }), headers });
    await conversations.save(installedInTeam({ conversationId: '19:elsewhere@thread.tacv2', teamId: OTHER_TEAM }));
    const left = botAdded({ membersAdded: undefined, membersRemoved: [{ id: `28:${BOT_ID}` }], conversation: onGeneral, channelData: { eventType: 'teamMemberRemoved', tenant: { id: TENANT }, team: { id: TEAM } } });

    const response = await bot.handle({ body: left, headers });

    expect(response.status).toBe(200);
    expect(conversations.removed).toEqual([
      { conversationId: TEAM, at: NOW },
      { conversationId: CHANNEL, at: NOW },
    ]);
    expect((await conversations.list()).filter((c) => !c.removedAt).map((c) => c.conversationId)).toEqual(['19:elsewhere@thread.tacv2']);
  });

  it('marks the team\'s conversations removed on installationUpdate remove, and the channel it names', async () => {
    const { bot, conversations } = makeBot();
    const headers = bearer(signJwt(connectorClaims()));
    await conversations.save(installedInTeam({ conversationId: '19:third@thread.tacv2' }));
    const uninstall = { ...botAdded(), type: 'installationUpdate', action: 'remove', membersAdded: undefined, conversation: onGeneral, channelData: teamData };

    await bot.handle({ body: uninstall, headers });

    expect(conversations.removed.map((r) => r.conversationId).sort()).toEqual([CHANNEL, TEAM, '19:third@thread.tacv2'].sort());
  });

  it('ignores a removal from another tenant', async () => {
    const { bot, conversations, log } = makeBot();
    await conversations.save(installedInTeam());
    const left = botAdded({
      membersAdded: undefined,
      membersRemoved: [{ id: `28:${BOT_ID}` }],
      conversation: { ...onGeneral, tenantId: FOREIGN_TENANT },
      channelData: { eventType: 'teamMemberRemoved', tenant: { id: FOREIGN_TENANT }, team: { id: TEAM } },
    });

    await bot.handle({ body: left, headers: bearer(signJwt(connectorClaims())) });

    expect(conversations.removed).toEqual([]);
    expect(log.lines).toContainEqual({ level: 'warn', message: expect.stringContaining(FOREIGN_TENANT) });
  });
});

describe('TableConversationsStore against Azurite', () => {
  let seq = 0;
  const store = () => new TableConversationsStore(createTableClient({ kind: 'connectionString', connectionString: azurite.connectionString }, `conversations${++seq}`));
  const reference = (conversationId: string, extra: Partial<ConversationReference> = {}): ConversationReference => ({
    conversationId,
    conversationType: 'channel',
    serviceUrl: ACTIVITY_SERVICE_URL,
    installedAt: new Date('2026-03-01T10:00:00Z'),
    ...extra,
  });

  it('keeps IDs with : @ ; and / intact and reads back every field', async () => {
    const conversations = store();
    const full = reference('19:abc/def@thread.tacv2;messageid=1', { name: 'Approvals', teamId: CHANNEL, teamName: 'Platform', tenantId: TENANT, botId: `28:${BOT_ID}` });
    await conversations.save(full);
    await conversations.save(reference('a:1personal#chat?x'));
    expect(await conversations.get(full.conversationId)).toEqual(full);
    expect(await conversations.get('a:1personal#chat?x')).toEqual(reference('a:1personal#chat?x'));
    expect(await conversations.get('19:missing@thread.tacv2')).toBeUndefined();
    expect((await conversations.list()).map((c) => c.conversationId).sort()).toEqual(['19:abc/def@thread.tacv2;messageid=1', 'a:1personal#chat?x']);
  });

  it('marks a conversation removed, and a reinstall clears the mark', async () => {
    const conversations = store();
    await conversations.save(reference(CHANNEL));
    const removedAt = new Date('2026-03-02T08:00:00Z');
    await conversations.markRemoved(CHANNEL, removedAt);
    expect(await conversations.get(CHANNEL)).toEqual({ ...reference(CHANNEL), removedAt });
    await conversations.save(reference(CHANNEL, { installedAt: new Date('2026-03-03T08:00:00Z') }));
    expect((await conversations.get(CHANNEL))?.removedAt).toBeUndefined();
  });

  it('ignores the removal of a conversation it never saw', async () => {
    const conversations = store();
    await expect(conversations.markRemoved('19:never@thread.tacv2', new Date())).resolves.toBeUndefined();
    expect(await conversations.list()).toEqual([]);
  });

  it('is what the bot saves installs into', async () => {
    const conversations = store();
    const { bot } = makeBot({ conversations });
    await bot.handle({ body: botAdded(), headers: bearer(signJwt(connectorClaims())) });
    expect(await conversations.get(CHANNEL)).toMatchObject({ conversationId: CHANNEL, name: 'Approvals', teamName: 'Platform', installedAt: NOW });
  });

  it('holds both conversations of a team install, and the team removal marks both', async () => {
    const conversations = store();
    const { bot } = makeBot({ conversations });
    const headers = bearer(signJwt(connectorClaims()));
    const team = '19:7ea3f00d0c6a4e1f@thread.tacv2';
    const general = { id: team, conversationType: 'channel', tenantId: TENANT, isGroup: true };
    await bot.handle({
      body: botAdded({ conversation: general, channelData: { eventType: 'teamMemberAdded', tenant: { id: TENANT }, team: { id: team, name: 'Platform' }, settings: { selectedChannel: { id: CHANNEL, name: 'Approvals' } } } }),
      headers,
    });
    expect((await conversations.list()).map((c) => [c.conversationId, c.name, c.teamId]).sort()).toEqual([
      [CHANNEL, 'Approvals', team],
      [team, 'General', team],
    ]);

    const at = new Date('2026-03-01T10:00:00Z');
    await bot.handle({ body: botAdded({ membersAdded: undefined, membersRemoved: [{ id: `28:${BOT_ID}` }], conversation: general, channelData: { eventType: 'teamMemberRemoved', tenant: { id: TENANT }, team: { id: team } } }), headers });
    expect((await conversations.list()).map((c) => c.removedAt)).toEqual([at, at]);
  });
});

describe('notifier through the Teams SDK against a fake Bot Connector', () => {
  let connector: JsonServer;
  let script: Reply[] = [];
  let nextId = 1700000000100;

  beforeAll(async () => {
    connector = await startJsonServer((request) => {
      const scripted = script.shift();
      if (scripted) return scripted;
      if (request.method === 'POST' && /\/activities$/.test(request.url)) return { status: 201, body: { id: String(nextId++) } };
      if (request.method === 'PUT') return { status: 200, body: { id: request.url.split('/').pop() } };
      return { status: 404, body: { error: { code: 'NotFound', message: request.url } } };
    });
  });
  afterAll(async () => connector?.close());

  const devBot = () => makeBot({ auth: { kind: 'dev-anonymous' }, serviceUrl: connector.url, outboundToken: async () => DEV_OUTBOUND_TOKEN });

  it('posts a card, honouring Retry-After on a 429, and answers the new activity ID', async () => {
    const { bot, log } = devBot();
    script = [{ status: 429, headers: { 'retry-after': '1' }, body: { error: { code: 'Throttled', message: 'slow down' } } }];
    const before = connector.requests.length;
    const started = Date.now();
    const { activityId } = await bot.notifier.post(CHANNEL, view({ state: 'awaiting' }, 'shared'));
    const elapsed = Date.now() - started;
    const requests = connector.requests.slice(before);
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([`POST /v3/conversations/${CHANNEL}/activities`, `POST /v3/conversations/${CHANNEL}/activities`]);
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(activityId).toMatch(/^\d+$/);
    expect(requests[1]?.headers.authorization).toBe(`Bearer ${DEV_OUTBOUND_TOKEN}`);
    expect(requests[1]?.body).toMatchObject({ type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive' }], conversation: { id: CHANNEL } });
    // The wait came from Retry-After (1 s), not from the backoff.
    expect(log.lines).toContainEqual({ level: 'warn', message: expect.stringMatching(/HTTP 429 \(Throttled: slow down\); retry 1 of 3 in 1000 ms$/) });
  });

  it('updates the card in place with PUT …/activities/{id}', async () => {
    const { bot } = devBot();
    const before = connector.requests.length;
    await bot.notifier.update(CHANNEL, '1700000000123', view({ state: 'approved', by: { id: USER_OID, name: 'Ada' }, at: NOW }, 'shared'));
    const [put] = connector.requests.slice(before);
    expect(`${put?.method} ${put?.url}`).toBe(`PUT /v3/conversations/${CHANNEL}/activities/1700000000123`);
    expect(put?.body).toMatchObject({ type: 'message', id: '1700000000123', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive' }] });
  });

  it('replies in the card thread through conversationId;messageid=…', async () => {
    const { bot } = devBot();
    const before = connector.requests.length;
    await bot.notifier.reply(CHANNEL, '1700000000123', 'Reminder: still waiting for a decision.');
    const [post] = connector.requests.slice(before);
    expect(`${post?.method} ${post?.url}`).toBe(`POST /v3/conversations/${CHANNEL};messageid=1700000000123/activities`);
    expect(post?.body).toMatchObject({ type: 'message', text: 'Reminder: still waiting for a decision.' });
  });

  it('does not retry a 403 and says what failed', async () => {
    const { bot } = devBot();
    script = [{ status: 403, body: { error: { code: 'BotNotInConversationRoster', message: 'The bot is not part of the conversation roster.' } } }];
    const before = connector.requests.length;
    const failure = await bot.notifier.post(CHANNEL, view({ state: 'awaiting' }, 'shared')).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TeamsDeliveryError);
    expect(failure).toMatchObject({ status: 403, attempts: 1, operation: 'post', message: expect.stringContaining('BotNotInConversationRoster') });
    expect(connector.requests.length - before).toBe(1);
  });

  it('gets the outbound token from the managed identity as the bot (no secret), for the Bot Framework', async () => {
    const miToken = signJwt({ aud: 'https://api.botframework.com', exp: Math.floor(Date.now() / 1000) + 3600 });
    const identity = await startJsonServer(() => ({
      status: 200,
      body: { access_token: miToken, expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource: 'https://api.botframework.com', token_type: 'Bearer', client_id: BOT_ID },
    }));
    try {
      await withEnv({ IDENTITY_ENDPOINT: `${identity.url}/msi/token`, IDENTITY_HEADER: 'functions-identity-header', CLIENT_SECRET: 'must-not-be-used' }, async () => {
        const { bot } = makeBot({ serviceUrl: connector.url });
        const before = connector.requests.length;
        await bot.notifier.post(CHANNEL, view({ state: 'awaiting' }, 'shared'));
        expect(connector.requests[before]?.headers.authorization).toBe(`Bearer ${miToken}`);
      });
      const asked = new URL(identity.requests[0]!.url, identity.url);
      expect(asked.pathname).toBe('/msi/token');
      expect(asked.searchParams.get('resource')).toBe('https://api.botframework.com');
      expect(asked.searchParams.get('client_id')).toBe(BOT_ID);
      expect(identity.requests[0]?.headers['x-identity-header']).toBe('functions-identity-header');
    } finally {
      await identity.close();
    }
  });
});

describe('notifier retries (fake connector calls, virtual sleep)', () => {
  function httpError(status: number, headers: Record<string, string> = {}) {
    return Object.assign(new Error(`Request failed with status code ${status}`), { response: { status, headers, data: {} } });
  }
  function notifierWith(failures: unknown[], retry?: Parameters<typeof createTeamsNotifier>[0]['retry']) {
    const sleeps: number[] = [];
    let calls = 0;
    const calls_ = () => calls;
    const connectorCalls: BotConnectorCalls = {
      send: async () => {
        calls += 1;
        const failure = failures.shift();
        if (failure) throw failure;
        return 'activity-1';
      },
      update: async () => undefined,
      reply: async () => undefined,
    };
    const pacer = new ConversationPacer({ now: () => 0, sleep: async () => undefined, limits: [{ count: 1_000, windowMs: 1 }] });
    const notifier = createTeamsNotifier({
      connector: connectorCalls,
      pacer,
      log: { warn: () => undefined },
      sleep: async (ms) => void sleeps.push(ms),
      random: () => 0.5,
      now: () => new Date('2026-03-01T10:00:00Z'),
      ...(retry ? { retry } : {}),
    });
    return { notifier, sleeps, calls: calls_ };
  }

  it.each([412, 502, 504])('retries %i with growing backoff', async (status) => {
    const { notifier, sleeps, calls } = notifierWith([httpError(status), httpError(status)]);
    await expect(notifier.post(CHANNEL, view())).resolves.toEqual({ activityId: 'activity-1' });
    expect(calls()).toBe(3);
    expect(sleeps).toEqual([750, 1_500]);
  });

  it('caps a long Retry-After at 60 seconds and reads HTTP dates', async () => {
    const { notifier, sleeps } = notifierWith([httpError(429, { 'retry-after': '3600' }), httpError(429, { 'retry-after': 'Sun, 01 Mar 2026 10:00:05 GMT' })]);
    await notifier.post(CHANNEL, view());
    expect(sleeps).toEqual([60_000, 5_000]);
  });

  it('backs off on a 429 without Retry-After', async () => {
    const { notifier, sleeps } = notifierWith([httpError(429)]);
    await notifier.post(CHANNEL, view());
    expect(sleeps).toEqual([750]);
  });

  it('gives up after the last attempt with the last status', async () => {
    const { notifier, calls } = notifierWith([httpError(502), httpError(502), httpError(504), httpError(429)]);
    await expect(notifier.post(CHANNEL, view())).rejects.toMatchObject({ name: 'TeamsDeliveryError', status: 429, attempts: 4 });
    expect(calls()).toBe(4);
  });

  it('does not retry a network error (a timed-out POST may have been delivered)', async () => {
    const { notifier, calls } = notifierWith([Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })]);
    await expect(notifier.post(CHANNEL, view())).rejects.toMatchObject({ status: undefined, attempts: 1 });
    expect(calls()).toBe(1);
  });
});

describe('environment isolation: the SDK reads nothing from process.env', () => {
  const JUNK = {
    CLIENT_ID: '0bad0bad-0000-4000-8000-00000000bad0',
    CLIENT_SECRET: 'junk-secret',
    TENANT_ID: '0bad0bad-0000-4000-8000-00000000bad1',
    SERVICE_URL: 'http://127.0.0.1:9/junk-service-url',
    MANAGED_IDENTITY_CLIENT_ID: '0bad0bad-0000-4000-8000-00000000bad2',
    CLOUD: 'USGov',
    OAUTH_URL: 'http://127.0.0.1:9/junk-oauth',
    DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS: 'true',
    LOG: '*',
    LOG_LEVEL: 'trace',
  };

  it('keeps the explicit credentials, cloud and service URL', async () => {
    await withEnv(JUNK, async () => {
      const app = new App(
        teamsAppOptions(
          {
            botId: BOT_ID,
            tenantId: TENANT,
            serviceUrl: 'https://smba.trafficmanager.net/teams',
            auth: { kind: 'managed-identity', managedIdentityClientId: BOT_ID },
            onCardAction: async () => {
              throw new Error('unused');
            },
            onRefusedClick: async () => {
              throw new Error('unused');
            },
            conversations: new MemoryConversations(),
            log: recordingLog(),
          },
          { registerRoute: () => undefined },
        ),
      );
      // Managed identity as the bot itself: no secret, no federated credential.
      expect(app.credentials).toEqual({ clientId: BOT_ID, tenantId: TENANT });
      expect(app.api.serviceUrl).toBe('https://smba.trafficmanager.net/teams');
      expect(app.cloud.openIdMetadataUrl).toBe('https://login.botframework.com/v1/.well-known/openidconfiguration');
      expect(app.cloud.botScope).toBe('https://api.botframework.com/.default');
    });
  });

  it('still requires a token, for the configured bot ID, with DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS and CLIENT_ID set', async () => {
    await withEnv(JUNK, async () => {
      const { bot, onCardAction } = makeBot();
      expect((await bot.handle({ body: cardClick('approve', approveData), headers: {} })).status).toBe(401);
      expect((await bot.handle({ body: cardClick('approve', approveData), headers: bearer(signJwt(connectorClaims({ aud: JUNK.CLIENT_ID }))) })).status).toBe(401);
      expect((await bot.handle({ body: cardClick('approve', approveData), headers: bearer(signJwt(connectorClaims())) })).status).toBe(200);
      expect(onCardAction).toHaveBeenCalledTimes(1);
    });
  });

  it('sends to the configured service URL with the configured token', async () => {
    const connector = await startJsonServer(() => ({ status: 201, body: { id: '1700000000999' } }));
    try {
      await withEnv(JUNK, async () => {
        const { bot } = makeBot({ auth: { kind: 'dev-anonymous' }, serviceUrl: connector.url, outboundToken: async () => DEV_OUTBOUND_TOKEN });
        await expect(bot.notifier.post(CHANNEL, view())).resolves.toEqual({ activityId: '1700000000999' });
      });
      expect(connector.requests).toHaveLength(1);
      expect(connector.requests[0]?.headers.authorization).toBe(`Bearer ${DEV_OUTBOUND_TOKEN}`);
    } finally {
      await connector.close();
    }
  });
});
