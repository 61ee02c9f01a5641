import { describe, expect, it } from 'vitest';
import { cachedRules } from '../../src/app/rules-cache.js';
import { bufferAudit } from '../../src/app/steps.js';
import { systemActor } from '../../src/domain/audit.js';
import { parseRule } from '../../src/domain/policy/rule.js';
import { connectionRef, resourceRef } from '../../src/domain/resource-id.js';
import { KEY_VAULT } from '../../src/domain/resource-types.js';
import { FakeAudit, FakeRules, harness } from './fakes.js';

const hooks = { awaitingReview: async () => {}, cardStale: async () => {} };
const REF = connectionRef(resourceRef(KEY_VAULT, '11111111-1111-4111-8111-111111111111', 'rg', 'kv-buffer'), 'pe-1');

class CountingRules extends FakeRules {
  reads = 0;
  override async forDecision() {
    this.reads += 1;
    return super.forDecision();
  }
}

const rule = (name: string) => parseRule({ name, priority: 50, action: 'reject', conditions: { requesterTenant: ['other'] } });

describe('rules held between decisions', () => {
  it('serves decisions within the TTL from one read, concurrent ones included, and reads again after it', async () => {
    const store = new CountingRules();
    let now = 0;
    const rules = cachedRules(store, { ttlMs: 5_000, now: () => now });
    await Promise.all([rules.forDecision(), rules.forDecision(), rules.forDecision()]);
    now = 4_999;
    await rules.forDecision();
    expect(store.reads).toBe(1);
    now = 5_000;
    await rules.forDecision();
    expect(store.reads).toBe(2);
  });

  it('drops what it holds on every write through it, so the next decision sees the change', async () => {
    const store = new CountingRules();
    const rules = cachedRules(store, { ttlMs: 60_000, now: () => 0 });
    await rules.forDecision();
    await rules.put(rule('deny-partner'));
    expect((await rules.forDecision()).rules.some((r) => r.ok && r.rule.name === 'deny-partner')).toBe(true);
    await rules.setHold({ by: { type: 'user', id: 'ada', name: 'Ada' }, at: new Date(0), reason: 'incident' } as never);
    expect((await rules.forDecision()).hold).toBeDefined();
    await rules.delete('deny-partner');
    expect((await rules.forDecision()).rules.some((r) => r.ok && r.rule.name === 'deny-partner')).toBe(false);
    expect(store.reads).toBe(4);
  });

  it('does not hold a failed read', async () => {
    const store = new CountingRules();
    let fail = true;
    const original = store.forDecision.bind(store);
    store.forDecision = async () => {
      if (fail) {
        fail = false;
        throw new Error('Table Storage unavailable');
      }
      return original();
    };
    const rules = cachedRules(store, { ttlMs: 60_000, now: () => 0 });
    await expect(rules.forDecision()).rejects.toThrow('unavailable');
    await new Promise((resolve) => setTimeout(resolve, 0));
    await expect(rules.forDecision()).resolves.toBeDefined();
  });

  it('reads every time with a TTL of 0', async () => {
    const store = new CountingRules();
    const rules = cachedRules(store, { ttlMs: 0, now: () => 0 });
    await rules.forDecision();
    await rules.forDecision();
    expect(store.reads).toBe(2);
  });
});

describe('audit entries of one look, written together', () => {
  const entry = (summary: string) => ({ kind: 'decision' as const, outcome: 'approve' as const, actor: systemActor('workflow'), summary });

  it('writes queued entries in one appendMany before the next record replace (not before a claim), in the order they were made', async () => {
    const h = harness();
    const audit = new FakeAudit();
    const batches: number[] = [];
    const appendMany = audit.appendMany.bind(audit);
    audit.appendMany = async (entries) => {
      batches.push(entries.length);
      return appendMany(entries);
    };
    const { deps, flush } = bufferAudit({ ...h, audit, hooks });
    await deps.audit.append(entry('first'));
    await deps.audit.append(entry('second'));
    expect(audit.entries).toHaveLength(0);
    const created = await deps.approvals.create({ connection: REF, state: 'Deciding', generation: 1, attempts: 0, detectedAt: new Date(), updatedAt: new Date() });
    expect(batches).toEqual([]);
    if (created.kind !== 'created') throw new Error('not created');
    await deps.approvals.replace({ ...created.record.value, state: 'Approving' }, created.record.etag);
    expect(batches).toEqual([2]);
    expect(audit.entries.map((e) => e.summary)).toEqual(['first', 'second']);
    expect(audit.entries[1]!.time.getTime()).toBeGreaterThan(audit.entries[0]!.time.getTime());
    await flush();
    expect(batches).toEqual([2]);
  });

  it('keeps entries whose write failed queued, so the state change waiting on them fails and a later flush writes them', async () => {
    const h = harness();
    const audit = new FakeAudit();
    let failures = 1;
    const appendMany = audit.appendMany.bind(audit);
    audit.appendMany = async (entries) => {
      if (failures-- > 0) throw new Error('Table Storage unavailable');
      return appendMany(entries);
    };
    const { deps, flush } = bufferAudit({ ...h, audit, hooks });
    await deps.audit.append(entry('decided'));
    await expect(deps.connections.setStatus(REF, { status: 'Approved', description: 'x' })).rejects.toThrow('unavailable');
    await flush();
    expect(audit.entries.map((e) => e.summary)).toEqual(['decided']);
  });
});
