import { describe, expect, it } from 'vitest';
import { canonicalQuery, parseGraphQuery, QueryParseError, tokenize } from '../../src/dev/arm-emulator/resource-graph-query.js';
import { formatResetsAfter, QueryQuota, TokenBuckets } from '../../src/dev/arm-emulator/throttling.js';

const CONNECTIONS =
  "resources | where type in~ ('microsoft.keyvault/vaults', 'Microsoft.Storage/storageAccounts') " +
  '| mv-expand connection = properties.privateEndpointConnections limit 64 | where isnotempty(connection) ' +
  '| project id = tostring(connection.id), resourceId = id, type, subscriptionId, ' +
  'status = tostring(connection.properties.privateLinkServiceConnectionState.status), ' +
  'privateEndpointId = tostring(connection.properties.privateEndpoint.id) | order by id asc';

function failure(query: string): { line: number; characterPositionInLine: number; token: string } {
  try {
    parseGraphQuery(query);
  } catch (error) {
    if (error instanceof QueryParseError) return { line: error.line, characterPositionInLine: error.characterPositionInLine, token: error.token };
    throw error;
  }
  throw new Error('expected a ParserFailure');
}

describe('Resource Graph query grammar', () => {
  it('reads the connection query: its types as written and its expand limit', () => {
    expect(parseGraphQuery(CONNECTIONS)).toEqual({
      kind: 'connections',
      types: ['microsoft.keyvault/vaults', 'Microsoft.Storage/storageAccounts'],
      expandLimit: 64,
    });
  });

  it('reads the resource query, with any table casing and spacing', () => {
    expect(parseGraphQuery("Resources\n|where type in~('microsoft.sql/servers')|project id,type,subscriptionId\n|order by id asc")).toEqual({
      kind: 'resources',
      types: ['microsoft.sql/servers'],
    });
  });

  it('gives the same canonical form whatever the casing and order of the types', () => {
    const a = parseGraphQuery("resources | where type in~ ('B/x', 'a/Y') | project id, type, subscriptionId | order by id asc");
    const b = parseGraphQuery("resources | where type in~ ('A/y', 'b/X') | project id, type, subscriptionId | order by id asc");
    expect(canonicalQuery(a)).toBe(canonicalQuery(b));
    expect(canonicalQuery(parseGraphQuery(CONNECTIONS))).not.toBe(canonicalQuery(parseGraphQuery(CONNECTIONS.replace('limit 64', 'limit 65'))));
  });

  it('reports the line and position of the token it fails on, or <EOF>', () => {
    expect(failure('resources\n| where type in~ (\'a/b\')\n| summarize count()')).toEqual({ line: 3, characterPositionInLine: 2, token: 'summarize' });
    expect(failure("resources | where type in~ ('a/b')")).toEqual({ line: 1, characterPositionInLine: 34, token: '<EOF>' });
    expect(failure("resources | where type in~ ('a/b') | project id, type, subscriptionId, name | order by id asc")).toEqual({
      line: 1,
      characterPositionInLine: 69,
      token: ',',
    });
    expect(failure("resources | where type in~ ('not a type') | project id, type, subscriptionId | order by id asc").token).toBe("'not a type'");
    expect(failure("resources | where Type in~ ('a/b') | project id, type, subscriptionId | order by id asc").token).toBe('Type');
  });

  it('takes mv-expand and in~ as single tokens', () => {
    expect(tokenize('mv-expand x in~ (').map((t) => t.text)).toEqual(['mv-expand', 'x', 'in~', '(', '<EOF>']);
  });
});

describe('throttling arithmetic', () => {
  it('writes the quota reset as hh:mm:ss, rounded up', () => {
    expect([0, 1, 2_500, 5_000, 61_000, 3_600_001].map(formatResetsAfter)).toEqual(['00:00:00', '00:00:01', '00:00:03', '00:00:05', '00:01:01', '01:00:01']);
  });

  it('refills a bucket at its rate and names the wait until one token is back', () => {
    const buckets = new TokenBuckets({ capacity: 2, refillPerSecond: 0.4 });
    expect([buckets.take('k', 0), buckets.take('k', 0)].map((a) => a.admitted)).toEqual([true, true]);
    expect(buckets.take('k', 0)).toEqual({ admitted: false, remaining: 0, retryAfterSeconds: 3 });
    expect(buckets.take('k', 1_000)).toMatchObject({ admitted: false, retryAfterSeconds: 2 });
    expect(buckets.take('k', 2_500)).toEqual({ admitted: true, remaining: 0 });
    // A token was back at 2.5 s, but the caller had been told to wait until 3 s.
    expect(buckets.counts).toEqual({ throttled: 2, unhonoured: 2 });
  });

  it('opens a quota window at the first query and resets it once the window has passed', () => {
    const quota = new QueryQuota({ queries: 1, windowMs: 5_000 });
    expect(quota.take('c', 0)).toMatchObject({ admitted: true, remaining: 0, resetsAfterMs: 5_000 });
    expect(quota.take('c', 1_200)).toMatchObject({ admitted: false, retryAfterSeconds: 4 });
    expect(quota.take('c', 5_200)).toMatchObject({ admitted: true, remaining: 0, resetsAfterMs: 5_000 });
    expect(quota.counts).toEqual({ throttled: 1, unhonoured: 0 });
  });
});
