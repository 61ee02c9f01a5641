/**
 * The emulator's Azure Resource Graph endpoint driven by the real SDK (@azure/arm-resourcegraph 4.2.1, on
 * @azure/ms-rest-js), and raw HTTPS where the SDK would refuse to send a request (a $top above 1000) or hides
 * the wire; plus ARM's read bucket enforced on request, and bulk seeding of connections without events.
 *
 * The SDK reaches the emulator with `baseUri` and an https agent that trusts the emulator's certificate;
 * `noRetryPolicy` keeps it from retrying 429s on its own, so each answer is seen as given.
 */
import http from 'node:http';
import https from 'node:https';
import { ResourceGraphClient } from '@azure/arm-resourcegraph';
import type { TokenCredential } from '@azure/core-auth';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { afterEach, describe, expect, it } from 'vitest';
import {
  startArmEmulator,
  type ArmEmulator,
  type ArmEmulatorOptions,
  type ConnectionStatus,
  type EmulatorSubscription,
} from '../../src/dev/arm-emulator/index.js';
import { rawHttps } from '../fixtures/https.js';

const SUB_A = '0b7f3c1e-6a2d-4c8b-9e15-3f4a5b6c7d80';
const SUB_B = '1c8a4d2f-7b3e-4d9c-8f26-4a5b6c7d8e91';
const FORBIDDEN_SUB = 'd5e6f7a8-b9c0-4d1e-8f2a-3b4c5d6e7f80';
const MISSING_SUB = 'e6f7a8b9-c0d1-4e2f-9a3b-4c5d6e7f8091';
const REQUESTER_SUB = 'c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f';
const TENANT = 'a4c2e6f8-1b3d-4f5a-8c7e-9d0b1a2c3e4f';
const GRAPH_PATH = '/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01';
const GUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const SUPPORT_MESSAGE = new RegExp(
  `^Please provide below info when asking for support: timestamp = \\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z, correlationId = ${GUID}\\.$`,
);

const subscriptions: EmulatorSubscription[] = [
  { subscriptionId: SUB_A, tenantId: TENANT, displayName: 'A', visibility: 'visible' },
  { subscriptionId: SUB_B, tenantId: TENANT, displayName: 'B', visibility: 'visible' },
  { subscriptionId: FORBIDDEN_SUB, tenantId: TENANT, displayName: 'Locked', visibility: 'forbidden' },
  { subscriptionId: MISSING_SUB, tenantId: TENANT, displayName: 'Gone', visibility: 'missing' },
];

function connectionQuery(types: string[], limit = 2000): string {
  return [
    'resources',
    `| where type in~ (${types.map((t) => `'${t}'`).join(', ')})`,
    `| mv-expand connection = properties.privateEndpointConnections limit ${limit}`,
    '| where isnotempty(connection)',
    '| project id = tostring(connection.id), resourceId = id, type, subscriptionId, ' +
      'status = tostring(connection.properties.privateLinkServiceConnectionState.status), ' +
      'privateEndpointId = tostring(connection.properties.privateEndpoint.id)',
    '| order by id asc',
  ].join('\n');
}

function resourceQuery(types: string[]): string {
  return `resources\n| where type in~ (${types.map((t) => `'${t}'`).join(', ')})\n| project id, type, subscriptionId\n| order by id asc`;
}

const ALL_TYPES = ['microsoft.keyvault/vaults', 'microsoft.storage/storageaccounts', 'microsoft.sql/servers', 'microsoft.dbforpostgresql/flexibleservers'];

interface ConnectionRow {
  id: string;
  resourceId: string;
  type: string;
  subscriptionId: string;
  status: string;
  privateEndpointId: string;
}

/** A credential whose token is an unsigned JWT naming the principal, so the emulator sees distinct callers. */
function credentialFor(objectId?: string): TokenCredential {
  const token = objectId === undefined ? 'dev' : jwtFor(objectId);
  return { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) };
}

function jwtFor(objectId: string): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ oid: objectId, tid: TENANT })}.sig`;
}

function graphClient(emulator: ArmEmulator, objectId?: string): ResourceGraphClient {
  return new ResourceGraphClient(credentialFor(objectId), {
    baseUri: emulator.url,
    noRetryPolicy: true,
    agentSettings: { http: new http.Agent(), https: new https.Agent({ ca: emulator.caPem, keepAlive: true }) },
  });
}

/** Every row of a query, page by page, following the answer's skip token. */
async function queryAll(
  client: ResourceGraphClient,
  query: string,
  subs?: string[],
): Promise<{ rows: Record<string, string>[]; pages: number[]; totals: number[] }> {
  const rows: Record<string, string>[] = [];
  const pages: number[] = [];
  const totals: number[] = [];
  let skipToken: string | undefined;
  do {
    const answer = await client.resources({
      ...(subs ? { subscriptions: subs } : {}),
      query,
      options: { top: 1000, resultFormat: 'objectArray', ...(skipToken ? { skipToken } : {}) },
    });
    const data = answer.data as Record<string, string>[];
    rows.push(...data);
    pages.push(answer.count);
    totals.push(answer.totalRecords);
    expect(answer.resultTruncated).toBe('false');
    skipToken = answer.skipToken;
  } while (skipToken);
  return { rows, pages, totals };
}

/** The error an ms-rest-js client throws for a non-2xx answer. */
async function sdkFailure(promise: Promise<unknown>): Promise<{ statusCode: number; body: unknown; headers: { get(name: string): string | undefined } }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { statusCode: number; body: unknown; response: { headers: { get(name: string): string | undefined } } };
    return { statusCode: e.statusCode, body: e.body, headers: e.response.headers };
  }
  throw new Error('expected the call to fail');
}

function parserFailure(characterPositionInLine: number, token: string, line = 1): unknown {
  return {
    error: {
      code: 'BadRequest',
      message: expect.stringMatching(SUPPORT_MESSAGE),
      details: [
        {
          code: 'InvalidQuery',
          message: 'Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error before retrying.',
        },
        { code: 'ParserFailure', message: 'ParserFailure', line, characterPositionInLine, token },
      ],
    },
  };
}

let emulators: ArmEmulator[] = [];

async function start(opts: ArmEmulatorOptions = {}): Promise<ArmEmulator> {
  const emulator = await startArmEmulator({ subscriptions, provisioningDelayMs: 0, ...opts });
  emulators.push(emulator);
  return emulator;
}

/** A clock the test moves by hand, for lag, quota windows and bucket refills. */
function manualClock(): { now: () => Date; advance: (ms: number) => void } {
  let current = Date.parse('2026-03-02T09:00:00.000Z');
  return { now: () => new Date(current), advance: (ms) => void (current += ms) };
}

afterEach(async () => {
  await Promise.all(emulators.map((e) => e.close()));
  emulators = [];
});

describe('Resource Graph: the connection query', () => {
  it('answers one row per connection from the ARM store, types in lower case, ordered by id', async () => {
    const emu = await start();
    const vault = emu.createVault({ subscriptionId: SUB_A, resourceGroup: 'rg-Main', name: 'kv-graph-one' });
    const storage = emu.createResource({ type: 'storage', subscriptionId: SUB_B, resourceGroup: 'rg-data', name: 'stgraphone' });
    const sql = emu.createResource({ type: 'sql', subscriptionId: SUB_A, resourceGroup: 'rg-data', name: 'sql-graph-one' });
    const pending = await emu.simulateRequest({ vault: 'kv-graph-one', fromSubscription: REQUESTER_SUB, endpointName: 'pe-pay' });
    const approved = emu.seedConnection({ resourceId: vault.id, status: 'Approved', fromSubscription: REQUESTER_SUB, endpointName: 'pe-old' });
    const rejected = emu.seedConnection({ resourceId: String(storage['id']), status: 'Rejected', fromSubscription: REQUESTER_SUB });
    emu.seedConnection({ resourceId: String(sql['id']), status: 'Disconnected', fromSubscription: REQUESTER_SUB });

    const client = graphClient(emu);
    const answer = await client.resources({
      query: connectionQuery(['microsoft.keyvault/vaults', 'Microsoft.Storage/storageAccounts']),
      options: { top: 1000, resultFormat: 'objectArray' },
    });
    const rows = answer.data as ConnectionRow[];
    expect(answer.totalRecords).toBe(3);
    expect(answer.count).toBe(3);
    expect(answer.skipToken).toBeUndefined();
    expect(rows.map((r) => r.id)).toEqual([pending.id, approved.id, rejected.id].sort());
    expect(rows.find((r) => r.id === pending.id)).toEqual({
      id: pending.id,
      resourceId: vault.id,
      type: 'microsoft.keyvault/vaults',
      subscriptionId: SUB_A,
      status: 'Pending',
      privateEndpointId: `/subscriptions/${REQUESTER_SUB}/resourceGroups/rg-requester/providers/Microsoft.Network/privateEndpoints/pe-pay`,
    });
    expect(rows.find((r) => r.id === rejected.id)).toMatchObject({ type: 'microsoft.storage/storageaccounts', subscriptionId: SUB_B, status: 'Rejected' });
    expect(emu.calls.filter((c) => c.path === '/providers/Microsoft.ResourceGraph/resources').map((c) => [c.method, c.status])).toEqual([['POST', 200]]);
  });

  it('expands at most `limit` connections of each resource, in the order the resource lists them', async () => {
    const emu = await start();
    const vault = emu.createVault({ subscriptionId: SUB_A, resourceGroup: 'rg', name: 'kv-graph-many' });
    const seeded = Array.from({ length: 5 }, (_, i) =>
      emu.seedConnection({ resourceId: vault.id, status: 'Approved', fromSubscription: REQUESTER_SUB, endpointName: `pe-${i}` }),
    );
    const { rows } = await queryAll(graphClient(emu), connectionQuery(['microsoft.keyvault/vaults'], 3));
    expect(rows.map((r) => r['id'])).toEqual(seeded.slice(0, 3).map((c) => c.id).sort());
  });

  it('answers the table result format with the projected columns', async () => {
    const emu = await start();
    const vault = emu.createVault({ subscriptionId: SUB_A, resourceGroup: 'rg', name: 'kv-graph-table' });
    const seeded = emu.seedConnection({ resourceId: vault.id, status: 'Pending', fromSubscription: REQUESTER_SUB });
    const answer = await graphClient(emu).resources({ query: connectionQuery(['microsoft.keyvault/vaults']), options: { resultFormat: 'table' } });
    const data = answer.data as { columns: { name: string }[]; rows: string[][] };
    expect(data.columns.map((c) => c.name)).toEqual(['id', 'resourceId', 'type', 'subscriptionId', 'status', 'privateEndpointId']);
    expect(data.rows).toEqual([[seeded.id, vault.id, 'microsoft.keyvault/vaults', SUB_A, 'Pending', seeded.properties.privateEndpoint.id]]);
  });

  it('pages over more than 1000 rows with skip tokens, without duplicates or gaps', async () => {
    const emu = await start();
    const statuses: ConnectionStatus[] = ['Pending', 'Approved', 'Rejected', 'Disconnected'];
    for (let v = 0; v < 25; v += 1) {
      const vault = emu.createVault({ subscriptionId: v % 2 === 0 ? SUB_A : SUB_B, resourceGroup: 'rg', name: `kv-page-${v}` });
      for (let c = 0; c < 50; c += 1) {
        emu.seedConnection({ resourceId: vault.id, status: statuses[c % 4] as ConnectionStatus, fromSubscription: REQUESTER_SUB });
      }
    }
    const { rows, pages, totals } = await queryAll(graphClient(emu), connectionQuery(['microsoft.keyvault/vaults']));
    expect(pages).toEqual([1000, 250]);
    expect(totals).toEqual([1250, 1250]);
    const ids = rows.map((r) => r['id'] as string);
    expect(new Set(ids).size).toBe(1250);
    expect(ids).toEqual([...ids].sort());
    expect(new Set(ids)).toEqual(new Set(emu.listConnections().map((c) => c.id)));
  });

  it('refuses a skip token issued for another query, another scope, or one that is malformed', async () => {
    const emu = await start();
    const vault = emu.createVault({ subscriptionId: SUB_A, resourceGroup: 'rg', name: 'kv-graph-token' });
    for (let i = 0; i < 3; i += 1) emu.seedConnection({ resourceId: vault.id, status: 'Pending', fromSubscription: REQUESTER_SUB });
    const client = graphClient(emu);
    const query = connectionQuery(['microsoft.keyvault/vaults']);
    const first = await client.resources({ query, options: { top: 2 } });
    expect(first.count).toBe(2);
    expect(first.skipToken).toEqual(expect.any(String));
    const skipToken = first.skipToken as string;
    expect((await client.resources({ query: query.replace(/\n/g, '\n   '), options: { top: 2, skipToken } })).count).toBe(1);

    const invalidToken = {
      error: {
        code: 'BadRequest',
        message: expect.stringMatching(SUPPORT_MESSAGE),
        details: [{ code: 'InvalidSkipToken', message: expect.any(String) }],
      },
    };
    for (const [body, why] of [
      [{ query: connectionQuery(['microsoft.storage/storageaccounts']), options: { $top: 2, $skipToken: skipToken } }, 'another query'],
      [{ subscriptions: [SUB_A], query, options: { $top: 2, $skipToken: skipToken } }, 'another scope'],
      [{ query, options: { $top: 2, $skipToken: 'not-a-token' } }, 'malformed'],
    ] as const) {
      const answer = await rawHttps(emu, 'POST', GRAPH_PATH, { body });
      expect({ why, status: answer.status }).toEqual({ why, status: 400 });
      expect(answer.json).toEqual(invalidToken);
    }
  });

  it('refuses $top above 1000 with a 400', async () => {
    const emu = await start();
    const answer = await rawHttps(emu, 'POST', GRAPH_PATH, { body: { query: resourceQuery(['microsoft.keyvault/vaults']), options: { $top: 1001 } } });
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ error: { code: 'BadRequest', details: [{ code: 'InvalidParameterValue' }] } });
    const ok = await rawHttps(emu, 'POST', GRAPH_PATH, { body: { query: resourceQuery(['microsoft.keyvault/vaults']) } });
    expect(ok.status).toBe(200);
  });
});

describe('Resource Graph: scope', () => {
  it('covers every visible subscription without a list, and only the visible ones of a list', async () => {
    const emu = await start();
    const inA = emu.createVault({ subscriptionId: SUB_A, resourceGroup: 'rg', name: 'kv-scope-a' });
    const inB = emu.createVault({ subscriptionId: SUB_B, resourceGroup: 'rg', name: 'kv-scope-b' });
    const hidden = [
      emu.createVault({ subscriptionId: FORBIDDEN_SUB, resourceGroup: 'rg', name: 'kv-scope-locked' }),
      emu.createVault({ subscriptionId: MISSING_SUB, resourceGroup: 'rg', name: 'kv-scope-gone' }),
    ];
    for (const vault of [inA, inB, ...hidden]) emu.seedConnection({ resourceId: vault.id, status: 'Pending', fromSubscription: REQUESTER_SUB });
    const client = graphClient(emu);
    const query = connectionQuery(['microsoft.keyvault/vaults']);

    const tenant = await queryAll(client, query);
    expect(tenant.rows.map((r) => r['resourceId']).sort()).toEqual([inA.id, inB.id].sort());
    const onlyA = await queryAll(client, query, [SUB_A, FORBIDDEN_SUB, MISSING_SUB, REQUESTER_SUB]);
    expect(onlyA.rows.map((r) => r['resourceId'])).toEqual([inA.id]);
    const resources = await queryAll(client, resourceQuery(['microsoft.keyvault/vaults']), [SUB_B.toUpperCase()]);
    expect(resources.rows).toEqual([{ id: inB.id, type: 'microsoft.keyvault/vaults', subscriptionId: SUB_B }]);
  });
});

describe('Resource Graph: types whose connections it does not report', () => {
  it('lists PostgreSQL flexible servers but reports none of their connections', async () => {
    const emu = await start();
    const server = emu.createResource({ type: 'postgresql', subscriptionId: SUB_A, resourceGroup: 'rg', name: 'pg-graph-one' });
    const vault = emu.createVault({ subscriptionId: SUB_A, resourceGroup: 'rg', name: 'kv-graph-pg' });
    emu.seedConnection({ resourceId: String(server['id']), status: 'Approved', fromSubscription: REQUESTER_SUB });
    const onVault = emu.seedConnection({ resourceId: vault.id, status: 'Approved', fromSubscription: REQUESTER_SUB });
    // ARM itself has the connection.
    expect(emu.listConnections(String(server['id']))).toHaveLength(1);

    const client = graphClient(emu);
    const connections = await queryAll(client, connectionQuery(ALL_TYPES));
    expect(connections.rows.map((r) => r['id'])).toEqual([onVault.id]);
    const servers = await queryAll(client, resourceQuery(['Microsoft.DBforPostgreSQL/flexibleServers']));
    expect(servers.rows).toEqual([{ id: server['id'], type: 'microsoft.dbforpostgresql/flexibleservers', subscriptionId: SUB_A }]);
  });
});

describe('Resource Graph: refusals', () => {
  const base = connectionQuery(['microsoft.keyvault/vaults']);
  const cases: { name: string; query: string; position: number; token: string; line?: number }[] = [
    { name: 'another table', query: 'resourcecontainers | where type in~ (\'microsoft.keyvault/vaults\') | project id, type, subscriptionId | order by id asc', position: 0, token: 'resourcecontainers' },
    { name: 'an unknown operator', query: "resources | where type in~ ('microsoft.keyvault/vaults') | extend x = 1 | project id, type, subscriptionId | order by id asc", position: 59, token: 'extend' },
    { name: 'a missing stage', query: "resources | where type in~ ('microsoft.keyvault/vaults') | project id, type, subscriptionId", position: 91, token: '<EOF>' },
    { name: 'a project list in another order', query: "resources | where type in~ ('microsoft.keyvault/vaults') | project type, id, subscriptionId | order by id asc", position: 67, token: 'type' },
    { name: 'an unquoted type', query: 'resources | where type in~ (microsoft.keyvault/vaults) | project id, type, subscriptionId | order by id asc', position: 28, token: 'microsoft' },
    { name: 'a double-quoted type', query: 'resources | where type in~ ("microsoft.keyvault/vaults") | project id, type, subscriptionId | order by id asc', position: 28, token: '"microsoft.keyvault/vaults"' },
    { name: 'a case-sensitive comparison', query: "resources | where type in ('microsoft.keyvault/vaults') | project id, type, subscriptionId | order by id asc", position: 23, token: 'in' },
    { name: 'a descending order', query: "resources | where type in~ ('microsoft.keyvault/vaults') | project id, type, subscriptionId | order by id desc", position: 106, token: 'desc' },
    { name: 'a trailing stage', query: "resources | where type in~ ('microsoft.keyvault/vaults') | project id, type, subscriptionId | order by id asc | limit 5", position: 110, token: '|' },
    { name: 'an expand limit above 2000', query: base.replace('limit 2000', 'limit 2001'), position: 69, token: '2001', line: 3 },
    { name: 'an expand limit of zero', query: base.replace('limit 2000', 'limit 0'), position: 69, token: '0', line: 3 },
    { name: 'a missing isnotempty stage', query: base.replace('| where isnotempty(connection)\n', ''), position: 2, token: 'project', line: 4 },
    { name: 'an unterminated string', query: "resources | where type in~ ('microsoft.keyvault/vaults", position: 28, token: "'microsoft.keyvault/vaults" },
  ];

  it.each(cases)('refuses $name with a ParserFailure where it fails', async ({ query, position, token, line }) => {
    const emu = await start();
    const answer = await rawHttps(emu, 'POST', GRAPH_PATH, { body: { query } });
    expect(answer.status).toBe(400);
    expect(answer.json).toEqual(parserFailure(position, token, line));
  });

  it('refuses through the SDK too, and still counts the query against the quota', async () => {
    const emu = await start();
    const failure = await sdkFailure(graphClient(emu).resources({ query: 'resources | take 5' }));
    expect(failure.statusCode).toBe(400);
    expect(failure.body).toEqual(parserFailure(12, 'take'));
    expect(failure.headers.get('x-ms-user-quota-remaining')).toBe('14');
    expect(emu.calls.map((c) => [c.method, c.path, c.status])).toEqual([['POST', '/providers/Microsoft.ResourceGraph/resources', 400]]);
  });

  it('accepts the two shapes however they are spaced', async () => {
    const emu = await start();
    const spaced = "Resources|where type in~('microsoft.keyvault/vaults','MICROSOFT.STORAGE/STORAGEACCOUNTS')\n\n\t|project id,type,subscriptionId|order by id asc";
    expect((await rawHttps(emu, 'POST', GRAPH_PATH, { body: { query: spaced } })).status).toBe(200);
    const oneLine = connectionQuery(['microsoft.keyvault/vaults']).replace(/\n/g, ' ');
    expect((await rawHttps(emu, 'POST', GRAPH_PATH, { body: { query: oneLine } })).status).toBe(200);
  });
});

describe('Resource Graph: lag behind ARM', () => {
  it('answers from a snapshot until the lag has passed or the graph is refreshed', async () => {
    const clock = manualClock();
    const emu = await start({ resourceGraphLagMs: 120_000, now: clock.now });
    const vault = emu.createVault({ subscriptionId: SUB_A, resourceGroup: 'rg', name: 'kv-graph-lag' });
    const seeded = emu.seedConnection({ resourceId: vault.id, status: 'Pending', fromSubscription: REQUESTER_SUB });
    const client = graphClient(emu);
    const query = connectionQuery(['microsoft.keyvault/vaults']);
    const statuses = async (): Promise<string[]> => (await queryAll(client, query)).rows.map((r) => r['status'] as string);

    // Created after the graph's first snapshot: not indexed yet.
    expect(await statuses()).toEqual([]);
    emu.refreshResourceGraph();
    expect(await statuses()).toEqual(['Pending']);

    await emu.setConnectionStatus(seeded.id, 'Approved');
    expect(emu.getConnection(seeded.id)?.properties.privateLinkServiceConnectionState.status).toBe('Approved');
    clock.advance(119_000);
    expect(await statuses()).toEqual(['Pending']);
    clock.advance(1_000);
    expect(await statuses()).toEqual(['Approved']);

    await emu.setConnectionStatus(seeded.id, 'Rejected');
    expect(await statuses()).toEqual(['Approved']);
    emu.refreshResourceGraph();
    expect(await statuses()).toEqual(['Rejected']);
  });

  it('follows the store at once without a lag', async () => {
    const emu = await start();
    const vault = emu.createVault({ subscriptionId: SUB_A, resourceGroup: 'rg', name: 'kv-graph-live' });
    const seeded = emu.seedConnection({ resourceId: vault.id, status: 'Pending', fromSubscription: REQUESTER_SUB });
    const client = graphClient(emu);
    const query = connectionQuery(['microsoft.keyvault/vaults']);
    expect((await queryAll(client, query)).rows.map((r) => r['status'])).toEqual(['Pending']);
    await emu.setConnectionStatus(seeded.id, 'Approved');
    expect((await queryAll(client, query)).rows.map((r) => r['status'])).toEqual(['Approved']);
  });
});

describe('Resource Graph: per-caller quota', () => {
  it('reports the quota on every answer and refuses with 429 and Retry-After once it is spent', async () => {
    const clock = manualClock();
    const emu = await start({ resourceGraphQuota: { queries: 3, windowMs: 5_000 }, now: clock.now });
    const client = graphClient(emu, '11111111-1111-4111-8111-111111111111');
    const query = resourceQuery(['microsoft.keyvault/vaults']);
    const seen: [string | undefined, string | undefined][] = [];
    for (let i = 0; i < 3; i += 1) {
      const answer = await client.resources({ query });
      seen.push([answer._response.headers.get('x-ms-user-quota-remaining'), answer._response.headers.get('x-ms-user-quota-resets-after')]);
      clock.advance(1_000);
    }
    expect(seen).toEqual([
      ['2', '00:00:05'],
      ['1', '00:00:04'],
      ['0', '00:00:03'],
    ]);

    const refused = await sdkFailure(client.resources({ query }));
    expect(refused.statusCode).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('2');
    expect(refused.headers.get('x-ms-user-quota-remaining')).toBe('0');
    expect(refused.headers.get('x-ms-user-quota-resets-after')).toBe('00:00:02');
    const raw = await rawHttps(emu, 'POST', GRAPH_PATH, { body: { query }, token: jwtFor('11111111-1111-4111-8111-111111111111') });
    expect(raw.status).toBe(429);
    expect(raw.json).toEqual({
      error: {
        code: 'RateLimiting',
        message: expect.stringMatching(
          new RegExp(`^Please provide below info when asking for support: timestamp = \\S+Z, correlationId = ${GUID}\\. Too many requests\\. Please retry after 2 seconds\\.$`),
        ),
      },
    });
    // The second refusal came before the first Retry-After had passed.
    expect(emu.throttleStats()).toMatchObject({ graphThrottled: 2, graphUnhonoured: 1, throttled: 0, unhonoured: 0 });

    // Another caller has a quota of its own.
    const other = await graphClient(emu, '22222222-2222-4222-8222-222222222222').resources({ query });
    expect(other._response.headers.get('x-ms-user-quota-remaining')).toBe('2');

    clock.advance(2_000);
    const again = await client.resources({ query });
    expect(again._response.headers.get('x-ms-user-quota-remaining')).toBe('2');
    expect(emu.throttleStats()).toMatchObject({ graphThrottled: 2, graphUnhonoured: 1 });
    expect(emu.calls.filter((c) => c.method === 'POST').map((c) => c.status)).toEqual([200, 200, 200, 429, 429, 200, 200]);
  });
});

describe('ARM read bucket', () => {
  const CALLER = '33333333-3333-4333-8333-333333333333';

  it('answers 429 with Retry-After once the bucket is empty, refills over time, and counts who did not wait', async () => {
    const clock = manualClock();
    const emu = await start({ armThrottling: { reads: { capacity: 3, refillPerSecond: 0.5 } }, now: clock.now });
    emu.createVault({ subscriptionId: SUB_A, resourceGroup: 'rg', name: 'kv-bucket' });
    const vaultPath = `/subscriptions/${SUB_A}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-bucket?api-version=2026-02-01`;
    const token = jwtFor(CALLER);
    const read = () => rawHttps(emu, 'GET', vaultPath, { token });

    const remaining: (string | string[] | undefined)[] = [];
    for (let i = 0; i < 3; i += 1) {
      const answer = await read();
      expect(answer.status).toBe(200);
      remaining.push(answer.headers['x-ms-ratelimit-remaining-subscription-reads']);
    }
    expect(remaining).toEqual(['2', '1', '0']);

    const refused = await read();
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('2');
    expect(refused.headers['x-ms-ratelimit-remaining-subscription-reads']).toBe('0');
    expect(refused.json).toEqual({
      error: {
        code: 'SubscriptionRequestsThrottled',
        message: `Number of 'read' requests for subscription '${SUB_A}' actor '${CALLER}' exceeded. Please try after '2' seconds after additional tokens are available.`,
      },
    });
    expect(emu.throttleStats()).toEqual({ throttled: 1, unhonoured: 0, graphThrottled: 0, graphUnhonoured: 0 });

    // Through the SDK the same 429 surfaces as an error; it came back too early.
    clock.advance(1_000);
    const kv = new KeyVaultManagementClient(credentialFor(CALLER), SUB_A, { endpoint: emu.url, tlsOptions: { ca: emu.caPem }, retryOptions: { maxRetries: 0 } });
    await expect(kv.vaults.get('rg', 'kv-bucket')).rejects.toMatchObject({ statusCode: 429, code: 'SubscriptionRequestsThrottled' });
    expect(emu.throttleStats()).toMatchObject({ throttled: 2, unhonoured: 1 });

    // Another principal, another subscription and Resource Graph draw on other budgets.
    expect((await rawHttps(emu, 'GET', vaultPath, { token: jwtFor('44444444-4444-4444-8444-444444444444') })).status).toBe(200);
    expect((await rawHttps(emu, 'GET', `/subscriptions/${SUB_B}?api-version=2022-12-01`, { token })).status).toBe(200);
    const graph = await rawHttps(emu, 'POST', GRAPH_PATH, { token, body: { query: resourceQuery(['microsoft.keyvault/vaults']) } });
    expect(graph.status).toBe(200);
    expect(graph.headers['x-ms-ratelimit-remaining-subscription-reads']).toBeUndefined();

    clock.advance(1_000);
    const refilled = await read();
    expect(refilled.status).toBe(200);
    expect(refilled.headers['x-ms-ratelimit-remaining-subscription-reads']).toBe('0');
    expect(emu.throttleStats()).toEqual({ throttled: 2, unhonoured: 1, graphThrottled: 0, graphUnhonoured: 0 });
  });

  it('charges writes to their own bucket', async () => {
    const clock = manualClock();
    const emu = await start({ armThrottling: { reads: { capacity: 1, refillPerSecond: 1 }, writes: { capacity: 1, refillPerSecond: 0.25 } }, now: clock.now });
    const vault = emu.createVault({ subscriptionId: SUB_A, resourceGroup: 'rg', name: 'kv-bucket-w' });
    const seeded = emu.seedConnection({ resourceId: vault.id, status: 'Pending', fromSubscription: REQUESTER_SUB });
    const put = () =>
      rawHttps(emu, 'PUT', `${seeded.id}?api-version=2026-02-01`, {
        body: { properties: { privateLinkServiceConnectionState: { status: 'Approved', description: 'ok' } } },
      });
    const first = await put();
    expect(first.status).toBe(200);
    expect(first.headers['x-ms-ratelimit-remaining-subscription-writes']).toBe('0');
    const second = await put();
    expect(second.status).toBe(429);
    expect(second.headers['retry-after']).toBe('4');
    expect(second.json).toMatchObject({ error: { code: 'SubscriptionRequestsThrottled', message: expect.stringContaining("Number of 'write' requests") } });
    expect((await rawHttps(emu, 'GET', `${seeded.id}?api-version=2026-02-01`)).status).toBe(200);
  });

  it('only counts down when no throttling is configured', async () => {
    const emu = await start();
    emu.createVault({ subscriptionId: SUB_A, resourceGroup: 'rg', name: 'kv-bucket-off' });
    const path = `/subscriptions/${SUB_A}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-bucket-off?api-version=2026-02-01`;
    const answers = await Promise.all(Array.from({ length: 5 }, () => rawHttps(emu, 'GET', path)));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.map((a) => Number(a.headers['x-ms-ratelimit-remaining-subscription-reads'])).sort((a, b) => b - a)).toEqual([11_999, 11_998, 11_997, 11_996, 11_995]);
    expect(emu.throttleStats()).toEqual({ throttled: 0, unhonoured: 0, graphThrottled: 0, graphUnhonoured: 0 });
  });
});

describe('bulk seeding', () => {
  it('seeds 2,000 resources with 64 connections each, and ARM and Resource Graph both see them all', async () => {
    const emu = await start({ resourceGraphQuota: { queries: 1_000, windowMs: 5_000 } });
    const statuses: ConnectionStatus[] = ['Pending', 'Approved', 'Rejected', 'Disconnected'];
    const resourceIds: string[] = [];
    for (let r = 0; r < 2_000; r += 1) {
      const subscriptionId = r % 2 === 0 ? SUB_A : SUB_B;
      const id =
        r % 4 < 2
          ? emu.createVault({ subscriptionId, resourceGroup: 'rg-bulk', name: `kv-bulk-${r}` }).id
          : String(emu.createResource({ type: 'storage', subscriptionId, resourceGroup: 'rg-bulk', name: `stbulk${r}` })['id']);
      resourceIds.push(id);
      for (let c = 0; c < 64; c += 1) {
        emu.seedConnection({ resourceId: id, status: statuses[c % 4] as ConnectionStatus, fromSubscription: REQUESTER_SUB });
      }
    }
    expect(emu.listConnections()).toHaveLength(128_000);
    expect(emu.listConnections(resourceIds[7])).toHaveLength(64);
    expect(emu.deliveries).toHaveLength(0);
    const one = emu.listConnections(resourceIds[0])[3];
    expect(one?.properties).toMatchObject({ provisioningState: 'Succeeded', privateLinkServiceConnectionState: { status: 'Disconnected' } });

    const { rows, pages } = await queryAll(graphClient(emu), connectionQuery(['microsoft.keyvault/vaults', 'microsoft.storage/storageaccounts']));
    expect(rows).toHaveLength(128_000);
    expect(pages).toHaveLength(128);
    expect(new Set(rows.map((r) => r['id'])).size).toBe(128_000);
    const byStatus = new Map<string, number>();
    for (const row of rows) byStatus.set(row['status'] as string, (byStatus.get(row['status'] as string) ?? 0) + 1);
    expect(Object.fromEntries(byStatus)).toEqual({ Pending: 32_000, Approved: 32_000, Rejected: 32_000, Disconnected: 32_000 });
  }, 120_000);
});
