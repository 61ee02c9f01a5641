/**
 * Drives the ARM emulator with the real SDK clients (@azure/arm-keyvault 5, @azure/arm-resources-subscriptions 2)
 * and with raw HTTPS where the SDK hides the wire, plus local webhooks for event delivery.
 *
 * Pointing arm-keyvault v5 at the emulator needs only `endpoint` and `tlsOptions.ca`: it builds every URL from
 * `endpoint`, and the default token scope becomes `${endpoint}/.default`, which a static credential ignores.
 * With a real credential, pass `credentials: { scopes: ['https://management.azure.com/.default'] }` as well.
 * SubscriptionClient (AutoRest core-client) builds URLs from `$host`, so it needs `$host` besides `endpoint`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { SubscriptionClient } from '@azure/arm-resources-subscriptions';
import type { TokenCredential } from '@azure/identity';
import { RestError } from '@azure/core-rest-pipeline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startArmEmulator, type ArmEmulator, type ConnectionResource } from '../../src/dev/arm-emulator/index.js';
import { rawHttps, type RawResponse } from '../fixtures/https.js';

const VAULT_SUB = '0b7f3c1e-6a2d-4c8b-9e15-3f4a5b6c7d80';
const VAULT_TENANT = 'a4c2e6f8-1b3d-4f5a-8c7e-9d0b1a2c3e4f';
const REQUESTER_SUB = 'c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f';
const REQUESTER_TENANT = 'f1e2d3c4-b5a6-4978-8a6b-5c4d3e2f1a0b';
const FORBIDDEN_SUB = 'd5e6f7a8-b9c0-4d1e-8f2a-3b4c5d6e7f80';
const MISSING_SUB = 'e6f7a8b9-c0d1-4e2f-9a3b-4c5d6e7f8091';
const RG = 'rg-Vaults';
const CLAIM_OID = 'http://schemas.microsoft.com/identity/claims/objectidentifier';
const CLAIM_TID = 'http://schemas.microsoft.com/identity/claims/tenantid';
const PROVISIONING_DELAY_MS = 40;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const credential: TokenCredential = {
  getToken: async () => ({ token: 'dev', expiresOnTimestamp: Date.now() + 3_600_000 }),
};

const subscriptions = [
  { subscriptionId: VAULT_SUB, tenantId: VAULT_TENANT, displayName: 'Vaults', visibility: 'visible' as const },
  { subscriptionId: REQUESTER_SUB, tenantId: REQUESTER_TENANT, displayName: 'Requester', visibility: 'visible' as const },
  { subscriptionId: FORBIDDEN_SUB, tenantId: VAULT_TENANT, displayName: 'Locked', visibility: 'forbidden' as const },
  { subscriptionId: MISSING_SUB, tenantId: VAULT_TENANT, displayName: 'Gone', visibility: 'missing' as const },
];

let emu: ArmEmulator;
let client: KeyVaultManagementClient;

beforeAll(async () => {
  emu = await startArmEmulator({ subscriptions, provisioningDelayMs: PROVISIONING_DELAY_MS, pageSize: 3 });
  client = new KeyVaultManagementClient(credential, VAULT_SUB, { endpoint: emu.url, tlsOptions: { ca: emu.caPem } });
  emu.createVault({ subscriptionId: VAULT_SUB, resourceGroup: RG, name: 'kv-linkgate-main' });
  emu.createVault({ subscriptionId: VAULT_SUB, resourceGroup: RG, name: 'kv-linkgate-paging' });
});

afterAll(async () => {
  await emu?.close();
});

describe('Key Vault private endpoint connections through @azure/arm-keyvault', () => {
  it('lists connections across several pages by following nextLink', async () => {
    for (let i = 0; i < 7; i += 1) {
      await emu.simulateRequest({ vault: 'kv-linkgate-paging', fromSubscription: REQUESTER_SUB, message: `request ${i}` });
    }
    const pages: number[] = [];
    for await (const page of client.privateEndpointConnections.listByResource(RG, 'kv-linkgate-paging').byPage()) {
      pages.push(page.length);
    }
    expect(pages).toEqual([3, 3, 1]);
    const listCalls = emu.calls.filter((c) => c.path.endsWith('kv-linkgate-paging/privateEndpointConnections'));
    expect(listCalls.map((c) => c.status)).toEqual([200, 200, 200]);
    expect(listCalls[1]?.query).toMatch(/api-version=2026-02-01&\$skipToken=/);
  });

  it('gets a connection in the ARM wire shape, with the request message as description', async () => {
    const created = await request('kv-linkgate-main', 'please let the payments app in');
    const got = await client.privateEndpointConnections.get(RG, 'kv-linkgate-main', created.name);
    expect(got).toMatchObject({
      id: created.id,
      name: created.name,
      type: 'Microsoft.KeyVault/vaults/privateEndpointConnections',
      etag: created.etag,
      location: 'westeurope',
      provisioningState: 'Succeeded',
      privateLinkServiceConnectionState: { status: 'Pending', description: 'please let the payments app in', actionsRequired: 'None' },
    });
    expect(got.privateEndpoint?.id).toMatch(
      new RegExp(`^/subscriptions/${REQUESTER_SUB}/resourceGroups/rg-requester/providers/Microsoft.Network/privateEndpoints/`),
    );
  });

  it('approves with PUT: Updating at once, Succeeded after the provisioning delay, tracked by Azure-AsyncOperation', async () => {
    const created = await request('kv-linkgate-main');
    let asyncOperation: string | null = null;
    const put = await client.privateEndpointConnections.put(
      RG,
      'kv-linkgate-main',
      created.name,
      { privateLinkServiceConnectionState: { status: 'Approved', description: 'approved by rule' } },
      { onResponse: (raw) => void (asyncOperation = raw.headers.get('azure-asyncoperation') ?? null) },
    );
    expect(put.provisioningState).toBe('Updating');
    expect(put.privateLinkServiceConnectionState?.status).toBe('Approved');
    expect(put.etag).not.toBe(created.etag);
    expect(asyncOperation).toMatch(new RegExp(`^${emu.url}/subscriptions/${VAULT_SUB}/providers/Microsoft.KeyVault/`));

    const settled = await eventually(async () => {
      const current = await client.privateEndpointConnections.get(RG, 'kv-linkgate-main', created.name);
      return current.provisioningState === 'Succeeded' ? current : undefined;
    });
    expect(settled.privateLinkServiceConnectionState).toMatchObject({ status: 'Approved', description: 'approved by rule' });
    expect((await raw('GET', asyncOperation!)).json).toMatchObject({ status: 'Succeeded' });
  });

  it('reports InProgress on the Azure-AsyncOperation URL while the connection is Updating', async () => {
    // A provisioning delay far beyond the test keeps the operation in progress without racing a timer.
    const slow = await startArmEmulator({ subscriptions, provisioningDelayMs: 60_000 });
    try {
      slow.createVault({ subscriptionId: VAULT_SUB, resourceGroup: RG, name: 'kv-linkgate-slow' });
      const created = await slow.simulateRequest({ vault: 'kv-linkgate-slow', fromSubscription: REQUESTER_SUB });
      const slowClient = new KeyVaultManagementClient(credential, VAULT_SUB, { endpoint: slow.url, tlsOptions: { ca: slow.caPem } });
      let asyncOperation = '';
      await slowClient.privateEndpointConnections.put(
        RG,
        'kv-linkgate-slow',
        created.name,
        { privateLinkServiceConnectionState: { status: 'Rejected' } },
        { onResponse: (response) => void (asyncOperation = response.headers.get('azure-asyncoperation') ?? '') },
      );
      const operation = await raw('GET', asyncOperation, { ca: slow.caPem });
      expect(operation.status).toBe(200);
      expect(operation.json).toMatchObject({ status: 'InProgress', startTime: expect.any(String) });
      const current = await slowClient.privateEndpointConnections.get(RG, 'kv-linkgate-slow', created.name);
      expect(current.provisioningState).toBe('Updating');
    } finally {
      await slow.close();
    }
  });

  it('accepts setting the same status again', async () => {
    const created = await request('kv-linkgate-main');
    const state = { privateLinkServiceConnectionState: { status: 'Approved' } };
    await client.privateEndpointConnections.put(RG, 'kv-linkgate-main', created.name, state);
    const again = await client.privateEndpointConnections.put(RG, 'kv-linkgate-main', created.name, state);
    expect(again.privateLinkServiceConnectionState?.status).toBe('Approved');
  });

  it('lets an Approved connection be rejected through the PUT, as Azure does', async () => {
    const created = await request('kv-linkgate-main');
    await emu.setConnectionStatus(created.id, 'Approved', 'approved in the portal');
    const rejected = await client.privateEndpointConnections.put(RG, 'kv-linkgate-main', created.name, {
      privateLinkServiceConnectionState: { status: 'Rejected', description: 'Rejected by Ada via Linkgate: not ours' },
    });
    expect(rejected.privateLinkServiceConnectionState?.status).toBe('Rejected');
    const settled = await eventually(async () => {
      const current = await client.privateEndpointConnections.get(RG, 'kv-linkgate-main', created.name);
      return current.provisioningState === 'Succeeded' ? current : undefined;
    });
    expect(settled.privateLinkServiceConnectionState).toMatchObject({ status: 'Rejected', description: 'Rejected by Ada via Linkgate: not ours' });
  });

  it('refuses to approve a Rejected connection with 400', async () => {
    const created = await request('kv-linkgate-main');
    await emu.setConnectionStatus(created.id, 'Rejected', 'not on the allow list');
    const approve = client.privateEndpointConnections.put(RG, 'kv-linkgate-main', created.name, {
      privateLinkServiceConnectionState: { status: 'Approved' },
    });
    await expect(approve).rejects.toBeInstanceOf(RestError);
    await expect(approve).rejects.toMatchObject({ statusCode: 400, code: 'PrivateEndpointConnectionStateTransitionNotAllowed' });
    await expect(emu.setConnectionStatus(created.id, 'Approved')).rejects.toThrow(/cannot be changed to Approved/);
    expect(emu.getConnection(created.id.toUpperCase())?.properties.privateLinkServiceConnectionState.status).toBe('Rejected');
  });

  it('answers 412 when the body etag or If-Match is stale', async () => {
    const created = await request('kv-linkgate-main');
    await emu.setConnectionStatus(created.id, 'Pending', 'touched in the portal');
    const state = { privateLinkServiceConnectionState: { status: 'Approved' as const } };
    await expect(
      client.privateEndpointConnections.put(RG, 'kv-linkgate-main', created.name, { ...state, etag: created.etag }),
    ).rejects.toMatchObject({ statusCode: 412, code: 'PreconditionFailed' });
    await expect(
      client.privateEndpointConnections.put(RG, 'kv-linkgate-main', created.name, state, {
        requestOptions: { headers: { 'If-Match': created.etag! } },
      }),
    ).rejects.toMatchObject({ statusCode: 412 });
    expect(emu.calls.at(-1)?.ifMatch).toBe(created.etag);

    const current = emu.getConnection(created.id)!;
    const put = await client.privateEndpointConnections.put(RG, 'kv-linkgate-main', created.name, {
      ...state,
      etag: current.etag,
    });
    expect(put.privateLinkServiceConnectionState?.status).toBe('Approved');
  });

  it('rejects an unknown status and a description over 140 characters with 400', async () => {
    const created = await request('kv-linkgate-main');
    await expect(
      client.privateEndpointConnections.put(RG, 'kv-linkgate-main', created.name, {
        privateLinkServiceConnectionState: { status: 'Maybe' },
      }),
    ).rejects.toMatchObject({ statusCode: 400, message: expect.stringMatching(/Pending, Approved, Rejected, Disconnected/) });
    await expect(
      client.privateEndpointConnections.put(RG, 'kv-linkgate-main', created.name, {
        privateLinkServiceConnectionState: { status: 'Approved', description: 'x'.repeat(141) },
      }),
    ).rejects.toMatchObject({ statusCode: 400, message: expect.stringMatching(/at most 140/) });
    await expect(
      emu.simulateRequest({ vault: 'kv-linkgate-main', fromSubscription: REQUESTER_SUB, message: 'y'.repeat(141) }),
    ).rejects.toThrow(/at most 140/);
  });

  it('answers 404 RestErrors for a missing connection and a missing vault', async () => {
    await expect(client.privateEndpointConnections.get(RG, 'kv-linkgate-main', 'pe-none.0')).rejects.toMatchObject({
      name: 'RestError',
      statusCode: 404,
      code: 'PrivateEndpointConnectionNotFound',
    });
    await expect(client.privateEndpointConnections.get(RG, 'kv-nowhere', 'pe-none.0')).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceNotFound',
    });
  });

  it('serves injected faults first: 204 with an empty body makes the v5 get throw a TypeError', async () => {
    const created = await request('kv-linkgate-main');
    emu.injectFault({ method: 'GET', pathIncludes: created.name, status: 204, emptyBody: true });
    // The v5 deserializer accepts 204 for get, then reads `.id` of the missing body: a TypeError, not a RestError.
    await expect(client.privateEndpointConnections.get(RG, 'kv-linkgate-main', created.name)).rejects.toBeInstanceOf(TypeError);
    const after = await client.privateEndpointConnections.get(RG, 'kv-linkgate-main', created.name);
    expect(after.id).toBe(created.id);
  });

  it('answers injected 429/503 with Retry-After, which the SDK pipeline retries', async () => {
    const created = await request('kv-linkgate-main');
    emu.injectFault({ method: 'GET', pathIncludes: created.name, status: 429, retryAfterSeconds: 0 });
    emu.injectFault({ method: 'GET', pathIncludes: created.name, status: 503, retryAfterSeconds: 0 });
    const got = await client.privateEndpointConnections.get(RG, 'kv-linkgate-main', created.name);
    expect(got.name).toBe(created.name);
    const statuses = emu.calls.filter((c) => c.path.endsWith(created.name)).map((c) => c.status);
    expect(statuses).toEqual([429, 503, 200]);
  });

  it('deletes: the poller resolves on 200; deleting again answers 204, on which the v5 SDK throws a TypeError', async () => {
    const first = await request('kv-linkgate-main');
    const second = await request('kv-linkgate-main');
    const deleted = await client.privateEndpointConnections.delete(RG, 'kv-linkgate-main', first.name);
    expect(deleted.provisioningState).toBe('Deleting');
    expect(emu.getConnection(first.id)).toBeUndefined();

    const poller = client.privateEndpointConnections.delete(RG, 'kv-linkgate-main', second.name);
    await expect(poller.pollUntilDone()).resolves.toMatchObject({ name: second.name });
    expect(poller.isDone).toBe(true);

    // 204 is an expected status for delete, but the deserializer then reads `.id` of an absent body.
    await expect(client.privateEndpointConnections.delete(RG, 'kv-linkgate-main', first.name)).rejects.toBeInstanceOf(TypeError);
    expect(emu.calls.at(-1)).toMatchObject({ method: 'DELETE', status: 204 });
  });
});

describe('vaults through @azure/arm-keyvault', () => {
  it('creates, reads, lists and deletes vaults', async () => {
    const created = await client.vaults.createOrUpdate(RG, 'kv-linkgate-sdk', {
      location: 'northeurope',
      tags: { owner: 'linkgate' },
      properties: { tenantId: VAULT_TENANT, sku: { family: 'A', name: 'standard' } },
    });
    expect(created).toMatchObject({ name: 'kv-linkgate-sdk', location: 'northeurope', tags: { owner: 'linkgate' } });
    expect(emu.calls.at(-1)).toMatchObject({ method: 'PUT', status: 201 });

    const main = await client.vaults.get(RG, 'kv-linkgate-main');
    expect(main.properties).toMatchObject({ tenantId: VAULT_TENANT, sku: { family: 'A', name: 'standard' }, provisioningState: 'Succeeded' });
    expect(main.properties.privateEndpointConnections?.length).toBeGreaterThan(0);

    const names: string[] = [];
    for await (const vault of client.vaults.listBySubscription()) names.push(vault.name ?? '');
    expect(names).toEqual(expect.arrayContaining(['kv-linkgate-main', 'kv-linkgate-paging', 'kv-linkgate-sdk']));
    const inGroup: string[] = [];
    for await (const vault of client.vaults.listByResourceGroup('rg-vaults')) inGroup.push(vault.name ?? '');
    expect(inGroup).toHaveLength(3);

    await client.vaults.delete(RG, 'kv-linkgate-sdk');
    await expect(client.vaults.get(RG, 'kv-linkgate-sdk')).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('ARM protocol details over raw HTTPS', () => {
  const connectionsPath = `/subscriptions/${VAULT_SUB}/resourceGroups/${RG}/providers/Microsoft.KeyVault/vaults/kv-linkgate-main/privateEndpointConnections`;

  it('requires api-version and lists the supported ones when it is wrong', async () => {
    const missing = await raw('GET', connectionsPath);
    expect(missing.status).toBe(400);
    expect(missing.json).toMatchObject({ error: { code: 'MissingApiVersionParameter' } });
    const wrong = await raw('GET', `${connectionsPath}?api-version=2019-09-01`);
    expect(wrong.status).toBe(400);
    expect(wrong.json).toMatchObject({ error: { code: 'InvalidApiVersionParameter', message: expect.stringContaining('2026-02-01') } });
    expect(wrong.headers['x-ms-request-id']).toMatch(GUID);
    expect(wrong.headers['x-ms-correlation-request-id']).toMatch(GUID);
    const oldButReal = await raw('GET', `${connectionsPath}?api-version=2023-07-01`);
    expect(oldButReal.status).toBe(200);
    expect(oldButReal.headers['x-ms-ratelimit-remaining-subscription-reads']).toMatch(/^\d+$/);
  });

  it('answers 401 with WWW-Authenticate without a bearer token', async () => {
    const response = await raw('GET', `${connectionsPath}?api-version=2026-02-01`, { auth: false });
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(response.json).toMatchObject({ error: { code: 'AuthenticationFailed' } });
  });

  it('matches paths case-insensitively and keeps the stored casing in ids', async () => {
    const lower = connectionsPath.replace('resourceGroups', 'resourcegroups').replace('Microsoft.KeyVault', 'microsoft.keyvault');
    const response = await raw('GET', `${lower.toUpperCase()}?api-version=2026-02-01`);
    expect(response.status).toBe(200);
    const value = (response.json as { value: ConnectionResource[] }).value;
    expect(value[0]?.id).toContain(`/resourceGroups/${RG}/providers/Microsoft.KeyVault/vaults/kv-linkgate-main/`);
  });

  it('answers unknown routes with 404 and unsupported methods with 405, both as ARM error bodies', async () => {
    const unknown = await raw('GET', `/subscriptions/${VAULT_SUB}/providers/Microsoft.KeyVault/managedHSMs?api-version=2026-02-01`);
    expect(unknown.status).toBe(404);
    expect(unknown.json).toMatchObject({ error: { code: 'InvalidResourceType' } });
    const post = await raw('POST', `${connectionsPath}?api-version=2026-02-01`, { body: {} });
    expect(post.status).toBe(405);
    expect(post.json).toMatchObject({ error: { code: 'MethodNotAllowed' } });
  });

  it('exposes the control surface under /_emulator without a token', async () => {
    const created = await raw('POST', '/_emulator/requests', {
      auth: false,
      body: { vault: 'kv-linkgate-main', fromSubscription: REQUESTER_SUB, endpointName: 'pe-from-cli', message: 'via CLI' },
    });
    expect(created.status).toBe(201);
    const connection = created.json as ConnectionResource;
    expect(connection.name).toMatch(/^pe-from-cli\./);

    const vaultId = connection.id.split('/privateEndpointConnections/')[0] ?? '';
    const listed = await raw('GET', `/_emulator/connections?vaultId=${encodeURIComponent(vaultId.toLowerCase())}`, { auth: false });
    expect((listed.json as { value: ConnectionResource[] }).value.map((c) => c.id)).toContain(connection.id);

    const approved = await raw('POST', '/_emulator/connections/status', {
      auth: false,
      body: { connectionId: connection.id, status: 'Approved', description: 'ok' },
    });
    expect(approved.json).toMatchObject({ properties: { privateLinkServiceConnectionState: { status: 'Approved' } } });

    const bad = await raw('POST', '/_emulator/requests', { auth: false, body: { fromSubscription: REQUESTER_SUB } });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: { message: expect.stringContaining("'vault' is required") } });
    const badStatus = await raw('POST', '/_emulator/connections/status', {
      auth: false,
      body: { connectionId: connection.id, status: 'Sure' },
    });
    expect(badStatus.status).toBe(400);
    const badFault = await raw('POST', '/_emulator/faults', { auth: false, body: { status: 'often' } });
    expect(badFault.status).toBe(400);
    const fault = await raw('POST', '/_emulator/faults', { auth: false, body: { method: 'GET', pathIncludes: 'pe-from-cli', status: 503 } });
    expect(fault.status).toBe(201);
    expect((await raw('GET', `${connection.id}?api-version=2026-02-01`)).status).toBe(503);

    const calls = await raw('GET', '/_emulator/calls', { auth: false });
    const paths = (calls.json as { value: Array<{ path: string }> }).value.map((c) => c.path);
    expect(paths).toContain(connection.id);
    expect(paths.filter((path) => path.startsWith('/_emulator'))).toEqual([]);
  });
});

describe('subscriptions through @azure/arm-resources-subscriptions', () => {
  let subscriptionClient: SubscriptionClient;

  beforeAll(() => {
    subscriptionClient = new SubscriptionClient(credential, { endpoint: emu.url, $host: emu.url, tlsOptions: { ca: emu.caPem } });
  });

  it('reads a visible subscription with its tenant', async () => {
    const subscription = await subscriptionClient.subscriptions.get(VAULT_SUB);
    expect(subscription).toMatchObject({ subscriptionId: VAULT_SUB, tenantId: VAULT_TENANT, displayName: 'Vaults', state: 'Enabled' });
  });

  it('answers 403 AuthorizationFailed for a forbidden subscription', async () => {
    await expect(subscriptionClient.subscriptions.get(FORBIDDEN_SUB)).rejects.toMatchObject({ statusCode: 403, code: 'AuthorizationFailed' });
  });

  it('answers 404 SubscriptionNotFound for a missing subscription', async () => {
    await expect(subscriptionClient.subscriptions.get(MISSING_SUB)).rejects.toMatchObject({ statusCode: 404, code: 'SubscriptionNotFound' });
  });
});

describe('resource events', () => {
  let events: ArmEmulator;
  let eventClient: KeyVaultManagementClient;
  const webhooks: Webhook[] = [];

  beforeAll(async () => {
    events = await startArmEmulator({ subscriptions, provisioningDelayMs: PROVISIONING_DELAY_MS });
    eventClient = new KeyVaultManagementClient(credential, VAULT_SUB, { endpoint: events.url, tlsOptions: { ca: events.caPem } });
    events.createVault({ subscriptionId: VAULT_SUB, resourceGroup: RG, name: 'kv-linkgate-events' });
  });

  afterAll(async () => {
    await events?.close();
    await Promise.all(webhooks.map((webhook) => webhook.close()));
  });

  async function webhook(behaviour: WebhookBehaviour = {}): Promise<Webhook> {
    const created = await startWebhook(behaviour);
    webhooks.push(created);
    return created;
  }

  it('validates an Event Grid webhook, then delivers a request as one batch of two events', async () => {
    const hook = await webhook();
    await events.subscribe(hook.url);
    const handshake = hook.received[0];
    expect(handshake?.headers['aeg-event-type']).toBe('SubscriptionValidation');
    expect(handshake?.body).toEqual([
      expect.objectContaining({
        eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
        data: expect.objectContaining({ validationCode: expect.stringMatching(GUID) }),
      }),
    ]);
    expect(events.deliveries[0]).toMatchObject({ url: hook.url, status: 200, eventTypes: ['Microsoft.EventGrid.SubscriptionValidationEvent'] });

    const requesterObjectId = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
    const connection = await events.simulateRequest({
      vault: 'kv-linkgate-events',
      fromSubscription: REQUESTER_SUB,
      endpointName: 'pe-orders',
      message: 'orders app',
      requesterObjectId,
    });
    const [batch] = hook.notifications();
    expect(batch?.headers['content-type']).toBe('application/json');
    const delivered = batch?.body as EventGridEvent[];
    expect(delivered.map((e) => [e.eventType, e.data.operationName])).toEqual([
      ['Microsoft.Resources.ResourceActionSuccess', 'Microsoft.KeyVault/vaults/privateEndpointConnectionProxies/validate/action'],
      ['Microsoft.Resources.ResourceWriteSuccess', 'Microsoft.KeyVault/vaults/privateEndpointConnectionProxies/write'],
    ]);
    const proxyUri = `/subscriptions/${VAULT_SUB}/resourcegroups/${RG}/providers/Microsoft.KeyVault/vaults/kv-linkgate-events/privateEndpointConnectionProxies/${connection.name}`;
    for (const event of delivered) {
      expect(event).toMatchObject({ topic: `/subscriptions/${VAULT_SUB}`, subject: proxyUri, dataVersion: '2', metadataVersion: '1' });
      expect(event.data).toMatchObject({
        resourceUri: proxyUri,
        resourceProvider: 'Microsoft.KeyVault',
        status: 'Succeeded',
        subscriptionId: VAULT_SUB,
        tenantId: VAULT_TENANT,
        httpRequest: { clientIpAddress: '127.0.0.1' },
        authorization: { scope: proxyUri, evidence: { role: 'Contributor', principalType: 'User' } },
      });
      expect(event.data.claims[CLAIM_OID]).toBe(requesterObjectId);
      expect(event.data.claims[CLAIM_TID]).toBe(REQUESTER_TENANT);
    }
  });

  it('delivers a privateEndpointConnections/write event for an SDK PUT without delaying the response', async () => {
    const hook = await webhook();
    await events.subscribe(hook.url, { schema: 'EventGridSchema' });
    const connection = await events.simulateRequest({ vault: 'kv-linkgate-events', fromSubscription: REQUESTER_SUB });
    await eventClient.privateEndpointConnections.put(RG, 'kv-linkgate-events', connection.name, {
      privateLinkServiceConnectionState: { status: 'Approved', description: 'by Linkgate' },
    });
    const writes = await eventually(async () => {
      const found = hook.events().filter((e) => e.data.operationName === 'Microsoft.KeyVault/vaults/privateEndpointConnections/write');
      return found.length > 0 ? found : undefined;
    });
    const expectedUri = connection.id.replace('/resourceGroups/', '/resourcegroups/');
    expect(writes[0]).toMatchObject({ eventType: 'Microsoft.Resources.ResourceWriteSuccess', subject: expectedUri });
    expect(writes[0]?.data).toMatchObject({ resourceUri: expectedUri, httpRequest: { method: 'PUT' } });
    expect(writes[0]?.data.claims[CLAIM_OID]).toMatch(GUID);

    await events.setConnectionStatus(connection.id, 'Disconnected', 'removed', '0f1e2d3c-4b5a-4697-8877-665544332211');
    await events.deleteConnection(connection.id);
    const portal = hook.events().slice(-2);
    expect(portal.map((e) => [e.eventType, e.data.operationName, e.data.claims[CLAIM_OID]])).toEqual([
      ['Microsoft.Resources.ResourceWriteSuccess', 'Microsoft.KeyVault/vaults/privateEndpointConnections/write', '0f1e2d3c-4b5a-4697-8877-665544332211'],
      ['Microsoft.Resources.ResourceDeleteSuccess', 'Microsoft.KeyVault/vaults/privateEndpointConnections/delete', expect.stringMatching(GUID)],
    ]);
  });

  it('retries a failing webhook a bounded number of times and records every attempt', async () => {
    const hook = await webhook({ failNotifications: 2 });
    await events.subscribe(hook.url);
    await events.simulateRequest({ vault: 'kv-linkgate-events', fromSubscription: REQUESTER_SUB });
    const attempts = events.deliveries.filter((d) => d.url === hook.url).slice(1);
    expect(attempts.map((d) => d.status)).toEqual([500, 500, 200]);
    expect(hook.notifications().map((n) => n.headers['aeg-delivery-count'])).toEqual(['0', '1', '2']);
  });

  it('refuses to subscribe a webhook that does not echo the validation code', async () => {
    const hook = await webhook({ answerValidation: false });
    await expect(events.subscribe(hook.url)).rejects.toThrow(/validationResponse/);
  });

  it('performs the CloudEvents handshake and delivers CloudEvents batches', async () => {
    const hook = await webhook();
    await events.subscribe(hook.url, { schema: 'CloudEventSchemaV1_0' });
    expect(hook.received[0]).toMatchObject({ method: 'OPTIONS', headers: { 'webhook-request-origin': 'eventgrid.azure.net' } });

    const connection = await events.simulateRequest({ vault: 'kv-linkgate-events', fromSubscription: REQUESTER_SUB });
    const [batch] = hook.notifications();
    expect(batch?.headers['content-type']).toMatch(/^application\/cloudevents-batch\+json/);
    const delivered = batch?.body as Array<Record<string, unknown> & { data: EventGridEvent['data'] }>;
    expect(delivered).toHaveLength(2);
    expect(delivered[1]).toMatchObject({
      specversion: '1.0',
      type: 'Microsoft.Resources.ResourceWriteSuccess',
      source: `/subscriptions/${VAULT_SUB}`,
      subject: expect.stringContaining(`/resourcegroups/${RG}/`),
      id: expect.stringMatching(GUID),
      time: expect.any(String),
    });
    expect(delivered[1]?.subject).toBe(delivered[1]?.data.resourceUri);
    expect(delivered[1]?.data.resourceUri).toContain(`/privateEndpointConnectionProxies/${connection.name}`);
  });

  it('refuses a CloudEvents webhook that does not allow the Event Grid origin', async () => {
    const hook = await webhook({ allowOrigin: false });
    await expect(events.subscribe(hook.url, { schema: 'CloudEventSchemaV1_0' })).rejects.toThrow(/WebHook-Allowed-Origin/);
  });
});

// ---------------------------------------------------------------------------------------------------------------

async function request(vault: string, message?: string): Promise<ConnectionResource> {
  return emu.simulateRequest({ vault, fromSubscription: REQUESTER_SUB, ...(message ? { message } : {}) });
}

/** Polls until `probe` returns a value; bounded so a broken emulator fails the test instead of hanging it. */
async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 3_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A plain HTTPS request to the emulator, for what the SDK would not send (bad api-version, no token). */
function raw(method: string, pathOrUrl: string, opts: { auth?: boolean; body?: unknown; ca?: string } = {}): Promise<RawResponse> {
  return rawHttps(emu, method, pathOrUrl, opts);
}

interface EventGridEvent {
  eventType: string;
  subject: string;
  data: { operationName: string; resourceUri: string; claims: Record<string, string> } & Record<string, unknown>;
}

interface WebhookBehaviour {
  answerValidation?: boolean;
  allowOrigin?: boolean;
  failNotifications?: number;
}

interface Received {
  method: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

interface Webhook {
  url: string;
  received: Received[];
  notifications(): Received[];
  events(): EventGridEvent[];
  close(): Promise<void>;
}

/** A local webhook that plays an Event Grid subscriber and records what it receives. */
async function startWebhook(behaviour: WebhookBehaviour): Promise<Webhook> {
  const received: Received[] = [];
  let failuresLeft = behaviour.failNotifications ?? 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const body = text ? (JSON.parse(text) as unknown) : undefined;
      received.push({ method: req.method ?? '', headers: req.headers, body });
      if (req.method === 'OPTIONS') {
        if (behaviour.allowOrigin !== false) res.setHeader('WebHook-Allowed-Origin', String(req.headers['webhook-request-origin']));
        res.writeHead(200).end();
      } else if (req.headers['aeg-event-type'] === 'SubscriptionValidation') {
        const code = (body as Array<{ data: { validationCode: string } }>)[0]?.data.validationCode;
        const answer = behaviour.answerValidation === false ? {} : { validationResponse: code };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
      } else if (failuresLeft > 0) {
        failuresLeft -= 1;
        res.writeHead(500).end();
      } else {
        res.writeHead(200).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const notifications = (): Received[] =>
    received.filter((r) => r.method === 'POST' && r.headers['aeg-event-type'] === 'Notification');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/events`,
    received,
    notifications,
    events: () => notifications().flatMap((r) => r.body as EventGridEvent[]),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
