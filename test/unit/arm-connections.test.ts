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

function fakeClient(answer: (request: PipelineRequest) => { status: number; body?: unknown }) {
  const seen: PipelineRequest[] = [];
  const client: HttpClient = {
    async sendRequest(request): Promise<PipelineResponse> {
      seen.push(request);
      const { status, body } = answer(request);
      return { request, status, headers: createHttpHeaders(), ...(body === undefined ? {} : { bodyAsText: typeof body === 'string' ? body : JSON.stringify(body) }) };
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
