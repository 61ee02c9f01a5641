import { describe, expect, it } from 'vitest';
import type { Logger, OperationRef } from '../../src/app/ports.js';
import { act, pollPacing, waitUntilFinal, type StepDeps } from '../../src/app/steps.js';
import type { ApprovalRecord, Versioned } from '../../src/domain/approval.js';
import type { ConnectionRef } from '../../src/domain/resource-id.js';
import { HOME_SUB, harness } from './fakes.js';

/**
 * After an accepted approve PUT, the workflow follows the change the way ARM's docs ("Track
 * asynchronous Azure operations") describe: it waits each Retry-After (held within
 * pollMinMs..pollMaxMs), polls the Azure-AsyncOperation or Location URL until it is done, and
 * then lets the connection say how it ended. Without a URL, or when polling it fails, it re-reads
 * the connection with the growing spacing it always had. The clock is a fake: every wait is
 * counted, none is slept.
 */
const ASYNC: OperationRef = { kind: 'async-operation', url: 'https://arm.test/subscriptions/s/providers/Microsoft.KeyVault/locations/westeurope/asyncOperations/op1' };
const LOCATION: OperationRef = { kind: 'location', url: 'https://arm.test/subscriptions/s/providers/Microsoft.Sql/locations/westeurope/operationResults/op1' };

/** The harness with every wait on its clock recorded, and an in-tenant request its rule approves. */
function pollingHarness(overrides: Parameters<typeof harness>[0] = {}) {
  const warnings: string[] = [];
  const log: Logger = { info: () => {}, warn: (message) => void warnings.push(message), error: () => {} };
  const h = harness(overrides, undefined, { log });
  const sleeps: number[] = [];
  const sleep = h.clock.sleep.bind(h.clock);
  h.clock.sleep = async (ms: number) => {
    sleeps.push(ms);
    await sleep(ms);
  };
  const ref = h.connections.add('pe-app.1', HOME_SUB);
  /** What the workflow asked Azure after its PUT. */
  const afterPut = () => h.connections.calls.slice(h.connections.calls.indexOf('put') + 1);
  return { ...h, sleeps, warnings, ref, afterPut };
}

async function stateOf(h: ReturnType<typeof pollingHarness>) {
  return (await h.approvals.get(h.ref))?.value.state;
}

describe('waitUntilFinal: following the operation the PUT handed out', () => {
  it('waits the PUT’s Retry-After, then each poll’s, and reads the connection once when the Azure-AsyncOperation is done', async () => {
    // Prepare
    const h = pollingHarness();
    h.connections.putOperation = { ...ASYNC, retryAfterMs: 2_000 };
    h.connections.operationAnswers = [{ kind: 'running', retryAfterMs: 3_000 }, { kind: 'running', retryAfterMs: 1_000 }, { kind: 'done', status: 'Succeeded' }];

    // Act
    const result = await h.workflow.handleHint(h.hint);

    // Assess
    expect(result.outcomes).toEqual([{ connectionId: h.ref.id, outcome: 'approved' }]);
    expect(h.sleeps).toEqual([2_000, 3_000, 1_000]);
    expect(h.afterPut()).toEqual([`poll async-operation ${ASYNC.url}`, `poll async-operation ${ASYNC.url}`, `poll async-operation ${ASYNC.url}`, 'get']);
  });

  it('takes the connection from a Location’s final 200 without reading it again', async () => {
    // Prepare
    const h = pollingHarness();
    h.connections.putOperation = { ...LOCATION, retryAfterMs: 1_000 };
    h.connections.operationAnswers = [{ kind: 'running', retryAfterMs: 1_000 }, (ref: ConnectionRef) => ({ kind: 'done', status: 'Succeeded', connection: h.connections.finished(ref) })];

    // Act
    const result = await h.workflow.handleHint(h.hint);

    // Assess
    expect(result.outcomes[0]?.outcome).toBe('approved');
    expect(h.sleeps).toEqual([1_000, 1_000]);
    expect(h.afterPut()).toEqual([`poll location ${LOCATION.url}`, `poll location ${LOCATION.url}`]);
  });

  it('reads the connection once after a Location’s 204, which carries nothing', async () => {
    // Prepare
    const h = pollingHarness();
    h.connections.putOperation = { ...LOCATION, retryAfterMs: 1_000 };
    h.connections.operationAnswers = [{ kind: 'done', status: 'Succeeded' }];

    // Act
    const result = await h.workflow.handleHint(h.hint);

    // Assess
    expect(result.outcomes[0]?.outcome).toBe('approved');
    expect(h.afterPut()).toEqual([`poll location ${LOCATION.url}`, 'get']);
  });

  it('asks the new Location a 202 names', async () => {
    // Prepare
    const h = pollingHarness();
    const moved: OperationRef = { kind: 'location', url: `${LOCATION.url}-2` };
    h.connections.putOperation = { ...LOCATION, retryAfterMs: 1_000 };
    h.connections.operationAnswers = [{ kind: 'running', retryAfterMs: 1_000, operation: moved }, { kind: 'done', status: 'Succeeded' }];

    // Act
    await h.workflow.handleHint(h.hint);

    // Assess
    expect(h.afterPut()).toEqual([`poll location ${LOCATION.url}`, `poll location ${moved.url}`, 'get']);
  });

  it('holds a Retry-After of 0 to pollMinMs and an absurd one to pollMaxMs', async () => {
    // Prepare
    const h = pollingHarness({ pollMinMs: 500, pollMaxMs: 4_000 });
    h.connections.putOperation = { ...ASYNC, retryAfterMs: 0 };
    h.connections.operationAnswers = [{ kind: 'running', retryAfterMs: 86_400_000 }, { kind: 'done', status: 'Succeeded' }];

    // Act
    const result = await h.workflow.handleHint(h.hint);

    // Assess
    expect(result.outcomes[0]?.outcome).toBe('approved');
    expect(h.sleeps).toEqual([500, 4_000]);
  });

  it('spaces polls as the re-reads are spaced when Azure gives no Retry-After', async () => {
    // Prepare
    const h = pollingHarness();
    h.connections.putOperation = ASYNC;
    h.connections.operationAnswers = [{ kind: 'running' }, { kind: 'running' }, { kind: 'done', status: 'Succeeded' }];

    // Act
    await h.workflow.handleHint(h.hint);

    // Assess
    expect(h.sleeps).toEqual([250, 500, 1_000]);
  });

  it('re-reads the connection with growing spacing when the PUT gave nothing to follow', async () => {
    // Prepare
    const h = pollingHarness();
    h.connections.updatingReads = 3;

    // Act
    const result = await h.workflow.handleHint(h.hint);

    // Assess
    expect(result.outcomes[0]?.outcome).toBe('approved');
    expect(h.sleeps).toEqual([250, 500]);
    expect(h.afterPut()).toEqual(['get', 'get', 'get']);
  });

  it('falls back to re-reading the connection when a poll fails, and says so', async () => {
    // Prepare
    const h = pollingHarness();
    h.connections.updatingReads = 2;
    h.connections.putOperation = { ...ASYNC, retryAfterMs: 1_000 };
    h.connections.operationAnswers = [new Error('reading the operation status failed: HTTP 403 AuthorizationFailed')];

    // Act
    const result = await h.workflow.handleHint(h.hint);

    // Assess
    expect(result.outcomes[0]?.outcome).toBe('approved');
    expect(h.sleeps).toEqual([1_000, 250]);
    expect(h.afterPut()).toEqual([`poll async-operation ${ASYNC.url}`, 'get', 'get']);
    expect(h.warnings.join('\n')).toMatch(/Azure-AsyncOperation URL failed \(.*403.*\); reading the connection instead/);
  });

  it('re-reads the connection when no poll is possible (a port without pollOperation)', async () => {
    // Prepare
    const h = pollingHarness();
    h.connections.putOperation = { ...ASYNC, retryAfterMs: 1_000 };
    const { connections } = h;
    const plain = { list: connections.list.bind(connections), get: connections.get.bind(connections), setStatus: connections.setStatus.bind(connections) };
    const deps = { connections: plain, clock: h.clock, log: h.log, settings: h.settings };
    await connections.setStatus(h.ref, { status: 'Approved', description: 'x', etag: '"1"' });

    // Act
    const wait = await waitUntilFinal(deps, h.ref, 20_000, {}, { ...ASYNC, retryAfterMs: 1_000 });

    // Assess
    expect(wait).toMatchObject({ kind: 'final', connection: { status: 'Approved', provisioningState: 'Succeeded' } });
    expect(h.afterPut()).toEqual(['get']);
  });

  it('keeps re-reading a connection that still reads Updating after its operation Succeeded', async () => {
    // Prepare
    const h = pollingHarness();
    h.connections.updatingReads = 3;
    h.connections.putOperation = { ...ASYNC, retryAfterMs: 1_000 };
    h.connections.operationAnswers = [{ kind: 'done', status: 'Succeeded' }];

    // Act
    const result = await h.workflow.handleHint(h.hint);

    // Assess
    expect(result.outcomes[0]?.outcome).toBe('approved');
    expect(h.sleeps).toEqual([1_000, 250, 500]);
    expect(h.afterPut()).toEqual([`poll async-operation ${ASYNC.url}`, 'get', 'get', 'get']);
  });

  it('judges by the connection when the operation says Failed but the connection reads the target status', async () => {
    // Prepare
    const h = pollingHarness();
    h.connections.putOperation = { ...ASYNC, retryAfterMs: 1_000 };
    h.connections.operationAnswers = [{ kind: 'done', status: 'Failed', message: 'InternalError: something went wrong' }];

    // Act
    const result = await h.workflow.handleHint(h.hint);

    // Assess
    expect(result.outcomes[0]?.outcome).toBe('approved');
    expect(await stateOf(h)).toBe('Approved');
    expect(h.warnings.join('\n')).toMatch(/operation Failed \(InternalError: something went wrong\); the connection says how it ended/);
  });

  it('reads the connection when the operation URL answers 404 (the operation is not known)', async () => {
    // Prepare
    const h = pollingHarness();
    h.connections.putOperation = { ...LOCATION, retryAfterMs: 1_000 };
    h.connections.operationAnswers = [{ kind: 'done', status: 'Unknown' }];

    // Act
    const result = await h.workflow.handleHint(h.hint);

    // Assess
    expect(result.outcomes[0]?.outcome).toBe('approved');
    expect(h.afterPut()).toEqual([`poll location ${LOCATION.url}`, 'get']);
  });

  it('leaves the change in flight once the deadline passes with the operation still running', async () => {
    // Prepare
    const h = pollingHarness({ actionTimeoutMs: 2_500 });
    h.connections.putOperation = { ...ASYNC, retryAfterMs: 1_000 };
    h.connections.operationAnswers = [{ kind: 'running', retryAfterMs: 1_000 }];

    // Act
    const result = await h.workflow.handleHint(h.hint);

    // Assess
    expect(result.outcomes[0]?.outcome).toBe('in-progress');
    expect(h.sleeps).toEqual([1_000, 1_000]);
    expect(h.afterPut()).toEqual([`poll async-operation ${ASYNC.url}`, `poll async-operation ${ASYNC.url}`]);
    expect(await stateOf(h)).toBe('Approving');
    expect(h.warnings.join('\n')).toMatch(/the operation was still running after 2500 ms/);
  });

  it('stops at once when the caller’s signal ends the wait, and leaves the change in flight', async () => {
    // Prepare
    const h = pollingHarness();
    h.connections.putOperation = { ...ASYNC, retryAfterMs: 1_000 };
    h.connections.operationAnswers = [{ kind: 'running', retryAfterMs: 1_000 }];
    const controller = new AbortController();
    let waits = 0;
    h.clock.sleep = async (ms: number) => {
      h.clock.advance(ms);
      // The caller's deadline passes during the second wait.
      if (++waits === 2) controller.abort(new Error('the click budget ran out'));
    };
    const connection = (await h.connections.get(h.ref))!;
    const record = await approving(h, h.ref);
    const deps: StepDeps = { ...h, hooks: { awaitingReview: async () => {}, cardStale: async () => {} } };

    // Act
    const outcome = await act(deps, record, connection, { signal: controller.signal });

    // Assess
    expect(outcome).toBe('in-progress');
    expect(h.afterPut()).toEqual([`poll async-operation ${ASYNC.url}`]);
    const after = (await h.approvals.get(h.ref))!.value;
    expect(after.state).toBe('Approving');
    expect(after.leaseUntil!.getTime()).toBeLessThanOrEqual(h.clock.now().getTime());
  });
});

describe('pollPacing', () => {
  it('uses Retry-After when given and otherwise 250 ms doubling to 5 s, always within the configured bounds', () => {
    // Prepare
    const next = pollPacing({ pollMinMs: 100, pollMaxMs: 10_000 });

    // Act
    const waits = [next(undefined), next(undefined), next(7_000), next(undefined), next(undefined), next(undefined), next(undefined), next(50), next(60_000)];

    // Assess
    expect(waits).toEqual([250, 500, 7_000, 1_000, 2_000, 4_000, 5_000, 100, 10_000]);
  });
});

/** A record already claimed for approving, as a decision leaves it before the PUT. */
async function approving(h: ReturnType<typeof pollingHarness>, ref: ConnectionRef): Promise<Versioned<ApprovalRecord>> {
  const now = h.clock.now();
  const created = await h.approvals.create({
    connection: ref,
    state: 'Approving',
    generation: 1,
    attempts: 0,
    decisionAction: 'approve',
    ruleName: 'in-tenant',
    leaseUntil: new Date(now.getTime() + h.settings.leaseMs),
    detectedAt: now,
    updatedAt: now,
  });
  if (created.kind !== 'created') throw new Error('the record exists already');
  return created.record;
}
