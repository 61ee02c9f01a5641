import type { HttpClient, PipelineRequest, PipelineResponse } from '@azure/core-rest-pipeline';
import { createHttpHeaders } from '@azure/core-rest-pipeline';
import { describe, expect, it } from 'vitest';
import { ArmConnections } from '../../src/adapters/arm/arm-connections.js';
import { connectionRef, resourceRef } from '../../src/domain/resource-id.js';
import { KEY_VAULT, type ResourceType } from '../../src/domain/resource-types.js';

/**
 * The generic port's handling of what the emulator does not exercise: a provider that reports
 * connections only in the parent resource's properties, a nextLink on another origin, and an
 * answer that is not JSON. The HTTP client is a fake; the pipeline, its retry policy and the
 * bearer token policy are the real ones.
 */
const SUB = '3f2a9c4e-8b1d-4e6f-a5c7-2d9e0b4f7a13';
const ENDPOINT = 'https://127.0.0.1:9';
const credential = { getToken: async () => ({ token: 't', expiresOnTimestamp: Date.now() + 3_600_000 }) };

/** A type like Microsoft.RecoveryServices/vaults, whose provider has get and put but no list call. */
const PARENT_ONLY: ResourceType = {
  ...KEY_VAULT,
  key: 'recoveryvault',
  type: 'Microsoft.RecoveryServices/vaults',
  namespace: 'Microsoft.RecoveryServices',
  typeSegments: ['vaults'],
  apiVersion: '2025-02-01',
  connections: { list: 'parent-properties', put: 'long-running', sendsPrivateEndpoint: true, resourceGraph: true },
};

function fakeClient(answer: (request: PipelineRequest) => { status: number; body?: unknown; headers?: Record<string, string> }) {
  const seen: PipelineRequest[] = [];
  const client: HttpClient = {
    async sendRequest(request): Promise<PipelineResponse> {
      seen.push(request);
      const { status, body, headers } = answer(request);
      return { request, status, headers: createHttpHeaders(headers), ...(body === undefined ? {} : { bodyAsText: typeof body === 'string' ? body : JSON.stringify(body) }) };
    },
  };
  return { client, seen };
}

const arm = { endpoint: ENDPOINT, credential, retry: { maxRetries: 0, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 0 } };

describe('ArmConnections: connections reported in the parent resource', () => {
  const resource = resourceRef(PARENT_ONLY, SUB, 'rg-backup', 'rsv-payments');
  const item = (name: string, status: string) => ({
    id: `${resource.id}/privateEndpointConnections/${name}`,
    properties: {
      privateEndpoint: { id: `/subscriptions/${SUB}/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe-${name}` },
      privateLinkServiceConnectionState: { status, description: `${name} please` },
      provisioningState: 'Succeeded',
    },
  });

  it('lists and reads them from GET {resourceId}, with the type API version', async () => {
    // Prepare
    const { client, seen } = fakeClient(() => ({ status: 200, body: { id: resource.id, properties: { privateEndpointConnections: [item('a', 'Pending'), item('b', 'Approved')] } } }));
    const connections = new ArmConnections(arm, client);

    // Act
    const listed = await connections.list(resource);
    const one = await connections.get(connectionRef(resource, 'B'));

    // Assess
    expect(listed?.map((c) => [c.ref.name, c.status, c.description])).toEqual([
      ['a', 'Pending', 'a please'],
      ['b', 'Approved', 'b please'],
    ]);
    expect(one?.status).toBe('Approved');
    expect(seen.map((r) => new URL(r.url).pathname)).toEqual([resource.id, resource.id]);
    expect(seen.every((r) => r.url.endsWith('?api-version=2025-02-01'))).toBe(true);
    expect(seen[0]?.headers.get('authorization')).toBe('Bearer t');
  });

  it('answers undefined for a parent that is gone and an empty list for one without connections', async () => {
    // Prepare
    const gone = new ArmConnections(arm, fakeClient(() => ({ status: 404, body: { error: { code: 'ResourceNotFound', message: 'no' } } })).client);
    const empty = new ArmConnections(arm, fakeClient(() => ({ status: 200, body: { id: resource.id, properties: {} } })).client);

    // Act & Assess
    expect(await gone.list(resource)).toBeUndefined();
    expect(await empty.list(resource)).toEqual([]);
  });
});

describe('ArmConnections: answers that are not to be trusted', () => {
  const vault = resourceRef(KEY_VAULT, SUB, 'rg-secrets', 'kv-payments');

  it('does not follow a nextLink to another origin, where the bearer token would go', async () => {
    // Prepare
    const { client, seen } = fakeClient(() => ({ status: 200, body: { value: [], nextLink: 'https://attacker.example/next' } }));

    // Act & Assess
    await expect(new ArmConnections(arm, client).list(vault)).rejects.toThrow(/nextLink on another origin/);
    expect(seen).toHaveLength(1);
  });

  it('reads a subscription where the provider is not registered as holding none of the type, and any other refusal as an error', async () => {
    // Prepare
    const unregistered = fakeClient(() => ({ status: 409, body: { error: { code: 'MissingSubscriptionRegistration', message: "The subscription is not registered to use namespace 'Microsoft.KeyVault'." } } }));
    const forbidden = fakeClient(() => ({ status: 403, body: { error: { code: 'AuthorizationFailed', message: 'no' } } }));

    // Act & Assess
    expect(await new ArmConnections(arm, unregistered.client).listResources(SUB, KEY_VAULT)).toEqual([]);
    await expect(new ArmConnections(arm, forbidden.client).listResources(SUB, KEY_VAULT)).rejects.toMatchObject({ statusCode: 403 });
  });

  it('refuses a body that is not JSON rather than read it as no connection', async () => {
    // Prepare
    const { client } = fakeClient(() => ({ status: 200, body: '<html>gateway</html>' }));

    // Act & Assess
    await expect(new ArmConnections(arm, client).get(connectionRef(vault, 'pe-1'))).rejects.toThrow(/not JSON/);
  });

  it('sends the approve PUT to the canonical ID with the state and the private endpoint, and encodes the name', async () => {
    // Prepare
    const { client, seen } = fakeClient(() => ({ status: 202 }));
    const ref = connectionRef(vault, 'pe app#1');

    // Act
    const result = await new ArmConnections(arm, client).setStatus(ref, { status: 'Approved', description: 'ok', privateEndpointId: '/subscriptions/x/pe' });

    // Assess
    expect(result).toEqual({ kind: 'accepted', connection: undefined });
    expect(seen[0]?.method).toBe('PUT');
    expect(new URL(seen[0]!.url).pathname).toBe(`${vault.id}/privateEndpointConnections/pe%20app%231`);
    expect(JSON.parse(String(seen[0]?.body))).toEqual({
      properties: { privateEndpoint: { id: '/subscriptions/x/pe' }, privateLinkServiceConnectionState: { status: 'Approved', description: 'ok' } },
    });
  });
});

describe('ArmConnections: following an accepted change (docs: "Track asynchronous Azure operations")', () => {
  const vault = resourceRef(KEY_VAULT, SUB, 'rg-secrets', 'kv-payments');
  const ref = connectionRef(vault, 'pe-1');
  const asyncUrl = `${ENDPOINT}/subscriptions/${SUB}/providers/Microsoft.KeyVault/locations/westeurope/asyncOperations/op1?api-version=2026-02-01`;
  const locationUrl = `${ENDPOINT}/subscriptions/${SUB}/providers/Microsoft.KeyVault/locations/westeurope/operationResults/op1?api-version=2026-02-01`;
  const wire = (provisioningState: string) => ({
    id: ref.id,
    name: 'pe-1',
    properties: { privateLinkServiceConnectionState: { status: 'Approved', description: 'ok' }, provisioningState },
  });
  const approve = { status: 'Approved', description: 'ok' } as const;

  /** ArmConnections over one fixed answer, with what it logged. */
  function answering(answer: { status: number; body?: unknown; headers?: Record<string, string> }) {
    const warnings: string[] = [];
    const log = { info: () => {}, warn: (message: string) => void warnings.push(message), error: () => {} };
    const { client, seen } = fakeClient(() => answer);
    return { connections: new ArmConnections(arm, client, { log, now: () => Date.parse('2026-11-30T10:00:00Z') }), seen, warnings };
  }

  it('prefers Azure-AsyncOperation to Location, with the Retry-After of the PUT in seconds', async () => {
    // Prepare
    const { connections } = answering({ status: 200, body: wire('Updating'), headers: { 'Azure-AsyncOperation': asyncUrl, Location: locationUrl, 'Retry-After': '7' } });

    // Act
    const result = await connections.setStatus(ref, approve);

    // Assess
    expect(result).toMatchObject({ kind: 'accepted', connection: { provisioningState: 'Updating' }, operation: { kind: 'async-operation', url: asyncUrl, retryAfterMs: 7_000 } });
  });

  it('follows a Location when it is the only header, and reads a Retry-After given as an HTTP date', async () => {
    // Prepare
    const { connections } = answering({ status: 202, headers: { Location: locationUrl, 'Retry-After': 'Mon, 30 Nov 2026 10:00:30 GMT' } });

    // Act
    const result = await connections.setStatus(ref, approve);

    // Assess
    expect(result).toEqual({ kind: 'accepted', connection: undefined, operation: { kind: 'location', url: locationUrl, retryAfterMs: 30_000 } });
  });

  it('passes over a URL on another origin, where the bearer token would go, and logs only its origin', async () => {
    // Prepare
    const foreign = 'https://attacker.example/subscriptions/s/operations/op1?sig=secret';
    const oneForeign = answering({ status: 200, body: wire('Updating'), headers: { 'Azure-AsyncOperation': foreign, Location: locationUrl } });
    const bothForeign = answering({ status: 202, headers: { 'Azure-AsyncOperation': foreign, Location: foreign, 'Retry-After': '1' } });

    // Act
    const fellBack = await oneForeign.connections.setStatus(ref, approve);
    const none = await bothForeign.connections.setStatus(ref, approve);

    // Assess
    expect(fellBack).toMatchObject({ operation: { kind: 'location', url: locationUrl } });
    expect(none).toEqual({ kind: 'accepted', connection: undefined });
    expect(bothForeign.warnings).toEqual([
      'ARM answered an Azure-AsyncOperation URL on another origin (https://attacker.example); it is not followed',
      'ARM answered a Location URL on another origin (https://attacker.example); it is not followed',
    ]);
    expect([...oneForeign.warnings, ...bothForeign.warnings].join('\n')).not.toMatch(/secret|operations\/op1/);
  });

  it('reads an Azure-AsyncOperation status: InProgress or a provider’s own status runs, Succeeded, Failed and Canceled end it', async () => {
    // Prepare
    const poll = (body: unknown, headers: Record<string, string> = {}) => answering({ status: 200, body, headers }).connections.pollOperation(ref, { kind: 'async-operation', url: asyncUrl });

    // Act
    const answers = await Promise.all([
      poll({ status: 'InProgress' }, { 'Retry-After': '2' }),
      poll({ status: 'Provisioning' }),
      poll({ status: 'succeeded' }),
      poll({ status: 'Failed', error: { code: 'InternalError', message: 'boom' } }),
      poll({ status: 'Canceled' }),
    ]);

    // Assess
    expect(answers).toEqual([
      { kind: 'running', retryAfterMs: 2_000 },
      { kind: 'running' },
      { kind: 'done', status: 'Succeeded' },
      { kind: 'done', status: 'Failed', message: 'InternalError: boom' },
      { kind: 'done', status: 'Canceled' },
    ]);
  });

  it('reads a Location: 202 runs (with a new Location), 200 with the connection or 204 ends it, a 4xx error body is a failure', async () => {
    // Prepare
    const location = { kind: 'location', url: locationUrl } as const;
    const poll = (answer: { status: number; body?: unknown; headers?: Record<string, string> }) => answering(answer).connections.pollOperation(ref, location);

    // Act
    const running = await poll({ status: 202, headers: { Location: `${locationUrl}&step=2`, 'Retry-After': '3' } });
    const withConnection = await poll({ status: 200, body: wire('Succeeded') });
    const withSomethingElse = await poll({ status: 200, body: { id: `/subscriptions/${SUB}/providers/Microsoft.KeyVault/locations/westeurope/operationResults/op1`, status: 'Succeeded' } });
    const empty = await poll({ status: 204 });
    const failed = await poll({ status: 400, body: { error: { code: 'PrivateEndpointConnectionApprovalFailed', message: 'no' } } });

    // Assess
    expect(running).toEqual({ kind: 'running', retryAfterMs: 3_000, operation: { kind: 'location', url: `${locationUrl}&step=2`, retryAfterMs: 3_000 } });
    expect(withConnection).toMatchObject({ kind: 'done', status: 'Succeeded', connection: { ref: { key: ref.key }, status: 'Approved', provisioningState: 'Succeeded' } });
    expect(withSomethingElse).toEqual({ kind: 'done', status: 'Succeeded' });
    expect(empty).toEqual({ kind: 'done', status: 'Succeeded' });
    expect(failed).toEqual({ kind: 'done', status: 'Failed', message: 'PrivateEndpointConnectionApprovalFailed: no' });
  });

  it('answers Unknown for an operation URL that is not found', async () => {
    // Act
    const answer = await answering({ status: 404, body: { error: { code: 'OperationNotFound', message: 'gone' } } }).connections.pollOperation(ref, { kind: 'location', url: locationUrl });

    // Assess
    expect(answer).toEqual({ kind: 'done', status: 'Unknown' });
  });

  it('throws for what it does not understand: no status, a body that is not JSON, a 403, another status', async () => {
    // Prepare
    const async = { kind: 'async-operation', url: asyncUrl } as const;
    const location = { kind: 'location', url: locationUrl } as const;

    // Act & Assess
    await expect(answering({ status: 200, body: { percentComplete: 50 } }).connections.pollOperation(ref, async)).rejects.toThrow(/has no status/);
    await expect(answering({ status: 200, body: '<html>gateway</html>' }).connections.pollOperation(ref, async)).rejects.toThrow(/not JSON/);
    await expect(answering({ status: 403, body: { error: { code: 'AuthorizationFailed', message: 'no' } } }).connections.pollOperation(ref, location)).rejects.toMatchObject({ statusCode: 403 });
    await expect(answering({ status: 202 }).connections.pollOperation(ref, async)).rejects.toThrow(/operation status failed: HTTP 202/);
    await expect(answering({ status: 301 }).connections.pollOperation(ref, location)).rejects.toThrow(/operation result failed: HTTP 301/);
  });

  it('never sends the token to an operation URL on another origin, whoever hands it in', async () => {
    // Prepare
    const { connections, seen } = answering({ status: 200, body: { status: 'Succeeded' } });

    // Act & Assess
    await expect(connections.pollOperation(ref, { kind: 'async-operation', url: 'https://attacker.example/op?sig=secret' })).rejects.toThrow(/another origin \(https:\/\/attacker\.example\)/);
    expect(seen).toHaveLength(0);
  });
});
