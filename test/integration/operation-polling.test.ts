import type { TokenCredential } from '@azure/core-auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArmConnection } from '../../src/adapters/arm/arm-client-options.js';
import { ArmConnections } from '../../src/adapters/arm/arm-connections.js';
import { systemClock, type Logger } from '../../src/app/ports.js';
import { waitUntilFinal } from '../../src/app/steps.js';
import { isProvisioningFinal } from '../../src/domain/connection.js';
import { parseConnectionId, type ConnectionRef } from '../../src/domain/resource-id.js';
import { RESOURCE_TYPES, type ResourceType } from '../../src/domain/resource-types.js';
import { fixtureFor, startArmEmulator, type ArmEmulator, type CallRecord } from '../../src/dev/arm-emulator/index.js';

/**
 * An approval of every registered type followed to its end through ArmConnections and
 * waitUntilFinal, in real time, against the emulator. The emulator answers each PUT as the type's
 * provider does (resource-fixtures.ts) with `Retry-After: 1`, and its operation turns Succeeded
 * when the provisioning delay (1.5 s here) has passed. A Location answers 202 with
 * `Retry-After: 1` while it runs, so it is asked at 1 s (running) and 2 s (done). An
 * Azure-AsyncOperation status answers without Retry-After, so after the first poll at 1 s
 * (running) the spacing is the fallback's: 1.25 s (running), 1.75 s (done).
 */
const HOME_TENANT = 'c0a1b2c3-0000-4000-8000-00000000c0de';
const RESOURCE_SUB = '5ec00000-0000-4000-8000-0000000000f1';
/** Where the resources of the tests after the first group live, so that their operations are told apart from those of tests still running. */
const SIDE_SUB = '5ec00000-0000-4000-8000-0000000000f3';
const APP_SUB = 'a9900000-0000-4000-8000-0000000000f2';
const RG = 'rg-poll';
const PROVISIONING_DELAY_MS = 1_500;

const credential: TokenCredential = { getToken: async () => ({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };
const nameOf = (type: ResourceType, subscriptionId = RESOURCE_SUB) => `${type.key}poll${subscriptionId === RESOURCE_SUB ? 1 : 2}`;

let emulator: ArmEmulator;
let arm: ArmConnection;

beforeAll(async () => {
  emulator = await startArmEmulator({
    subscriptions: [
      { subscriptionId: RESOURCE_SUB, tenantId: HOME_TENANT, displayName: 'Platform', visibility: 'visible' },
      { subscriptionId: SIDE_SUB, tenantId: HOME_TENANT, displayName: 'Platform 2', visibility: 'visible' },
      { subscriptionId: APP_SUB, tenantId: HOME_TENANT, displayName: 'App', visibility: 'visible' },
    ],
    provisioningDelayMs: PROVISIONING_DELAY_MS,
  });
  for (const type of RESOURCE_TYPES) {
    for (const subscriptionId of [RESOURCE_SUB, SIDE_SUB]) emulator.createResource({ type: type.key, subscriptionId, resourceGroup: RG, name: nameOf(type, subscriptionId) });
  }
  arm = { endpoint: emulator.url, credential, caPem: emulator.caPem, retry: { maxRetries: 2, baseDelayMs: 10, maxDelayMs: 50, maxRetryAfterMs: 2_000 } };
});

afterAll(async () => {
  await emulator?.close();
});

function recordingLog() {
  const lines: string[] = [];
  const log: Logger = { info: (m) => void lines.push(m), warn: (m) => void lines.push(m), error: (m) => void lines.push(m) };
  return { log, lines };
}

/** Approves a fresh request of `type` through `connections` and waits for it as act does. */
async function approveAndWait(type: ResourceType, connections: ArmConnections, log: Logger, subscriptionId = RESOURCE_SUB) {
  const resource = nameOf(type, subscriptionId);
  const created = await emulator.simulateRequest({ type: type.key, resource, fromSubscription: APP_SUB, message: 'poll test' });
  const ref = parseConnectionId(created.id);
  const before = await connections.get(ref);
  const first = emulator.calls.length;
  const result = await connections.setStatus(ref, {
    status: 'Approved',
    description: 'Approved by test',
    ...(before?.etag ? { etag: before.etag } : {}),
    ...(before?.rawPrivateEndpointId ? { privateEndpointId: before.rawPrivateEndpointId } : {}),
  });
  if (result.kind !== 'accepted') throw new Error(`the PUT was not accepted: ${result.kind}`);
  const deps = { connections, clock: systemClock, log, settings: { pollMinMs: 100, pollMaxMs: 10_000 } };
  const wait = await waitUntilFinal(deps, ref, 20_000, {}, result.operation);
  return { ref, result, wait, calls: emulator.calls.slice(first) };
}

/**
 * This connection's PUT and GETs, and the GETs of operations: those of `operation` when given,
 * else any in the connection's subscription (other tests run alongside).
 */
function split(calls: readonly CallRecord[], ref: ConnectionRef, operation?: { readonly url: string }) {
  const gets = calls.filter((c) => c.method === 'GET');
  const operationPath = operation ? new URL(operation.url).pathname : undefined;
  const inSubscription = `/subscriptions/${ref.resource.subscriptionId}/`.toLowerCase();
  const isOperation = (path: string) => path.toLowerCase().startsWith(inSubscription) && /\/locations\/[^/]+\/(asyncOperations|operationResults)\//i.test(path);
  return {
    put: calls.find((c) => c.method === 'PUT' && c.path.toLowerCase() === ref.key),
    reads: gets.filter((c) => c.path.toLowerCase() === ref.key),
    polls: gets.filter((c) => (operationPath ? c.path === operationPath : isOperation(c.path))),
  };
}

describe.concurrent.each(RESOURCE_TYPES.map((t) => [t.key, fixtureFor(t.type)!.put, t] as const))('following the approve PUT of %s (%s)', (_key, put, type) => {
  it('waits each Retry-After (or, without one, the fallback spacing) between polls until the operation is done, then reads the connection unless the last answer carried it', async () => {
    // Prepare
    const { log, lines } = recordingLog();

    // Act
    const { ref, result, wait, calls } = await approveAndWait(type, new ArmConnections(arm, undefined, { log }), log);

    // Assess
    expect(wait).toMatchObject({ kind: 'final', connection: { status: 'Approved', description: 'Approved by test' } });
    expect(wait.kind === 'final' && isProvisioningFinal(wait.connection?.provisioningState, type)).toBe(true);
    const { put: putCall, reads, polls } = split(calls, ref, result.operation);
    const expected = {
      // Applied at once, nothing to follow: one read finds it final.
      ok: { operation: undefined, gaps: [], reads: 1 },
      // Done at the third poll; the status says nothing of the connection, which is read once.
      'ok-async-header': { operation: 'async-operation', gaps: [1_000, 250, 500], reads: 1 },
      'created-async-header': { operation: 'async-operation', gaps: [1_000, 250, 500], reads: 1 },
      // Done at the second poll, whose 200 carries the connection: no read.
      'accepted-body-location': { operation: 'location', gaps: [1_000, 1_000], reads: 0 },
      'accepted-location': { operation: 'location', gaps: [1_000, 1_000], reads: 0 },
    }[put];
    expect(result.operation?.kind).toBe(expected.operation);
    if (result.operation) expect(result.operation.retryAfterMs).toBe(1_000);
    expect([polls.length, reads.length]).toEqual([expected.gaps.length, expected.reads]);
    // Each poll waited out the Retry-After of the answer before it, or the fallback's spacing.
    const times = [putCall!, ...polls].map((c) => c.at.getTime());
    for (const [i, wanted] of expected.gaps.entries()) expect(times[i + 1]! - times[i]!, `the wait before poll ${i + 1}`).toBeGreaterThanOrEqual(wanted - 50);
    expect(lines).toEqual([]);
  });
});

describe.concurrent('following the approve PUT: URLs on another origin', () => {
  it.each(RESOURCE_TYPES.filter((t) => fixtureFor(t.type)!.put !== 'ok').map((t) => [t.key, t] as const))(
    'does not follow %s operation URLs on another origin than the configured endpoint, and re-reads the connection instead',
    async (_key, type) => {
      // Prepare: the same emulator by another name, so the URLs it hands out (127.0.0.1) are on another origin.
      const { log, lines } = recordingLog();
      const byName = new ArmConnections({ ...arm, endpoint: emulator.url.replace('127.0.0.1', 'localhost') }, undefined, { log });

      // Act
      const { ref, result, wait, calls } = await approveAndWait(type, byName, log, SIDE_SUB);

      // Assess
      expect(result.operation).toBeUndefined();
      expect(wait).toMatchObject({ kind: 'final', connection: { status: 'Approved' } });
      const { polls, reads } = split(calls, ref);
      expect(polls).toHaveLength(0);
      // 0, 250, 750, 1750 ms: the read after the provisioning delay finds it final.
      expect(reads).toHaveLength(4);
      expect(lines).toEqual([expect.stringMatching(new RegExp(`URL on another origin \\(${emulator.url.replace(/[.]/g, '\\.')}\\); it is not followed$`))]);
    },
  );
});

describe('following the approve PUT: an operation that is not found', () => {
  it('reads the connection when the operation URL answers 404', async () => {
    // Prepare
    const { log, lines } = recordingLog();
    const keyVault = RESOURCE_TYPES.find((t) => t.key === 'keyvault')!;
    emulator.injectFault({ method: 'GET', pathIncludes: `/subscriptions/${SIDE_SUB}/providers/Microsoft.KeyVault/locations/`, status: 404, times: 1 });

    // Act
    const { ref, result, wait, calls } = await approveAndWait(keyVault, new ArmConnections(arm, undefined, { log }), log, SIDE_SUB);

    // Assess
    expect(wait).toMatchObject({ kind: 'final', connection: { status: 'Approved' } });
    const { polls, reads } = split(calls, ref, result.operation);
    expect(polls.map((c) => c.status)).toEqual([404]);
    // Read at once after the 404 (1 s after the PUT, still Updating), then at 250 and 500 ms more.
    expect(reads.map((c) => c.status)).toEqual([200, 200, 200]);
    expect(lines.join('\n')).toMatch(/no longer knows the operation \(404\)/);
  });
});
