import { describe, expect, it } from 'vitest';
import { parseRule } from '../../src/domain/policy/rule.js';
import { DENIED_SUB, HIDDEN_SUB, HOME_SUB, OTHER_SUB, harness } from './fakes.js';

describe('workflow: hint → decision → action → audit', () => {
  it('approves an in-tenant request through its rule and audits every step', async () => {
    // Prepare
    const h = harness();
    const ref = h.connections.add('pe-app.1', HOME_SUB, 'app team needs secrets');
    // Act
    const result = await h.workflow.handleHint(h.hint);
    // Assess
    expect(result.outcomes).toEqual([{ connectionId: ref.id, outcome: 'approved' }]);
    expect(h.connections.connections.get(ref.key)?.status).toBe('Approved');
    expect(h.connections.puts).toHaveLength(1);
    expect(h.connections.puts[0]?.change.description).toBe("Approved by Linkgate rule 'in-tenant'.");
    expect(h.audit.kinds()).toEqual(['hint:received', 'decision:approve', 'action:approve', 'result:approved']);
    expect((await h.approvals.get(ref))?.value.state).toBe('Approved');
  });

  it('rejects a deny-listed tenant through its rule', async () => {
    const h = harness();
    const ref = h.connections.add('pe-bad.1', DENIED_SUB);
    await h.workflow.handleHint(h.hint);
    expect(h.connections.connections.get(ref.key)?.status).toBe('Rejected');
    expect(h.audit.kinds(ref.id)).toEqual(['decision:reject', 'action:reject', 'result:rejected']);
  });

  it('leaves an external request Pending and records it as awaiting review', async () => {
    const h = harness();
    const ref = h.connections.add('pe-ext.1', OTHER_SUB);
    const result = await h.workflow.handleHint(h.hint);
    expect(result.outcomes[0]?.outcome).toBe('awaiting-review');
    expect(h.connections.puts).toHaveLength(0);
    expect(h.connections.connections.get(ref.key)?.status).toBe('Pending');
    expect((await h.approvals.get(ref))?.value.state).toBe('AwaitingReview');
  });

  it('keeps "not visible" apart from external in the decision record', async () => {
    const h = harness();
    const ref = h.connections.add('pe-hidden.1', HIDDEN_SUB);
    await h.workflow.handleHint(h.hint);
    expect((await h.approvals.get(ref))?.value.requesterTenantId).toBe('not-visible');
  });

  it('does not act again on the write event its own approval raises', async () => {
    const h = harness();
    h.connections.add('pe-app.1', HOME_SUB);
    await h.workflow.handleHint(h.hint);
    const second = await h.workflow.handleHint({ ...h.hint, eventId: 'evt-self', operationName: 'Microsoft.KeyVault/vaults/privateEndpointConnections/write' });
    expect(h.connections.puts).toHaveLength(1);
    expect(second.outcomes).toEqual([]);
  });

  it('decides exactly once when many duplicate hints arrive together', async () => {
    const h = harness();
    h.connections.add('pe-app.1', HOME_SUB);
    h.connections.add('pe-bad.1', DENIED_SUB);
    await Promise.all(Array.from({ length: 8 }, (_, i) => h.workflow.handleHint({ ...h.hint, eventId: `evt-${i}` })));
    expect(h.connections.puts).toHaveLength(2);
    expect(h.audit.entries.filter((e) => e.kind === 'decision')).toHaveLength(2);
  });

  it('records a connection deleted before the approval landed as vanished', async () => {
    const h = harness();
    const ref = h.connections.add('pe-app.1', HOME_SUB);
    h.connections.beforePut = () => {
      h.connections.connections.delete(ref.key);
      return undefined;
    };
    const result = await h.workflow.handleHint(h.hint);
    expect(result.outcomes[0]?.outcome).toBe('vanished');
    expect((await h.approvals.get(ref))?.value.state).toBe('Vanished');
  });

  it('does not fight a status someone else set first', async () => {
    const h = harness();
    const ref = h.connections.add('pe-bad.1', DENIED_SUB);
    h.connections.beforePut = () => {
      h.connections.setStatus_outside(ref, 'Approved');
      return undefined;
    };
    const result = await h.workflow.handleHint(h.hint);
    expect(result.outcomes[0]?.outcome).toBe('decided-elsewhere');
    expect(h.connections.connections.get(ref.key)?.status).toBe('Approved');
    expect(h.connections.puts).toHaveLength(1); // the refused write, never a second one
    expect(h.audit.kinds(ref.id)).toContain('result:decided-elsewhere');
  });

  it('closes a review that was approved in the portal on the next hint, and flags the approval made outside Linkgate', async () => {
    const h = harness();
    const ref = h.connections.add('pe-ext.1', OTHER_SUB);
    await h.workflow.handleHint(h.hint);
    h.connections.setStatus_outside(ref, 'Approved');
    const result = await h.workflow.handleHint({ ...h.hint, eventId: 'evt-2' });
    expect(result.outcomes).toEqual([{ connectionId: ref.id, outcome: 'decided-elsewhere' }]);
    expect(result.observed).toEqual({ 'out-of-band-flagged': 1 });
    // No out-of-band rule matched, so the default flags it: an alert waits for a person.
    const record = (await h.approvals.get(ref))?.value;
    expect(record).toMatchObject({ state: 'AwaitingReview', alert: { kind: 'out-of-band' }, requiredApprovals: 1 });
    expect(h.audit.kinds(ref.id)).toEqual(expect.arrayContaining(['result:decided-elsewhere', 'decision:out-of-band']));
    expect(h.inventory.get(ref.id)).toMatchObject({ status: 'Approved', decidedBy: 'elsewhere', outOfBand: 'flagged', firstSeenStatus: 'Pending' });
  });

  it('closes a review whose connection was deleted as vanished', async () => {
    const h = harness();
    const ref = h.connections.add('pe-ext.1', OTHER_SUB);
    await h.workflow.handleHint(h.hint);
    h.connections.connections.delete(ref.key);
    await h.workflow.handleHint({ ...h.hint, eventId: 'evt-2' });
    expect((await h.approvals.get(ref))?.value.state).toBe('Vanished');
  });

  it('marks a failed tenant lookup Failed, rethrows for redelivery, and succeeds on the next hint', async () => {
    const h = harness();
    const ref = h.connections.add('pe-app.1', HOME_SUB);
    h.tenants.failNext = 1;
    await expect(h.workflow.handleHint(h.hint)).rejects.toThrow(/503/);
    expect((await h.approvals.get(ref))?.value).toMatchObject({ state: 'Failed', attempts: 1 });
    expect(h.connections.puts).toHaveLength(0);
    h.clock.advance(h.settings.retryBaseMs);
    await h.workflow.handleHint({ ...h.hint, eventId: 'evt-retry' });
    expect(h.connections.connections.get(ref.key)?.status).toBe('Approved');
  });

  it('gives up after the configured number of failed attempts', async () => {
    const h = harness({ maxAttempts: 2 });
    const ref = h.connections.add('pe-app.1', HOME_SUB);
    h.tenants.failNext = 5;
    await expect(h.workflow.handleHint(h.hint)).rejects.toThrow();
    h.clock.advance(h.settings.retryBaseMs);
    await expect(h.workflow.handleHint(h.hint)).rejects.toThrow();
    const third = await h.workflow.handleHint(h.hint);
    expect(third.outcomes).toEqual([{ connectionId: ref.id, outcome: 'gave-up' }]);
  });

  it('leaves an in-flight step alone while its lease holds and resumes it after', async () => {
    const h = harness();
    const ref = h.connections.add('pe-app.1', HOME_SUB);
    // A first instance claimed the connection and died before deciding.
    const created = await h.approvals.create({
      connection: ref,
      state: 'Deciding',
      generation: 1,
      attempts: 0,
      leaseUntil: new Date(h.clock.now().getTime() + 60_000),
      detectedAt: h.clock.now(),
      updatedAt: h.clock.now(),
    });
    expect(created.kind).toBe('created');
    const early = await h.workflow.handleHint(h.hint);
    expect(early.outcomes[0]?.outcome).toBe('owned-elsewhere');
    h.clock.advance(61_000);
    const late = await h.workflow.handleHint(h.hint);
    expect(late.outcomes[0]?.outcome).toBe('approved');
    expect(h.connections.puts).toHaveLength(1);
  });

  it('records a shadow rule without acting on it', async () => {
    const h = harness();
    await h.rules.put(parseRule({ name: 'try-reject-all', priority: 1, mode: 'shadow', action: 'reject' }));
    const ref = h.connections.add('pe-app.1', HOME_SUB);
    await h.workflow.handleHint(h.hint);
    expect(h.connections.connections.get(ref.key)?.status).toBe('Approved');
    const shadow = h.audit.entries.find((e) => e.outcome === 'shadow');
    expect(shadow).toMatchObject({ actor: { type: 'rule', id: 'try-reject-all' }, ruleName: 'try-reject-all' });
  });

  it('withholds automatic approval when a stored rule cannot be read', async () => {
    const h = harness();
    h.rules.stored = [...h.rules.stored, { ok: false, name: 'broken', error: 'conditions: is not valid JSON' }];
    const ref = h.connections.add('pe-app.1', HOME_SUB);
    await h.workflow.handleHint(h.hint);
    expect(h.connections.puts).toHaveLength(0);
    expect((await h.approvals.get(ref))?.value.state).toBe('AwaitingReview');
    expect(h.audit.entries.find((e) => e.kind === 'decision')?.summary).toMatch(/'broken' could not be read/);
  });

  it('waits for provisioningState to become final before recording the result', async () => {
    const h = harness();
    h.connections.updatingReads = 3;
    const ref = h.connections.add('pe-app.1', HOME_SUB);
    const started = h.clock.now().getTime();
    await h.workflow.handleHint(h.hint);
    expect((await h.approvals.get(ref))?.value.state).toBe('Approved');
    expect(h.clock.now().getTime() - started).toBeGreaterThan(0);
  });

  it('leaves a slow provisioning in flight with its lease released, and the next hint records the result', async () => {
    const h = harness({ actionTimeoutMs: 2_000 });
    h.connections.updatingReads = 1_000;
    const ref = h.connections.add('pe-app.1', HOME_SUB);
    const first = await h.workflow.handleHint(h.hint);
    expect(first.outcomes).toEqual([{ connectionId: ref.id, outcome: 'in-progress' }]);
    const waiting = (await h.approvals.get(ref))!.value;
    expect(waiting.state).toBe('Approving');
    expect(waiting.leaseUntil!.getTime()).toBeLessThanOrEqual(h.clock.now().getTime());
    // Still updating: a hint changes nothing yet.
    await h.workflow.handleHint({ ...h.hint, eventId: 'early' });
    expect((await h.approvals.get(ref))?.value.state).toBe('Approving');
    h.connections.connections.get(ref.key)!.provisioningState = 'Succeeded';
    await h.workflow.handleHint({ ...h.hint, eventId: 'completion' });
    expect((await h.approvals.get(ref))?.value.state).toBe('Approved');
    expect(h.connections.puts).toHaveLength(1);
    expect(h.audit.kinds(ref.id)).not.toContain('result:decided-elsewhere');
  });

  it('records its own result as its own when an action failed after Azure accepted it', async () => {
    const h = harness();
    const ref = h.connections.add('pe-app.1', HOME_SUB);
    const realGet = h.connections.get.bind(h.connections);
    let failGets = 1;
    h.connections.get = async (r) => {
      if (failGets-- > 0) throw new Error('socket hang up');
      return realGet(r);
    };
    await expect(h.workflow.handleHint(h.hint)).rejects.toThrow(/socket hang up/);
    expect((await h.approvals.get(ref))?.value.state).toBe('Failed');
    h.connections.connections.get(ref.key)!.provisioningState = 'Succeeded';
    await h.workflow.handleHint({ ...h.hint, eventId: 'next' });
    expect((await h.approvals.get(ref))?.value.state).toBe('Approved');
    expect(h.audit.kinds(ref.id)).toContain('result:approved');
    expect(h.audit.kinds(ref.id)).not.toContain('result:decided-elsewhere');
    expect(h.connections.puts).toHaveLength(1);
  });

  it('retries a failed rule action with the same decision instead of deciding again', async () => {
    const h = harness();
    const ref = h.connections.add('pe-bad.1', DENIED_SUB);
    let failures = 1;
    h.connections.beforePut = () => {
      if (failures-- > 0) throw new Error('ARM answered 503 after retries');
      return undefined;
    };
    await expect(h.workflow.handleHint(h.hint)).rejects.toThrow(/503/);
    h.clock.advance(h.settings.retryBaseMs);
    await h.workflow.handleHint({ ...h.hint, eventId: 'redelivery' });
    expect(h.connections.connections.get(ref.key)?.status).toBe('Rejected');
    expect(h.audit.entries.filter((e) => e.kind === 'decision')).toHaveLength(1);
  });

  it('treats a connection name reused by a new endpoint as a new request', async () => {
    const h = harness();
    const ref = h.connections.add('pe-ext.1', OTHER_SUB);
    await h.workflow.handleHint(h.hint);
    h.connections.connections.delete(ref.key);
    await h.workflow.handleHint(h.hint); // → Vanished
    h.connections.add('pe-ext.1', HOME_SUB);
    await h.workflow.handleHint(h.hint);
    expect((await h.approvals.get(ref))?.value).toMatchObject({ state: 'Approved', generation: 2 });
  });

  it('never acts on a connection whose status it does not understand', async () => {
    const h = harness();
    h.connections.add('pe-odd.1', HOME_SUB, 'x', 'PendingSomething');
    const result = await h.workflow.handleHint(h.hint);
    expect(result.outcomes).toEqual([]);
    expect(h.connections.puts).toHaveLength(0);
  });

  it('records a refused change (rejected connection) as decided elsewhere', async () => {
    const h = harness();
    const ref = h.connections.add('pe-app.1', HOME_SUB);
    h.connections.beforePut = () => {
      h.connections.setStatus_outside(ref, 'Rejected');
      return { kind: 'refused', message: 'a rejected connection cannot be approved' };
    };
    const result = await h.workflow.handleHint(h.hint);
    expect(result.outcomes[0]?.outcome).toBe('decided-elsewhere');
  });
});
