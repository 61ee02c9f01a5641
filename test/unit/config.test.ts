import { describe, expect, it } from 'vitest';
import { BOT_CONNECTOR_HOSTS, devModeEndpoints, loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/domain/errors.js';
import { RESOURCE_TYPES } from '../../src/domain/resource-types.js';

const TENANT = 'c0a1b2c3-0000-4000-8000-00000000c0de';
const BOT = 'b07b0700-0000-4000-8000-000000000b07';
const BASE = { LINKGATE_HOME_TENANT_ID: TENANT, LINKGATE_TABLES_ENDPOINT: 'https://acct.table.core.windows.net' };
/** Everything on this machine, as the local stack configures it. */
const LOCAL = { LINKGATE_HOME_TENANT_ID: TENANT, LINKGATE_TABLES_ENDPOINT: 'http://127.0.0.1:10002/devstoreaccount1', LINKGATE_ARM_ENDPOINT: 'https://127.0.0.1:8443' };

function failure(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('loadConfig accepted the settings');
}

describe('configuration: watched resource types', () => {
  it('watches every registered type by default, and the listed ones when LINKGATE_RESOURCE_TYPES is set', () => {
    // Act
    const all = loadConfig(BASE).resourceTypes.map((t) => t.key);
    const some = loadConfig({ ...BASE, LINKGATE_RESOURCE_TYPES: 'storage, Microsoft.KeyVault/vaults' }).resourceTypes.map((t) => t.key);

    // Assess
    expect(all).toEqual(RESOURCE_TYPES.map((t) => t.key));
    expect(some).toEqual(['storage', 'keyvault']);
  });

  it('refuses an unknown type at start, naming the setting and the known keys', () => {
    // Act
    const error = failure({ ...BASE, LINKGATE_RESOURCE_TYPES: 'keyvault,redis' });

    // Assess
    expect(error.setting).toBe('LINKGATE_RESOURCE_TYPES');
    expect(error.message).toContain("'redis' is not a registered resource type (known: keyvault, storage");
  });
});

describe('configuration', () => {
  it('reads a minimal Azure configuration with safe defaults, frozen', () => {
    const config = loadConfig(BASE);
    expect(config).toMatchObject({
      devMode: false,
      homeTenantId: TENANT,
      arm: { endpoint: 'https://management.azure.com', maxRetries: 4, maxRetryAfterMs: 20_000 },
      credential: { kind: 'default' },
      tables: { kind: 'endpoint', endpoint: 'https://acct.table.core.windows.net' },
      reviewDefaults: { approvers: [], remindAfterHours: 24, expireAfterDays: 7, timeoutAction: 'leave-pending' },
    });
    expect(config.teams).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.arm)).toBe(true);
  });

  it.each([
    [{ LINKGATE_TABLES_ENDPOINT: 'https://a.table.core.windows.net' }, 'LINKGATE_HOME_TENANT_ID', /is missing/],
    [{ ...BASE, LINKGATE_HOME_TENANT_ID: 'contoso' }, 'LINKGATE_HOME_TENANT_ID', /GUID/],
    [{ LINKGATE_HOME_TENANT_ID: TENANT }, 'LINKGATE_TABLES_ENDPOINT', /is missing/],
    [{ ...BASE, LINKGATE_TABLES_CONNECTION_STRING: 'AccountName=a;AccountKey=b' }, 'LINKGATE_TABLES_ENDPOINT', /both set/],
    [{ ...BASE, LINKGATE_ARM_ENDPOINT: 'http://management.azure.com' }, 'LINKGATE_ARM_ENDPOINT', /https/],
    [{ ...BASE, LINKGATE_ARM_CA_FILE: '/nonexistent/ca.pem' }, 'LINKGATE_ARM_CA_FILE', /cannot be read/],
    [{ ...BASE, LINKGATE_CREDENTIAL: 'dev-token' }, 'LINKGATE_CREDENTIAL', /LINKGATE_DEV_MODE/],
    [{ ...BASE, LINKGATE_CREDENTIAL: 'secret' }, 'LINKGATE_CREDENTIAL', /'default' or 'dev-token'/],
    [{ ...BASE, LINKGATE_LEASE_SECONDS: 'soon' }, 'LINKGATE_LEASE_SECONDS', /whole number/],
    [{ ...BASE, LINKGATE_SWEEP_SUBSCRIPTIONS: 'abc' }, 'LINKGATE_SWEEP_SUBSCRIPTIONS', /not a subscription GUID/],
    [{ ...BASE, LINKGATE_REVIEW_APPROVERS: 'ada@contoso.com' }, 'LINKGATE_REVIEW_APPROVERS', /object ID/],
    [{ ...BASE, LINKGATE_REVIEW_TIMEOUT_ACTION: 'approve' }, 'LINKGATE_REVIEW_TIMEOUT_ACTION', /leave-pending/],
    [{ ...BASE, LINKGATE_TEAMS_BOT_ID: 'linkgate-bot' }, 'LINKGATE_TEAMS_BOT_ID', /GUID/],
  ])('refuses a bad setting and names it (%#)', (env, setting, message) => {
    const error = failure(env as Record<string, string>);
    expect(error.setting).toBe(setting);
    expect(error.message).toContain(setting);
    expect(error.message).toMatch(message);
  });

  it('refuses to start a production configuration that would accept unauthenticated Teams requests', () => {
    expect(failure({ ...BASE, LINKGATE_TEAMS_BOT_ID: BOT, LINKGATE_TEAMS_AUTH: 'dev-anonymous' }).setting).toBe('LINKGATE_TEAMS_AUTH');
    expect(failure({ ...BASE, DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS: 'true' }).setting).toBe('DANGEROUSLY_ALLOW_UNAUTHENTICATED_REQUESTS');
    expect(failure({ ...BASE, LINKGATE_TEAMS_BOT_ID: BOT, LINKGATE_TEAMS_OPENID_METADATA_URL: 'https://evil.example/v1/.well-known/openidconfiguration' }).setting).toBe(
      'LINKGATE_TEAMS_OPENID_METADATA_URL',
    );
    expect(failure({ ...BASE, LINKGATE_TEAMS_BOT_ID: BOT, LINKGATE_TEAMS_SERVICE_URL: 'http://smba.example' }).setting).toBe('LINKGATE_TEAMS_SERVICE_URL');
  });

  it('refuses dev shortcuts that would reach real Azure or run on an Azure host', () => {
    const dev = { ...LOCAL, LINKGATE_DEV_MODE: 'true' };
    expect(failure({ ...dev, WEBSITE_INSTANCE_ID: 'abc123' }).setting).toBe('LINKGATE_DEV_MODE');
    expect(failure({ ...BASE, LINKGATE_DEV_MODE: 'true', LINKGATE_CREDENTIAL: 'dev-token' }).setting).toBe('LINKGATE_ARM_ENDPOINT');
    expect(
      failure({ ...dev, LINKGATE_TEAMS_BOT_ID: BOT, LINKGATE_TEAMS_AUTH: 'dev-anonymous', LINKGATE_TEAMS_SERVICE_URL: 'https://smba.trafficmanager.net/teams' }).setting,
    ).toBe('LINKGATE_TEAMS_SERVICE_URL');
    expect(failure({ LINKGATE_HOME_TENANT_ID: TENANT, LINKGATE_TABLES_ENDPOINT: 'http://acct.table.core.windows.net' }).setting).toBe('LINKGATE_TABLES_ENDPOINT');
    expect(
      failure({ LINKGATE_HOME_TENANT_ID: TENANT, LINKGATE_TABLES_CONNECTION_STRING: 'DefaultEndpointsProtocol=http;AccountName=a;AccountKey=b' }).setting,
    ).toBe('LINKGATE_TABLES_CONNECTION_STRING');
    expect(loadConfig({ LINKGATE_HOME_TENANT_ID: TENANT, LINKGATE_TABLES_ENDPOINT: 'http://127.0.0.1:10002/devstoreaccount1' }).tables.kind).toBe('endpoint');
  });

  it('configures the bot with its managed identity by default', () => {
    const config = loadConfig({ ...BASE, LINKGATE_TEAMS_BOT_ID: BOT, AZURE_CLIENT_ID: '0d0d0000-0000-4000-8000-000000000001' });
    expect(config.teams).toEqual({
      botId: BOT,
      tenantId: TENANT,
      serviceUrl: 'https://smba.trafficmanager.net/teams',
      auth: { kind: 'managed-identity', managedIdentityClientId: BOT },
    });
    expect(config.credential).toEqual({ kind: 'default', managedIdentityClientId: '0d0d0000-0000-4000-8000-000000000001' });
  });

  it('allows the local emulators only in explicit dev mode', () => {
    const config = loadConfig({
      ...LOCAL,
      LINKGATE_DEV_MODE: 'true',
      LINKGATE_ARM_ENDPOINT: 'https://127.0.0.1:8443',
      LINKGATE_CREDENTIAL: 'dev-token',
      LINKGATE_TEAMS_BOT_ID: BOT,
      LINKGATE_TEAMS_AUTH: 'dev-anonymous',
      LINKGATE_TEAMS_SERVICE_URL: 'http://127.0.0.1:7071/teams-emulator/connector',
    });
    expect(config.credential.kind).toBe('dev-token');
    expect(config.teams?.auth).toEqual({ kind: 'dev-anonymous' });
  });

  it('turns reminders and expiry off with 0', () => {
    const config = loadConfig({ ...BASE, LINKGATE_REVIEW_REMIND_AFTER_HOURS: '0', LINKGATE_REVIEW_EXPIRE_AFTER_DAYS: '0' });
    expect(config.reviewDefaults.remindAfterHours).toBeUndefined();
    expect(config.reviewDefaults.expireAfterDays).toBeUndefined();
  });
});

describe('configuration: admin API identity and four-eyes', () => {
  const CLIENT = 'A91C1E47-0000-4000-8000-0000000000A9';

  it('leaves the admin APIs unconfigured without LINKGATE_API_CLIENT_ID, and four-eyes on by default', () => {
    const config = loadConfig(BASE);
    expect(config.auth).toBeUndefined();
    expect(config.ruleChanges).toEqual({ fourEyes: true, proposalTtlMs: 72 * 3_600_000 });
  });

  it('accepts the client ID and an Entra authority, with the client ID and application ID URI as audiences', () => {
    const config = loadConfig({ ...BASE, LINKGATE_API_CLIENT_ID: CLIENT, LINKGATE_AUTH_AUTHORITY: 'https://login.microsoftonline.us/', LINKGATE_API_APP_ID_URI: 'https://linkgate.contoso.example' });
    expect(config.auth).toEqual({ authority: 'https://login.microsoftonline.us', clientId: CLIENT.toLowerCase(), audiences: [CLIENT.toLowerCase(), `api://${CLIENT.toLowerCase()}`, 'https://linkgate.contoso.example'] });
  });

  it.each([
    [{ LINKGATE_API_CLIENT_ID: 'linkgate-api' }, /LINKGATE_API_CLIENT_ID must be the API application's client ID/],
    [{ LINKGATE_API_CLIENT_ID: CLIENT, LINKGATE_AUTH_AUTHORITY: 'https://login.evil.example' }, /LINKGATE_AUTH_AUTHORITY must be an Entra login endpoint/],
    [{ LINKGATE_API_CLIENT_ID: CLIENT, LINKGATE_AUTH_AUTHORITY: 'http://127.0.0.1:7071/entra-emulator' }, /LINKGATE_AUTH_AUTHORITY must use https/],
    [{ LINKGATE_FOUR_EYES: 'maybe' }, /LINKGATE_FOUR_EYES must be true or false/],
    [{ LINKGATE_RULE_PROPOSAL_TTL_HOURS: '0' }, /LINKGATE_RULE_PROPOSAL_TTL_HOURS must be a whole number from 1/],
  ])('refuses %j', (env, message) => {
    expect(failure({ ...BASE, ...env }).message).toMatch(message);
  });

  it('accepts the local issuer only in dev mode and only on a loopback address', () => {
    const dev = { LINKGATE_HOME_TENANT_ID: TENANT, LINKGATE_TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true', LINKGATE_ARM_ENDPOINT: 'https://127.0.0.1:4443', LINKGATE_DEV_MODE: 'true', LINKGATE_API_CLIENT_ID: CLIENT };
    expect(loadConfig({ ...dev, LINKGATE_AUTH_AUTHORITY: 'http://127.0.0.1:7071/entra-emulator' }).auth?.authority).toBe('http://127.0.0.1:7071/entra-emulator');
    expect(failure({ ...dev, LINKGATE_AUTH_AUTHORITY: 'http://10.0.0.5:7071/entra-emulator' }).message).toMatch(/LINKGATE_AUTH_AUTHORITY is http:\/\/10.0.0.5.*only endpoints on this machine/);
  });
});

describe('configuration: quorum and retry spacing', () => {
  it('asks for one approval and spaces retries from 30 s by default', () => {
    const config = loadConfig(BASE);
    expect(config.reviewDefaults.requiredApprovals).toBe(1);
    expect(config.retryBaseMs).toBe(30_000);
  });

  it('reads LINKGATE_REVIEW_REQUIRED_APPROVALS and LINKGATE_RETRY_BASE_SECONDS', () => {
    const config = loadConfig({ ...BASE, LINKGATE_REVIEW_REQUIRED_APPROVALS: '3', LINKGATE_RETRY_BASE_SECONDS: '0.5' });
    expect(config.reviewDefaults.requiredApprovals).toBe(3);
    expect(config.retryBaseMs).toBe(500);
  });

  it.each(['0', '11', 'two'])('refuses LINKGATE_REVIEW_REQUIRED_APPROVALS=%s at cold start, naming the setting', (value) => {
    expect(failure({ ...BASE, LINKGATE_REVIEW_REQUIRED_APPROVALS: value }).message).toMatch(/LINKGATE_REVIEW_REQUIRED_APPROVALS/);
  });
});

describe('configuration: spacing of polls after a PUT', () => {
  it('holds Azure’s Retry-After within 100 ms and 10 s by default', () => {
    const config = loadConfig(BASE);
    expect([config.pollMinMs, config.pollMaxMs]).toEqual([100, 10_000]);
  });

  it('reads LINKGATE_POLL_MIN_MS and LINKGATE_POLL_MAX_MS', () => {
    const config = loadConfig({ ...BASE, LINKGATE_POLL_MIN_MS: '500', LINKGATE_POLL_MAX_MS: '2000' });
    expect([config.pollMinMs, config.pollMaxMs]).toEqual([500, 2_000]);
  });

  it.each([
    [{ LINKGATE_POLL_MIN_MS: '0' }, 'LINKGATE_POLL_MIN_MS', /whole number from 10 to 60000/],
    [{ LINKGATE_POLL_MIN_MS: '0.5' }, 'LINKGATE_POLL_MIN_MS', /whole number/],
    [{ LINKGATE_POLL_MAX_MS: '50' }, 'LINKGATE_POLL_MAX_MS', /whole number from 100 to 600000/],
    [{ LINKGATE_POLL_MAX_MS: 'soon' }, 'LINKGATE_POLL_MAX_MS', /whole number/],
    [{ LINKGATE_POLL_MIN_MS: '5000', LINKGATE_POLL_MAX_MS: '1000' }, 'LINKGATE_POLL_MIN_MS', /more than LINKGATE_POLL_MAX_MS \(1000\)/],
  ])('refuses %o at cold start, naming the setting', (env, setting, message) => {
    const error = failure({ ...BASE, ...env });
    expect(error.setting).toBe(setting);
    expect(error.message).toMatch(message);
  });
});

describe('configuration: dev mode starts only when every endpoint it relaxes is on this machine', () => {
  const dev = { ...LOCAL, LINKGATE_DEV_MODE: 'true' };
  const devBot = { ...dev, LINKGATE_TEAMS_BOT_ID: BOT, LINKGATE_TEAMS_AUTH: 'dev-anonymous', LINKGATE_TEAMS_SERVICE_URL: 'http://127.0.0.1:7071/teams-emulator/connector' };

  it('lists every endpoint dev mode relaxes, in one place', () => {
    // Act
    const settings = devModeEndpoints({
      ...devBot,
      LINKGATE_TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true',
      LINKGATE_TEAMS_OPENID_METADATA_URL: 'http://127.0.0.1:7071/openid',
      LINKGATE_TEAMS_TOKEN_ISSUER: 'http://127.0.0.1:7071',
      LINKGATE_API_CLIENT_ID: 'a91c1e47-0000-4000-8000-0000000000a9',
      LINKGATE_AUTH_AUTHORITY: 'http://127.0.0.1:7071/entra-emulator',
    }).map((e) => e.setting);

    // Assess
    expect(settings).toEqual([
      'LINKGATE_ARM_ENDPOINT',
      'LINKGATE_TABLES_ENDPOINT',
      'LINKGATE_TABLES_CONNECTION_STRING',
      'LINKGATE_TEAMS_SERVICE_URL',
      'LINKGATE_TEAMS_OPENID_METADATA_URL',
      'LINKGATE_TEAMS_TOKEN_ISSUER',
      'LINKGATE_AUTH_AUTHORITY',
    ]);
  });

  it.each<[string, Record<string, string>, string]>([
    ['the default ARM endpoint', { ...dev, LINKGATE_ARM_ENDPOINT: '' }, 'LINKGATE_ARM_ENDPOINT'],
    ['a sovereign ARM endpoint', { ...dev, LINKGATE_ARM_ENDPOINT: 'https://management.usgovcloudapi.net' }, 'LINKGATE_ARM_ENDPOINT'],
    ['a name that only starts like loopback', { ...dev, LINKGATE_ARM_ENDPOINT: 'https://127.0.0.1.nip.example' }, 'LINKGATE_ARM_ENDPOINT'],
    ['localhost as a subdomain', { ...dev, LINKGATE_ARM_ENDPOINT: 'https://localhost.example.com' }, 'LINKGATE_ARM_ENDPOINT'],
    ['a storage account endpoint', { ...dev, LINKGATE_TABLES_ENDPOINT: 'https://acct.table.core.windows.net' }, 'LINKGATE_TABLES_ENDPOINT'],
    ['the public Entra authority for admin tokens', { ...dev, LINKGATE_API_CLIENT_ID: 'a91c1e47-0000-4000-8000-0000000000a9' }, 'LINKGATE_AUTH_AUTHORITY'],
    [
      'a connection string for an account',
      { ...dev, LINKGATE_TABLES_ENDPOINT: '', LINKGATE_TABLES_CONNECTION_STRING: 'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5' },
      'LINKGATE_TABLES_CONNECTION_STRING',
    ],
    [
      'a connection string naming a remote TableEndpoint',
      { ...dev, LINKGATE_TABLES_ENDPOINT: '', LINKGATE_TABLES_CONNECTION_STRING: 'AccountName=a;AccountKey=b;TableEndpoint=https://10.0.0.5:10002/a' },
      'LINKGATE_TABLES_CONNECTION_STRING',
    ],
    ['the default Bot Connector', { ...dev, LINKGATE_TEAMS_BOT_ID: BOT }, 'LINKGATE_TEAMS_SERVICE_URL'],
    ['a remote OpenID metadata URL', { ...devBot, LINKGATE_TEAMS_OPENID_METADATA_URL: 'https://login.botframework.com/v1/.well-known/openidconfiguration' }, 'LINKGATE_TEAMS_OPENID_METADATA_URL'],
    ['a remote token issuer', { ...devBot, LINKGATE_TEAMS_OPENID_METADATA_URL: 'http://127.0.0.1:7071/openid', LINKGATE_TEAMS_TOKEN_ISSUER: 'https://api.botframework.com' }, 'LINKGATE_TEAMS_TOKEN_ISSUER'],
  ])('refuses %s, naming the setting and what it accepts', (_label, env, setting) => {
    // Act
    const error = failure(env);

    // Assess
    expect(error.setting).toBe(setting);
    expect(error.message).toMatch(/LINKGATE_DEV_MODE=true accepts only endpoints on this machine \(127\.0\.0\.0\/8, ::1 or localhost\)/);
  });

  it.each<[string, Record<string, string>]>([
    ['127.0.0.0/8 beyond 127.0.0.1', { ...devBot, LINKGATE_ARM_ENDPOINT: 'https://127.1.2.3:8443' }],
    ['::1', { ...devBot, LINKGATE_ARM_ENDPOINT: 'https://[::1]:8443' }],
    ['localhost', { ...devBot, LINKGATE_TEAMS_SERVICE_URL: 'http://localhost:7071/teams-emulator/connector' }],
    ['the storage emulator connection string', { ...devBot, LINKGATE_TABLES_ENDPOINT: '', LINKGATE_TABLES_CONNECTION_STRING: 'UseDevelopmentStorage=true' }],
    ['Azurite with an explicit TableEndpoint', { ...devBot, LINKGATE_TABLES_ENDPOINT: '', LINKGATE_TABLES_CONNECTION_STRING: 'AccountName=devstoreaccount1;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1' }],
  ])('accepts %s', (_label, env) => {
    expect(loadConfig(env).devMode).toBe(true);
  });
});

describe('configuration: the bot talks only to a Bot Connector host', () => {
  it.each([
    'https://smba.trafficmanager.net/teams',
    'https://smba.trafficmanager.net/amer/',
    'https://SMBA.TrafficManager.net/emea',
    'https://smba.infra.gcc.teams.microsoft.com/teams',
    'https://smba.infra.gov.teams.microsoft.us/teams',
    'https://smba.infra.dod.teams.microsoft.us/teams',
  ])('accepts %s', (serviceUrl) => {
    expect(loadConfig({ ...BASE, LINKGATE_TEAMS_BOT_ID: BOT, LINKGATE_TEAMS_SERVICE_URL: serviceUrl }).teams?.serviceUrl).toBe(serviceUrl.replace(/\/+$/, ''));
  });

  it.each([
    'https://smba.example.com/teams',
    'https://smba.trafficmanager.net.evil.example/teams',
    'https://evil.example/smba.trafficmanager.net/teams',
    'https://smba.trafficmanager.net:8443/teams',
    'https://user:secret@smba.trafficmanager.net/teams',
    'https://127.0.0.1:7071/teams-emulator/connector',
  ])('refuses %s outside dev mode, naming the setting and the hosts it accepts', (serviceUrl) => {
    // Act
    const error = failure({ ...BASE, LINKGATE_TEAMS_BOT_ID: BOT, LINKGATE_TEAMS_SERVICE_URL: serviceUrl });

    // Assess
    expect(error.setting).toBe('LINKGATE_TEAMS_SERVICE_URL');
    expect(error.message).toContain(BOT_CONNECTOR_HOSTS.join(', '));
  });

  it('refuses plain http outside dev mode', () => {
    expect(failure({ ...BASE, LINKGATE_TEAMS_BOT_ID: BOT, LINKGATE_TEAMS_SERVICE_URL: 'http://smba.trafficmanager.net/teams' }).message).toMatch(/must use https:/);
  });
});

describe('configuration: the Teams tenant is the home tenant', () => {
  it('refuses a Teams tenant other than the home tenant, since clicks are taken only from the home tenant', () => {
    const error = failure({ ...BASE, LINKGATE_TEAMS_BOT_ID: BOT, LINKGATE_TEAMS_TENANT_ID: 'fab00000-0000-4000-8000-00000000fab0' });
    expect(error.setting).toBe('LINKGATE_TEAMS_TENANT_ID');
    expect(error.message).toMatch(/must be the home tenant/);
    expect(loadConfig({ ...BASE, LINKGATE_TEAMS_BOT_ID: BOT, LINKGATE_TEAMS_TENANT_ID: TENANT.toUpperCase() }).teams?.tenantId).toBe(TENANT);
  });
});
