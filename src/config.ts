import { readFileSync } from 'node:fs';
import { ConfigError } from './domain/errors.js';
import { isLoopback } from './shared/http.js';
import { isGuid } from './domain/resource-id.js';
import { parseResourceTypeList, type ResourceType } from './domain/resource-types.js';
import type { ReviewDefaults } from './domain/review.js';
import { MAX_REQUIRED_APPROVALS } from './domain/policy/rule.js';

/**
 * Every setting Linkgate reads, validated once at cold start into a frozen object.
 * A missing or malformed setting stops startup with a message that names it.
 *
 * Endpoints and the credential are configuration, so the same code runs against Azure,
 * a sovereign cloud, or local emulators.
 */
export interface Config {
  readonly devMode: boolean;
  readonly homeTenantId: string;
  readonly arm: {
    readonly endpoint: string;
    /** PEM text of extra CAs for ARM. Absent: Node's store (which honours NODE_EXTRA_CA_CERTS). */
    readonly caPem?: string;
    readonly maxRetries: number;
    readonly maxRetryAfterMs: number;
  };
  readonly credential: { readonly kind: 'default'; readonly managedIdentityClientId?: string } | { readonly kind: 'dev-token' };
  readonly tables:
    | { readonly kind: 'endpoint'; readonly endpoint: string }
    | { readonly kind: 'connectionString'; readonly connectionString: string };
  readonly tenantCacheTtlMs: number;
  readonly tenantCacheNotVisibleTtlMs: number;
  readonly leaseMs: number;
  readonly actionTimeoutMs: number;
  /** The shortest and longest wait between two polls after an approve or reject PUT; Azure's Retry-After is held within them. */
  readonly pollMinMs: number;
  readonly pollMaxMs: number;
  readonly maxAttempts: number;
  /** The spacing after a connection's first failed attempt; each later one waits twice as long. */
  readonly retryBaseMs: number;
  /** How long the first hint for a resource waits for others to share its look (LINKGATE_HINT_DEBOUNCE_MS). */
  readonly hintDebounceMs: number;
  /** How long the rules and the hold are held in memory between decisions (LINKGATE_RULES_CACHE_MS; writes here drop them at once). */
  readonly rulesCacheMs: number;
  /** The subscriptions the sweep looks in (LINKGATE_SWEEP_SUBSCRIPTIONS); empty when it looks tenant-wide or nowhere. */
  readonly sweepSubscriptions: readonly string[];
  /** The sweep: where it looks, through what, how often and how many ARM reads at once. */
  readonly sweep: {
    /** `*`: every subscription the identity can read (Resource Graph at tenant scope); none: only open records. */
    readonly scope: { readonly kind: 'tenant' } | { readonly kind: 'subscriptions'; readonly subscriptionIds: readonly string[] } | undefined;
    readonly source: 'resource-graph' | 'arm';
    readonly intervalMinutes: number;
    readonly concurrency: number;
  };
  /** The resource types whose events are acted on and that the sweep lists (LINKGATE_RESOURCE_TYPES; default all). */
  readonly resourceTypes: readonly ResourceType[];
  readonly reviewDefaults: ReviewDefaults;
  /** Absent when no bot is configured: reviews are then recorded and wait, with no cards. */
  readonly teams?: TeamsConfig;
  /** Who may call the admin APIs. Absent (no LINKGATE_API_CLIENT_ID): every admin request is refused. */
  readonly auth?: AuthConfig;
  readonly ruleChanges: RuleChangeConfig;
}

export interface AuthConfig {
  /** Entra login endpoint without a tenant (a sovereign cloud's, or the local issuer in dev mode). */
  readonly authority: string;
  /** The API application's client ID; tokens must be issued for it. */
  readonly clientId: string;
  /** Audiences accepted: the client ID and the application ID URI. */
  readonly audiences: readonly string[];
}

export interface RuleChangeConfig {
  /** A second person with Rules.Write confirms changes that could approve, reject or change approvers (LINKGATE_FOUR_EYES). */
  readonly fourEyes: boolean;
  readonly proposalTtlMs: number;
  /** Teams conversation told of every rule change and proposal (LINKGATE_ADMIN_CONVERSATION). */
  readonly adminConversation?: string;
}

export interface TeamsConfig {
  /** The bot's app ID: in Azure, the client ID of its user-assigned managed identity. */
  readonly botId: string;
  readonly tenantId: string;
  readonly serviceUrl: string;
  readonly auth: { readonly kind: 'managed-identity'; readonly managedIdentityClientId: string } | { readonly kind: 'dev-anonymous' };
  /** Replaces the Bot Framework OpenID metadata and token issuer (dev mode only). */
  readonly cloud?: { readonly openIdMetadataUrl: string; readonly tokenIssuer: string };
}


type Env = Readonly<Record<string, string | undefined>>;

export function loadConfig(env: Env = process.env): Config {
  const devMode = bool(env, 'LINKGATE_DEV_MODE', false);
  // App Service and Functions set these on every instance; dev mode there would let a copied
  // setting switch off authentication in production.
  const hosting = AZURE_HOSTING_VARIABLES.find((name) => optional(env, name));
  if (devMode && hosting) {
    throw new ConfigError('LINKGATE_DEV_MODE', `is true on an Azure host (${hosting} is set); dev mode is only for local emulators`);
  }
  // The real guard: a VM or a container sets none of the variables above.
  if (devMode) requireLoopbackEndpoints(env);
  const homeTenantId = required(env, 'LINKGATE_HOME_TENANT_ID');
  if (!isGuid(homeTenantId)) throw new ConfigError('LINKGATE_HOME_TENANT_ID', `must be a tenant GUID, got '${homeTenantId}'`);

  const armEndpoint = url(env, 'LINKGATE_ARM_ENDPOINT', DEFAULT_ARM_ENDPOINT, ['https:']);
  const caFile = optional(env, 'LINKGATE_ARM_CA_FILE');
  let caPem: string | undefined;
  if (caFile) {
    try {
      caPem = readFileSync(caFile, 'utf8');
    } catch (error) {
      throw new ConfigError('LINKGATE_ARM_CA_FILE', `names a file that cannot be read: ${(error as Error).message}`);
    }
    if (!caPem.includes('BEGIN CERTIFICATE')) throw new ConfigError('LINKGATE_ARM_CA_FILE', 'must name a PEM certificate file');
  }

  const credentialKind = optional(env, 'LINKGATE_CREDENTIAL') ?? 'default';
  let credential: Config['credential'];
  if (credentialKind === 'default') {
    const clientId = optional(env, 'AZURE_CLIENT_ID');
    if (clientId && !isGuid(clientId)) throw new ConfigError('AZURE_CLIENT_ID', `must be a client ID GUID, got '${clientId}'`);
    credential = clientId ? { kind: 'default', managedIdentityClientId: clientId } : { kind: 'default' };
  } else if (credentialKind === 'dev-token') {
    // A fixed bearer token only makes sense against a local ARM emulator. It is used for ARM
    // only; a configured Table endpoint still gets DefaultAzureCredential.
    if (!devMode) throw new ConfigError('LINKGATE_CREDENTIAL', "is 'dev-token', which needs LINKGATE_DEV_MODE=true");
    if (!isLoopback(armEndpoint)) throw new ConfigError('LINKGATE_CREDENTIAL', `is 'dev-token', which only works with a local ARM emulator, but LINKGATE_ARM_ENDPOINT is ${armEndpoint}`);
    credential = { kind: 'dev-token' };
  } else {
    throw new ConfigError('LINKGATE_CREDENTIAL', `must be 'default' or 'dev-token', got '${credentialKind}'`);
  }

  const tablesEndpoint = optional(env, 'LINKGATE_TABLES_ENDPOINT');
  const tablesConnection = optional(env, 'LINKGATE_TABLES_CONNECTION_STRING');
  let tables: Config['tables'];
  if (tablesEndpoint && tablesConnection) {
    throw new ConfigError('LINKGATE_TABLES_ENDPOINT', 'and LINKGATE_TABLES_CONNECTION_STRING are both set; set one');
  } else if (tablesEndpoint) {
    const endpoint = url(env, 'LINKGATE_TABLES_ENDPOINT', undefined, ['https:', 'http:']);
    if (endpoint.startsWith('http:') && !isLoopback(endpoint)) {
      throw new ConfigError('LINKGATE_TABLES_ENDPOINT', `must use https unless it is a local emulator on 127.0.0.1 or localhost, got '${endpoint}'`);
    }
    tables = { kind: 'endpoint', endpoint };
  } else if (tablesConnection) {
    if (!/(AccountName|TableEndpoint|UseDevelopmentStorage)=/i.test(tablesConnection)) {
      throw new ConfigError('LINKGATE_TABLES_CONNECTION_STRING', 'is not a storage connection string (no AccountName, TableEndpoint or UseDevelopmentStorage)');
    }
    const tableEndpoint = /TableEndpoint=([^;]+)/i.exec(tablesConnection)?.[1];
    const plainHttp = tableEndpoint ? tableEndpoint.startsWith('http:') && !isLoopback(tableEndpoint) : /DefaultEndpointsProtocol=http(;|$)/i.test(tablesConnection);
    if (plainHttp) {
      throw new ConfigError('LINKGATE_TABLES_CONNECTION_STRING', 'uses plain http for an account that is not a local emulator; keys would travel in clear text');
    }
    tables = { kind: 'connectionString', connectionString: tablesConnection };
  } else {
    throw new ConfigError('LINKGATE_TABLES_ENDPOINT', 'is missing (or set LINKGATE_TABLES_CONNECTION_STRING)');
  }

  const sweepList = list(env, 'LINKGATE_SWEEP_SUBSCRIPTIONS');
  const tenantWide = sweepList.length === 1 && sweepList[0] === '*';
  const sweepSubscriptions = tenantWide
    ? []
    : sweepList.map((sub) => {
        if (!isGuid(sub)) throw new ConfigError('LINKGATE_SWEEP_SUBSCRIPTIONS', `holds '${sub}', which is not a subscription GUID (or give '*' alone for every subscription Linkgate can read)`);
        return sub.toLowerCase();
      });
  const sweepSource = optional(env, 'LINKGATE_SWEEP_SOURCE') ?? 'resource-graph';
  if (sweepSource !== 'resource-graph' && sweepSource !== 'arm') throw new ConfigError('LINKGATE_SWEEP_SOURCE', `must be 'resource-graph' or 'arm', got '${sweepSource}'`);
  if (tenantWide && sweepSource === 'arm') {
    throw new ConfigError('LINKGATE_SWEEP_SUBSCRIPTIONS', "'*' needs LINKGATE_SWEEP_SOURCE=resource-graph: listing through ARM needs the subscriptions named");
  }
  const sweepInterval = int(env, 'LINKGATE_SWEEP_INTERVAL_MINUTES', 15, 1, 1440);
  if (!SWEEP_INTERVALS.includes(sweepInterval)) {
    throw new ConfigError('LINKGATE_SWEEP_INTERVAL_MINUTES', `must divide an hour or a day evenly (one of ${SWEEP_INTERVALS.join(', ')}), got ${sweepInterval}`);
  }

  // Retry-After is whole seconds in practice (docs: "Track asynchronous Azure operations"), but
  // a provider may answer 0, or far longer than an action may wait: these bound it.
  const pollMinMs = int(env, 'LINKGATE_POLL_MIN_MS', 100, 10, 60_000);
  const pollMaxMs = int(env, 'LINKGATE_POLL_MAX_MS', 10_000, 100, 600_000);
  if (pollMinMs > pollMaxMs) throw new ConfigError('LINKGATE_POLL_MIN_MS', `is ${pollMinMs}, more than LINKGATE_POLL_MAX_MS (${pollMaxMs}); the shortest wait between polls cannot be longer than the longest`);

  const reviewDefaults = loadReviewDefaults(env);
  const teams = loadTeams(env, devMode, homeTenantId.toLowerCase());
  const auth = loadAuth(env, devMode);

  return Object.freeze({
    devMode,
    homeTenantId: homeTenantId.toLowerCase(),
    arm: Object.freeze({
      endpoint: armEndpoint,
      ...(caPem ? { caPem } : {}),
      maxRetries: int(env, 'LINKGATE_ARM_MAX_RETRIES', 4, 0, 10),
      maxRetryAfterMs: int(env, 'LINKGATE_ARM_MAX_RETRY_AFTER_SECONDS', 20, 0, 300) * 1000,
    }),
    credential: Object.freeze(credential),
    tables: Object.freeze(tables),
    tenantCacheTtlMs: int(env, 'LINKGATE_TENANT_CACHE_TTL_SECONDS', 3600, 0, 7 * 24 * 3600) * 1000,
    tenantCacheNotVisibleTtlMs: int(env, 'LINKGATE_TENANT_CACHE_NOT_VISIBLE_TTL_SECONDS', 300, 0, 24 * 3600) * 1000,
    leaseMs: int(env, 'LINKGATE_LEASE_SECONDS', 300, 5, 3600) * 1000,
    actionTimeoutMs: int(env, 'LINKGATE_ACTION_TIMEOUT_SECONDS', 20, 1, 600) * 1000,
    pollMinMs,
    pollMaxMs,
    maxAttempts: int(env, 'LINKGATE_MAX_ATTEMPTS', 5, 1, 100),
    retryBaseMs: Math.round(number(env, 'LINKGATE_RETRY_BASE_SECONDS', 30, 0.01, 3600) * 1000),
    hintDebounceMs: int(env, 'LINKGATE_HINT_DEBOUNCE_MS', 50, 0, 5_000),
    rulesCacheMs: int(env, 'LINKGATE_RULES_CACHE_MS', 5_000, 0, 60_000),
    sweepSubscriptions: Object.freeze(sweepSubscriptions),
    sweep: Object.freeze({
      scope: tenantWide ? { kind: 'tenant' as const } : sweepSubscriptions.length > 0 ? { kind: 'subscriptions' as const, subscriptionIds: Object.freeze(sweepSubscriptions) } : undefined,
      source: sweepSource,
      intervalMinutes: sweepInterval,
      concurrency: int(env, 'LINKGATE_SWEEP_CONCURRENCY', 16, 1, 64),
    }),
    resourceTypes: parseResourceTypeList(env.LINKGATE_RESOURCE_TYPES, 'LINKGATE_RESOURCE_TYPES'),
    reviewDefaults: Object.freeze(reviewDefaults),
    ...(teams ? { teams: Object.freeze(teams) } : {}),
    ...(auth ? { auth: Object.freeze(auth) } : {}),
    ruleChanges: Object.freeze({
      fourEyes: bool(env, 'LINKGATE_FOUR_EYES', true),
      proposalTtlMs: int(env, 'LINKGATE_RULE_PROPOSAL_TTL_HOURS', 72, 1, 30 * 24) * 3_600_000,
      ...(optional(env, 'LINKGATE_ADMIN_CONVERSATION') ? { adminConversation: (optional(env, 'LINKGATE_ADMIN_CONVERSATION') as string).slice(0, 512) } : {}),
    }),
  });
}

/**
 * Entra login endpoints of the public and sovereign clouds (learn.microsoft.com, "National
 * clouds": Azure AD authentication endpoints). Admin tokens are only ever checked against these,
 * or against the local issuer on a loopback address in dev mode.
 */
export const ENTRA_AUTHORITIES = ['https://login.microsoftonline.com', 'https://login.microsoftonline.us', 'https://login.chinacloudapi.cn', 'https://login.partner.microsoftonline.cn'];

function loadAuth(env: Env, devMode: boolean): AuthConfig | undefined {
  const clientId = optional(env, 'LINKGATE_API_CLIENT_ID');
  if (!clientId) return undefined;
  if (!isGuid(clientId)) throw new ConfigError('LINKGATE_API_CLIENT_ID', `must be the API application's client ID (a GUID), got '${clientId}'`);
  const authority = url(env, 'LINKGATE_AUTH_AUTHORITY', ENTRA_AUTHORITIES[0], devMode ? ['https:', 'http:'] : ['https:']);
  // In dev mode any authority passes here: devModeEndpoints has already held it to a loopback address.
  if (!devMode && !ENTRA_AUTHORITIES.includes(authority.toLowerCase())) {
    throw new ConfigError('LINKGATE_AUTH_AUTHORITY', `must be an Entra login endpoint (${ENTRA_AUTHORITIES.join(', ')}), got '${authority}'`);
  }
  const lower = clientId.toLowerCase();
  const appIdUri = optional(env, 'LINKGATE_API_APP_ID_URI');
  if (appIdUri && !/^(api|https):\/\/\S+$/i.test(appIdUri)) throw new ConfigError('LINKGATE_API_APP_ID_URI', `must be the API's application ID URI (api://… or https://…), got '${appIdUri}'`);
  const audiences = [...new Set([lower, `api://${lower}`, ...(appIdUri ? [appIdUri] : [])])];
  return { authority, clientId: lower, audiences };
}

function loadReviewDefaults(env: Env): ReviewDefaults {
  const approvers = list(env, 'LINKGATE_REVIEW_APPROVERS').map((id) => {
    if (!isGuid(id)) throw new ConfigError('LINKGATE_REVIEW_APPROVERS', `holds '${id}', which is not an Entra object ID`);
    return id.toLowerCase();
  });
  const timeoutAction = optional(env, 'LINKGATE_REVIEW_TIMEOUT_ACTION') ?? 'leave-pending';
  if (timeoutAction !== 'leave-pending' && timeoutAction !== 'reject') {
    throw new ConfigError('LINKGATE_REVIEW_TIMEOUT_ACTION', `must be 'leave-pending' or 'reject', got '${timeoutAction}'`);
  }
  const conversation = optional(env, 'LINKGATE_REVIEW_CONVERSATION');
  const remind = number(env, 'LINKGATE_REVIEW_REMIND_AFTER_HOURS', 24, 0, 24 * 30);
  const expire = number(env, 'LINKGATE_REVIEW_EXPIRE_AFTER_DAYS', 7, 0, 365);
  const requiredApprovals = int(env, 'LINKGATE_REVIEW_REQUIRED_APPROVALS', 1, 1, MAX_REQUIRED_APPROVALS);
  return {
    ...(conversation ? { conversation } : {}),
    approvers,
    ...(remind > 0 ? { remindAfterHours: remind } : {}),
    ...(expire > 0 ? { expireAfterDays: expire } : {}),
    timeoutAction,
    requiredApprovals,
  };
}

function loadTeams(env: Env, devMode: boolean, homeTenantId: string): TeamsConfig | undefined {
  // The Teams SDK reads this variable when the option is not passed. Linkgate always passes it,
  // so a deployment that sets it expects something that will not happen: refuse to start.
  if (bool(env, 'DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS', false) && !devMode) {
    throw new ConfigError('DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS', 'is set outside dev mode; Linkgate never accepts unauthenticated Teams requests in production');
  }
  const botId = optional(env, 'LINKGATE_TEAMS_BOT_ID');
  if (!botId) return undefined;
  if (!isGuid(botId)) throw new ConfigError('LINKGATE_TEAMS_BOT_ID', `must be the bot's app (client) ID GUID, got '${botId}'`);
  const tenantId = optional(env, 'LINKGATE_TEAMS_TENANT_ID') ?? homeTenantId;
  if (!isGuid(tenantId)) throw new ConfigError('LINKGATE_TEAMS_TENANT_ID', `must be a tenant GUID, got '${tenantId}'`);
  // Clicks are accepted only from this tenant, and approvers are object IDs of the home tenant,
  // which mean nothing elsewhere: a bot in another tenant would take another tenant's people for them.
  if (tenantId.toLowerCase() !== homeTenantId) {
    throw new ConfigError('LINKGATE_TEAMS_TENANT_ID', `is ${tenantId}, but must be the home tenant (${homeTenantId}): approvers are object IDs of the home tenant, and clicks from any other tenant are refused`);
  }
  const serviceUrl = url(env, 'LINKGATE_TEAMS_SERVICE_URL', 'https://smba.trafficmanager.net/teams', devMode ? ['https:', 'http:'] : ['https:']);
  if (!devMode) requireBotConnector(serviceUrl);
  const authKind = optional(env, 'LINKGATE_TEAMS_AUTH') ?? 'managed-identity';
  let auth: TeamsConfig['auth'];
  if (authKind === 'dev-anonymous') {
    if (!devMode) throw new ConfigError('LINKGATE_TEAMS_AUTH', "is 'dev-anonymous', which would accept unauthenticated requests; it needs LINKGATE_DEV_MODE=true");
    if (!isLoopback(serviceUrl)) {
      throw new ConfigError('LINKGATE_TEAMS_AUTH', `is 'dev-anonymous', which is only for the local Teams emulator, but LINKGATE_TEAMS_SERVICE_URL is ${serviceUrl}`);
    }
    auth = { kind: 'dev-anonymous' };
  } else if (authKind === 'managed-identity') {
    // The Teams SDK treats a managed identity client ID equal to the bot ID as "the bot is this
    // user-assigned identity", and any other value as a federated credential on an app
    // registration (token-manager in @microsoft/teams.apps). So the default is the bot ID, and
    // AZURE_CLIENT_ID (the identity used for ARM and Tables) is deliberately not borrowed.
    const clientId = optional(env, 'LINKGATE_TEAMS_MANAGED_IDENTITY_CLIENT_ID') ?? botId;
    if (!isGuid(clientId)) throw new ConfigError('LINKGATE_TEAMS_MANAGED_IDENTITY_CLIENT_ID', `must be a client ID GUID, got '${clientId}'`);
    auth = { kind: 'managed-identity', managedIdentityClientId: clientId.toLowerCase() };
  } else {
    throw new ConfigError('LINKGATE_TEAMS_AUTH', `must be 'managed-identity' or 'dev-anonymous', got '${authKind}'`);
  }
  const openId = optional(env, 'LINKGATE_TEAMS_OPENID_METADATA_URL');
  let cloud: TeamsConfig['cloud'];
  if (openId) {
    if (!devMode) throw new ConfigError('LINKGATE_TEAMS_OPENID_METADATA_URL', 'replaces where Teams tokens are verified and is only accepted with LINKGATE_DEV_MODE=true');
    cloud = {
      openIdMetadataUrl: url(env, 'LINKGATE_TEAMS_OPENID_METADATA_URL', undefined, ['https:', 'http:']),
      tokenIssuer: optional(env, 'LINKGATE_TEAMS_TOKEN_ISSUER') ?? 'https://api.botframework.com',
    };
  }
  return { botId: botId.toLowerCase(), tenantId: tenantId.toLowerCase(), serviceUrl, auth, ...(cloud ? { cloud } : {}) };
}

const AZURE_HOSTING_VARIABLES = ['WEBSITE_INSTANCE_ID', 'WEBSITE_SITE_NAME', 'WEBSITE_HOSTNAME', 'CONTAINER_APP_NAME'];

const DEFAULT_ARM_ENDPOINT = 'https://management.azure.com';

/**
 * Every endpoint dev mode relaxes something for, in one place: a fixed bearer token for ARM,
 * plain http for Tables and the Bot Connector, unauthenticated Teams requests, and Teams token
 * verification against other keys. Dev mode starts only when each of them is on this machine
 * (127.0.0.0/8, ::1, localhost), so copying the setting anywhere else cannot open a hole. An
 * endpoint that dev mode relaxes is added here, and nowhere else.
 */
export function devModeEndpoints(env: Env): { readonly setting: string; readonly url: string }[] {
  const endpoints: { setting: string; url: string | undefined }[] = [
    { setting: 'LINKGATE_ARM_ENDPOINT', url: optional(env, 'LINKGATE_ARM_ENDPOINT') ?? DEFAULT_ARM_ENDPOINT },
    { setting: 'LINKGATE_TABLES_ENDPOINT', url: optional(env, 'LINKGATE_TABLES_ENDPOINT') },
    { setting: 'LINKGATE_TABLES_CONNECTION_STRING', url: tableEndpointOf(optional(env, 'LINKGATE_TABLES_CONNECTION_STRING')) },
  ];
  if (optional(env, 'LINKGATE_TEAMS_BOT_ID')) {
    endpoints.push(
      { setting: 'LINKGATE_TEAMS_SERVICE_URL', url: optional(env, 'LINKGATE_TEAMS_SERVICE_URL') ?? 'https://smba.trafficmanager.net/teams' },
      { setting: 'LINKGATE_TEAMS_OPENID_METADATA_URL', url: optional(env, 'LINKGATE_TEAMS_OPENID_METADATA_URL') },
      { setting: 'LINKGATE_TEAMS_TOKEN_ISSUER', url: optional(env, 'LINKGATE_TEAMS_TOKEN_ISSUER') },
    );
  }
  // In dev mode the admin tokens' issuer may be the local one, whose keys anyone on the machine holds.
  if (optional(env, 'LINKGATE_API_CLIENT_ID')) endpoints.push({ setting: 'LINKGATE_AUTH_AUTHORITY', url: optional(env, 'LINKGATE_AUTH_AUTHORITY') ?? ENTRA_AUTHORITIES[0] });
  return endpoints.filter((e): e is { setting: string; url: string } => e.url !== undefined);
}

function requireLoopbackEndpoints(env: Env): void {
  for (const { setting, url: value } of devModeEndpoints(env)) {
    if (!isLoopbackHost(value)) {
      throw new ConfigError(
        setting,
        `is ${value}, but LINKGATE_DEV_MODE=true accepts only endpoints on this machine (127.0.0.0/8, ::1 or localhost), because dev mode relaxes authentication for them`,
      );
    }
  }
}

/** Loopback by address as well as by name: 127.0.0.0/8 is all loopback (RFC 1122, 3.2.1.3). */
function isLoopbackHost(value: string): boolean {
  if (isLoopback(value)) return true;
  try {
    return /^127(\.\d{1,3}){3}$/.test(new URL(value).hostname);
  } catch {
    return false;
  }
}

/** The table endpoint a connection string names: TableEndpoint, the emulator's, or the account's. */
function tableEndpointOf(connectionString: string | undefined): string | undefined {
  if (!connectionString) return undefined;
  const field = (name: string) => new RegExp(`(?:^|;)\\s*${name}=([^;]+)`, 'i').exec(connectionString)?.[1]?.trim();
  const explicit = field('TableEndpoint');
  if (explicit) return explicit;
  // UseDevelopmentStorage=true means the local emulator's well-known endpoint.
  if (/^true$/i.test(field('UseDevelopmentStorage') ?? '')) return 'http://127.0.0.1:10002/devstoreaccount1';
  const account = field('AccountName') ?? '';
  return `https://${account}.table.${field('EndpointSuffix') ?? 'core.windows.net'}`;
}

/**
 * Hosts of the Bot Connector service that proactive messages go to, one per cloud, from
 * "Send proactive messages" (https://learn.microsoft.com/microsoftteams/platform/bots/how-to/conversations/send-proactive-messages):
 * public `https://smba.trafficmanager.net/teams` (regional paths such as /amer share the host),
 * GCC `https://smba.infra.gcc.teams.microsoft.com/teams`, GCC High
 * `https://smba.infra.gov.teams.microsoft.us/teams` and DoD `https://smba.infra.dod.teams.microsoft.us/teams`
 * (the same hosts as the Microsoft 365 Agents SDK's TeamsServiceEndpoints). The page says bots run
 * in Teams operated by 21Vianet but documents no proactive endpoint there, so none is accepted
 * until one is published. The bot's outbound token is sent to this URL, so nothing else is.
 */
export const BOT_CONNECTOR_HOSTS: readonly string[] = Object.freeze([
  'smba.trafficmanager.net',
  'smba.infra.gcc.teams.microsoft.com',
  'smba.infra.gov.teams.microsoft.us',
  'smba.infra.dod.teams.microsoft.us',
]);

function requireBotConnector(serviceUrl: string): void {
  const parsed = new URL(serviceUrl);
  const accepted = parsed.protocol === 'https:' && parsed.port === '' && parsed.username === '' && parsed.password === '' && BOT_CONNECTOR_HOSTS.includes(parsed.hostname.toLowerCase());
  if (!accepted) {
    throw new ConfigError(
      'LINKGATE_TEAMS_SERVICE_URL',
      `must be an https URL of a Bot Connector host (${BOT_CONNECTOR_HOSTS.join(', ')}), got '${serviceUrl}'; the bot's token is sent there`,
    );
  }
}

/** Sweep intervals a timer schedule can express evenly: divisors of an hour, and whole hours that divide a day. */
export const SWEEP_INTERVALS: readonly number[] = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60, 120, 180, 240, 360, 480, 720, 1440];

/**
 * The sweep timer's schedule, read when the functions are registered (before the rest of the
 * configuration is loaded). A value loadConfig would refuse gives the default here; loadConfig then
 * refuses it with its reason at the first invocation, so the mistake is reported, not hidden.
 */
export function sweepScheduleFromEnv(env: Env = process.env): string {
  const minutes = Number(env.LINKGATE_SWEEP_INTERVAL_MINUTES ?? 15);
  return sweepSchedule(SWEEP_INTERVALS.includes(minutes) ? minutes : 15);
}

/** The sweep timer's six-field NCRONTAB schedule for an interval in SWEEP_INTERVALS. */
export function sweepSchedule(intervalMinutes: number): string {
  if (intervalMinutes < 60) return `0 */${intervalMinutes} * * * *`;
  if (intervalMinutes < 1440) return `0 0 */${intervalMinutes / 60} * * *`;
  return '0 0 0 * * *';
}

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function required(env: Env, name: string): string {
  const value = optional(env, name);
  if (value === undefined) throw new ConfigError(name, 'is missing');
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const value = optional(env, name);
  if (value === undefined) return fallback;
  if (/^(true|1|yes)$/i.test(value)) return true;
  if (/^(false|0|no)$/i.test(value)) return false;
  throw new ConfigError(name, `must be true or false, got '${value}'`);
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = optional(env, name);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got '${value}'`);
  }
  return parsed;
}

function number(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = optional(env, name);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < min || parsed > max) {
    throw new ConfigError(name, `must be a number from ${min} to ${max}, got '${value}'`);
  }
  return parsed;
}

function url(env: Env, name: string, fallback: string | undefined, protocols: readonly string[]): string {
  const value = optional(env, name) ?? fallback;
  if (value === undefined) throw new ConfigError(name, 'is missing');
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(name, `must be a URL, got '${value}'`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(' or ')}, got '${value}'`);
  }
  return value.replace(/\/+$/, '');
}

function list(env: Env, name: string): string[] {
  return (optional(env, name) ?? '')
    .split(/[,\s]+/)
    .map((item) => item.trim())
    .filter(Boolean);
}
