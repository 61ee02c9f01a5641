import { describe, expect, it } from 'vitest';
import { connectionsQuery, parseResetsAfter, ResourceGraph, resourcesQuery, type GraphClientLike, type GraphQueryRequest, type GraphQueryResponse } from '../../src/adapters/arm/resource-graph.js';
import { KEY_VAULT, RESOURCE_TYPES } from '../../src/domain/resource-types.js';
import { FakeClock, silentLog } from './fakes.js';

const SUB = 'aaaaaaaa-0000-4000-8000-000000000001';
const REQ = 'bbbbbbbb-0000-4000-8000-000000000003';
const vault = (i: number) => `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-${i}`;
const row = (i: number, status = 'Pending') => ({
  id: `${vault(i)}/privateEndpointConnections/pe-${i}.c`,
  resourceId: vault(i),
  type: 'microsoft.keyvault/vaults',
  subscriptionId: SUB,
  status,
  privateEndpointId: `/subscriptions/${REQ}/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe-${i}`,
});

function headers(values: Record<string, string>) {
  return { get: (name: string) => values[name.toLowerCase()] };
}

/** Answers a script of pages or errors, recording every request and when it came. */
class ScriptedClient implements GraphClientLike {
  readonly requests: { request: GraphQueryRequest; at: number }[] = [];
  constructor(
    private readonly clock: FakeClock,
    private readonly script: Array<GraphQueryResponse | { error: number; headers?: Record<string, string>; body?: unknown }>,
  ) {}
  async resources(request: GraphQueryRequest): Promise<GraphQueryResponse> {
    this.requests.push({ request: structuredClone(request), at: this.clock.now().getTime() });
    const next = this.script.shift();
    if (!next) throw new Error('script ran out');
    if ('error' in next) throw Object.assign(new Error(`HTTP ${next.error}`), { statusCode: next.error, response: { headers: headers(next.headers ?? {}) }, body: next.body });
    return next;
  }
}

function page(data: unknown[], extra: Partial<GraphQueryResponse> = {}, quota: Record<string, string> = { 'x-ms-user-quota-remaining': '14', 'x-ms-user-quota-resets-after': '00:00:05' }): GraphQueryResponse {
  return { totalRecords: data.length, count: data.length, resultTruncated: 'false', data, _response: { headers: headers(quota) }, ...extra };
}

function graphWith(script: ConstructorParameters<typeof ScriptedClient>[1]) {
  const clock = new FakeClock();
  const client = new ScriptedClient(clock, script);
  const graph = new ResourceGraph({ endpoint: 'https://127.0.0.1:1', credential: { getToken: async () => null }, retry: { maxRetries: 0, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1 } }, { clock, log: silentLog, createClient: async () => client, random: () => 0.5 });
  return { clock, client, graph };
}

describe('Resource Graph adapter', () => {
  it('builds exactly the two query shapes, types in lower case', () => {
    expect(connectionsQuery([KEY_VAULT])).toBe(
      [
        'resources',
        "| where type in~ ('microsoft.keyvault/vaults')",
        '| mv-expand connection = properties.privateEndpointConnections limit 2000',
        '| where isnotempty(connection)',
        '| project id = tostring(connection.id), resourceId = id, type, subscriptionId, status = tostring(connection.properties.privateLinkServiceConnectionState.status), privateEndpointId = tostring(connection.properties.privateEndpoint.id)',
        '| order by id asc',
      ].join('\n'),
    );
    expect(resourcesQuery(RESOURCE_TYPES.slice(0, 2))).toBe("resources\n| where type in~ ('microsoft.keyvault/vaults', 'microsoft.storage/storageaccounts')\n| project id, type, subscriptionId\n| order by id asc");
  });

  it('pages with skip tokens, same query and scope each time, and reads rows at the boundary', async () => {
    const { client, graph } = graphWith([page([row(1), row(2)], { skipToken: 'tok-2' }), page([row(3, 'Approved'), { id: 'not-an-id', resourceId: 'x' }])]);
    const rows = await graph.connections({ kind: 'subscriptions', subscriptionIds: [SUB.toUpperCase()] }, [KEY_VAULT]);
    expect(rows.map((r) => [r.ref.name, r.status])).toEqual([
      ['pe-1.c', 'Pending'],
      ['pe-2.c', 'Pending'],
      ['pe-3.c', 'Approved'],
    ]);
    expect(rows[0]?.privateEndpoint?.subscriptionId).toBe(REQ);
    expect(client.requests.map((r) => r.request)).toEqual([
      { subscriptions: [SUB], query: connectionsQuery([KEY_VAULT]), options: { top: 1000, resultFormat: 'objectArray' } },
      { subscriptions: [SUB], query: connectionsQuery([KEY_VAULT]), options: { top: 1000, resultFormat: 'objectArray', skipToken: 'tok-2' } },
    ]);
    expect(graph.stats).toMatchObject({ pages: 2, rows: 4 });
  });

  it('queries tenant-wide without subscriptions, and in groups of 300 when there are more', async () => {
    const tenant = graphWith([page([])]);
    await tenant.graph.resources({ kind: 'tenant' }, [KEY_VAULT]);
    expect(tenant.client.requests[0]?.request.subscriptions).toBeUndefined();
    const many = Array.from({ length: 650 }, (_, i) => `aaaaaaaa-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const grouped = graphWith([page([]), page([]), page([])]);
    await grouped.graph.resources({ kind: 'subscriptions', subscriptionIds: many }, [KEY_VAULT]);
    expect(grouped.client.requests.map((r) => r.request.subscriptions?.length)).toEqual([300, 300, 50]);
  });

  it('waits for the quota to reset once it is spent, before sending the next page', async () => {
    const { client, graph, clock } = graphWith([
      page([row(1)], { skipToken: 't' }, { 'x-ms-user-quota-remaining': '0', 'x-ms-user-quota-resets-after': '00:00:03' }),
      page([row(2)]),
    ]);
    await graph.connections({ kind: 'tenant' }, [KEY_VAULT]);
    expect((client.requests[1]?.at ?? 0) - (client.requests[0]?.at ?? 0)).toBe(3_000);
    expect(graph.stats.waitedMs).toBe(3_000);
    expect(clock.now().getTime() - (client.requests[0]?.at ?? 0)).toBe(3_000);
  });

  it('waits out a 429 for its Retry-After, else the quota reset, and never comes back sooner', async () => {
    const { client, graph } = graphWith([
      { error: 429, headers: { 'retry-after': '4' } },
      { error: 429, headers: { 'x-ms-user-quota-remaining': '0', 'x-ms-user-quota-resets-after': '00:00:02' } },
      page([row(1)]),
    ]);
    expect(await graph.connections({ kind: 'tenant' }, [KEY_VAULT])).toHaveLength(1);
    const at = client.requests.map((r) => r.at);
    expect([(at[1] ?? 0) - (at[0] ?? 0), (at[2] ?? 0) - (at[1] ?? 0)]).toEqual([4_000, 2_000]);
    expect(graph.stats.throttled).toBe(2);
  });

  it('retries 5xx with backoff, gives up on 400 with what Resource Graph said, and refuses a truncated answer', async () => {
    const retried = graphWith([{ error: 503 }, page([row(1)])]);
    expect(await retried.graph.connections({ kind: 'tenant' }, [KEY_VAULT])).toHaveLength(1);
    const refused = graphWith([{ error: 400, body: { error: { code: 'BadRequest', message: 'Query is invalid', details: [{ code: 'InvalidQuery' }, { code: 'ParserFailure' }] } } }]);
    await expect(refused.graph.connections({ kind: 'tenant' }, [KEY_VAULT])).rejects.toThrow(/Resource Graph answered 400 BadRequest \(InvalidQuery, ParserFailure\): Query is invalid/);
    expect(refused.client.requests).toHaveLength(1);
    const truncated = graphWith([page([row(1)], { resultTruncated: 'true' })]);
    await expect(truncated.graph.connections({ kind: 'tenant' }, [KEY_VAULT])).rejects.toThrow(/truncated/);
  });

  it('does not wait longer than it may: a reset far off fails the query instead', async () => {
    const { graph } = graphWith([{ error: 429, headers: { 'retry-after': '600' } }]);
    await expect(graph.connections({ kind: 'tenant' }, [KEY_VAULT])).rejects.toThrow(/HTTP 429/);
  });

  it('reads hh:mm:ss quota resets', () => {
    expect(parseResetsAfter('00:00:05')).toBe(5_000);
    expect(parseResetsAfter('00:01:02.5')).toBe(62_500);
    expect(parseResetsAfter('5')).toBeUndefined();
    expect(parseResetsAfter(undefined)).toBeUndefined();
  });
});
