import type { TokenCredential } from '@azure/core-auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArmConnection } from '../../src/adapters/arm/arm-client-options.js';
import { ArmConnections } from '../../src/adapters/arm/arm-connections.js';
import { isProvisioningFinal } from '../../src/domain/connection.js';
import { connectionRef, parseConnectionId, resourceRef, type ResourceRef } from '../../src/domain/resource-id.js';
import { RESOURCE_TYPES, type ResourceType } from '../../src/domain/resource-types.js';
import { fixtureFor, startArmEmulator, type ArmEmulator } from '../../src/dev/arm-emulator/index.js';
import { rawHttps } from '../fixtures/https.js';

/**
 * Every registered type through the one generic port (ArmConnections on the core pipeline)
 * against the emulator, which answers each type the way its provider's specification says:
 * its own API versions, 200, 201 or 202 on the PUT, its own provisioning states.
 */
const HOME_TENANT = 'c0a1b2c3-0000-4000-8000-00000000c0de';
const RESOURCE_SUB = '5ec00000-0000-4000-8000-000000000001';
const APP_SUB = 'a9900000-0000-4000-8000-000000000002';
const RG = 'rg-data';

const credential: TokenCredential = { getToken: async () => ({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };

/** `{key}types1`: lower-case letters and digits, 9 to 24 characters, valid under every type's name rule. */
const nameOf = (type: ResourceType) => `${type.key}types1`;

let emulator: ArmEmulator;
let arm: ArmConnection;

beforeAll(async () => {
  emulator = await startArmEmulator({
    subscriptions: [
      { subscriptionId: RESOURCE_SUB, tenantId: HOME_TENANT, displayName: 'Platform', visibility: 'visible' },
      { subscriptionId: APP_SUB, tenantId: HOME_TENANT, displayName: 'App', visibility: 'visible' },
    ],
    provisioningDelayMs: 40,
    pageSize: 2,
  });
  for (const type of RESOURCE_TYPES) {
    emulator.createResource({ type: type.key, subscriptionId: RESOURCE_SUB, resourceGroup: RG, name: nameOf(type) });
  }
  arm = { endpoint: emulator.url, credential, caPem: emulator.caPem, retry: { maxRetries: 3, baseDelayMs: 10, maxDelayMs: 50, maxRetryAfterMs: 2_000 } };
});

afterAll(async () => {
  await emulator?.close();
});

function resourceOfType(type: ResourceType): ResourceRef {
  return resourceRef(type, RESOURCE_SUB, RG, nameOf(type));
}

async function request(type: ResourceType, message = 'type test') {
  const connection = await emulator.simulateRequest({ type: type.key, resource: nameOf(type), fromSubscription: APP_SUB, message });
  return parseConnectionId(connection.id);
}

async function untilFinal(connections: ArmConnections, ref: ReturnType<typeof connectionRef>) {
  let current = await connections.get(ref);
  for (let i = 0; i < 100 && current && !isProvisioningFinal(current.provisioningState, ref.resource.type); i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    current = await connections.get(ref);
  }
  return current;
}

describe('the emulator and the registry', () => {
  it.each(RESOURCE_TYPES.map((t) => [t.key, t] as const))('has a fixture for %s that accepts the registry API version', (_key, type) => {
    // Act
    const fixture = fixtureFor(type.type);

    // Assess
    expect(fixture?.type).toBe(type.type);
    expect(fixture?.apiVersions[0]).toBe(type.apiVersion);
  });
});

describe.each(RESOURCE_TYPES.map((t) => [t.key, t] as const))('ArmConnections for %s', (_key, type) => {
  it('lists every connection across pages with the type API version, and reads requester and message', async () => {
    // Prepare
    for (let i = 0; i < 3; i += 1) await request(type, `page ${i}`);
    const callsBefore = emulator.calls.length;

    // Act
    const listed = await new ArmConnections(arm).list(resourceOfType(type));

    // Assess
    expect(listed?.filter((c) => c.description?.startsWith('page ')).length).toBe(3);
    expect(listed?.find((c) => c.description === 'page 0')).toMatchObject({ status: 'Pending', privateEndpoint: { subscriptionId: APP_SUB } });
    const lists = emulator.calls.slice(callsBefore).filter((c) => c.method === 'GET');
    expect(lists.length).toBeGreaterThanOrEqual(2); // pages of two
    for (const call of lists) expect(call.query).toContain(`api-version=${type.apiVersion}`);
    expect(listed?.every((c) => c.ref.resource.type === type)).toBe(true);
  });

  it('lists the resources of the type in a subscription for the sweep', async () => {
    // Act
    const found = await new ArmConnections(arm).listResources(RESOURCE_SUB, type);

    // Assess
    expect(found.map((r) => r.key)).toEqual([resourceOfType(type).key]);
  });

  it('approves, sending the private endpoint back where the type takes it, and waits for a final provisioning state', async () => {
    // Prepare
    const ref = await request(type);
    const connections = new ArmConnections(arm);
    const before = await connections.get(ref);
    const callsBefore = emulator.calls.length;

    // Act
    const result = await connections.setStatus(ref, {
      status: 'Approved',
      description: 'Approved by test',
      ...(before?.etag ? { etag: before.etag } : {}),
      ...(before?.rawPrivateEndpointId ? { privateEndpointId: before.rawPrivateEndpointId } : {}),
    });
    const after = await untilFinal(connections, ref);

    // Assess
    expect(result.kind).toBe('accepted');
    expect(after).toMatchObject({ status: 'Approved', description: 'Approved by test' });
    expect(isProvisioningFinal(after?.provisioningState, type)).toBe(true);
    const put = emulator.calls.slice(callsBefore).find((c) => c.method === 'PUT');
    const sent = (put?.body as { properties?: { privateEndpoint?: { id?: string } } } | undefined)?.properties?.privateEndpoint?.id;
    expect(sent).toBe(type.connections.sendsPrivateEndpoint ? before?.rawPrivateEndpointId : undefined);
    expect(put?.status).toBe({ ok: 200, 'ok-async-header': 200, 'created-async-header': 201, 'accepted-location': 202, 'accepted-body-location': 202 }[fixtureFor(type.type)!.put]);
  });

  it('answers the PUT as the provider does, and lets a client follow it to the end by the header it gives', async () => {
    // Prepare
    const ref = await request(type);
    const fixture = fixtureFor(type.type)!;
    const url = `${ref.id}?api-version=${type.apiVersion}`;

    // Act
    const put = await rawHttps(emulator, 'PUT', url, { body: { properties: { privateLinkServiceConnectionState: { status: 'Approved', description: 'followed' } } } });
    const location = put.headers['location'];
    const asyncOperation = put.headers['azure-asyncoperation'];
    const polls: number[] = [];
    let done: { status: number; json: unknown } | undefined;
    for (let i = 0; i < 100 && !done && (location || asyncOperation); i += 1) {
      const poll = await rawHttps(emulator, 'GET', String(location ?? asyncOperation));
      polls.push(poll.status);
      const finished = location ? poll.status !== 202 : (poll.json as { status?: string }).status !== 'InProgress';
      if (finished) done = poll;
      else await new Promise((resolve) => setTimeout(resolve, 10));
    }

    // Assess
    expect(put.status).toBe({ ok: 200, 'ok-async-header': 200, 'created-async-header': 201, 'accepted-location': 202, 'accepted-body-location': 202 }[fixture.put]);
    expect(put.json === undefined).toBe(fixture.put === 'accepted-location');
    if (fixture.put === 'ok') {
      expect([location, asyncOperation]).toEqual([undefined, undefined]);
    } else if (location) {
      // Location: 202 while running, then 200 with the connection as it ended.
      expect(polls.at(-1)).toBe(200);
      expect(polls.slice(0, -1).every((status) => status === 202)).toBe(true);
      expect(done?.json).toMatchObject({ properties: { privateLinkServiceConnectionState: { status: 'Approved' }, provisioningState: fixture.applied } });
    } else {
      expect(done?.json).toMatchObject({ status: 'Succeeded' });
    }
    expect(emulator.getConnection(ref.id)?.properties.provisioningState).toBe(fixture.applied);
  });

  it('rejects', async () => {
    // Prepare
    const ref = await request(type);
    const connections = new ArmConnections(arm);

    // Act
    const result = await connections.setStatus(ref, { status: 'Rejected', description: 'Rejected by test' });

    // Assess
    expect(result.kind).toBe('accepted');
    expect(await untilFinal(connections, ref)).toMatchObject({ status: 'Rejected', description: 'Rejected by test' });
  });

  it('reports approving a rejected connection as refused (Azure answers 400)', async () => {
    // Prepare
    const ref = await request(type);
    await emulator.setConnectionStatus(ref.id, 'Rejected', 'no');

    // Act
    const result = await new ArmConnections(arm).setStatus(ref, { status: 'Approved', description: 'try' });

    // Assess
    expect(result.kind).toBe('refused');
  });

  it('reports a missing connection as gone (404) for get and put, and a missing resource as undefined', async () => {
    // Prepare
    const ref = connectionRef(resourceOfType(type), 'does-not-exist');
    const connections = new ArmConnections(arm);

    // Act & Assess
    expect(await connections.get(ref)).toBeUndefined();
    expect((await connections.setStatus(ref, { status: 'Approved', description: 'x' })).kind).toBe('gone');
    expect(await connections.list(resourceRef(type, RESOURCE_SUB, RG, 'nowhere1'))).toBeUndefined();
  });

  it('reads a 204 with an empty body as gone', async () => {
    // Prepare
    const ref = await request(type);
    emulator.injectFault({ method: 'GET', pathIncludes: ref.name, status: 204, emptyBody: true, times: 1 });

    // Act & Assess
    expect(await new ArmConnections(arm).get(ref)).toBeUndefined();
  });

  it('honours Retry-After on 429, then succeeds', async () => {
    // Prepare
    const ref = await request(type);
    emulator.injectFault({ method: 'GET', pathIncludes: ref.name, status: 429, retryAfterSeconds: 1, times: 1 });
    const callsBefore = emulator.calls.length;

    // Act
    const read = await new ArmConnections(arm).get(ref);

    // Assess
    expect(read?.status).toBe('Pending');
    const mine = emulator.calls.slice(callsBefore).filter((c) => c.path.includes(ref.name));
    expect(mine.map((c) => c.status)).toEqual([429, 200]);
    expect((mine[1]?.at.getTime() ?? 0) - (mine[0]?.at.getTime() ?? 0)).toBeGreaterThanOrEqual(950);
  });

  it('retries a 5xx on the PUT a bounded number of times, then throws it', async () => {
    // Prepare
    const ref = await request(type);
    emulator.injectFault({ method: 'PUT', pathIncludes: ref.name, status: 503, times: 1 });
    const connections = new ArmConnections(arm);

    // Act
    const retried = await connections.setStatus(ref, { status: 'Approved', description: 'after a 503' });
    emulator.injectFault({ method: 'GET', pathIncludes: ref.name, status: 500, times: 10 });
    const failed = connections.get(ref);

    // Assess
    expect(retried.kind).toBe('accepted');
    await expect(failed).rejects.toMatchObject({ statusCode: 500 });
  });
});
