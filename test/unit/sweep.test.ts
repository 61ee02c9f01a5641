import { describe, expect, it } from 'vitest';
import type { ConnectionGraph, GraphConnection, GraphScope, ResourceDirectory } from '../../src/app/ports.js';
import { runSweep, type SweepDeps, type SweepSettings } from '../../src/app/sweep.js';
import { parseRule } from '../../src/domain/policy/rule.js';
import { resourceRef, type ResourceRef } from '../../src/domain/resource-id.js';
import { KEY_VAULT, RESOURCE_TYPES, type ResourceType } from '../../src/domain/resource-types.js';
import { FakeConnections, harness, HOME_SUB, HOME_TENANT, OTHER_SUB, VAULT_SUB, type FakeInventory } from './fakes.js';

/** Resource Graph over the fake ARM store, optionally behind it by a snapshot (its lag). */
class FakeGraph implements ConnectionGraph {
  queries = 0;
  snapshot: GraphConnection[] | undefined;
  fail?: Error;
  constructor(private readonly arm: FakeConnections) {}
  freeze(rows: GraphConnection[]) {
    this.snapshot = rows;
  }
  async live(): Promise<GraphConnection[]> {
    const out: GraphConnection[] = [];
    for (const stored of this.arm.connections.values()) {
      const c = await FakeConnections.prototype.get.call(this.arm, stored.ref); // not an ARM call of the sweep's
      if (c) out.push({ ref: c.ref, rawStatus: c.rawStatus, status: c.status, privateEndpoint: c.privateEndpoint, rawPrivateEndpointId: c.rawPrivateEndpointId });
    }
    return out;
  }
  async connections(_scope: GraphScope, types: readonly ResourceType[]): Promise<GraphConnection[]> {
    this.queries += 1;
    if (this.fail) throw this.fail;
    const rows = this.snapshot ?? (await this.live());
    return rows.filter((r) => types.includes(r.ref.resource.type));
  }
  async resources(_scope: GraphScope, types: readonly ResourceType[]): Promise<ResourceRef[]> {
    this.queries += 1;
    const seen = new Map<string, ResourceRef>();
    for (const stored of this.arm.connections.values()) if (types.includes(stored.ref.resource.type)) seen.set(stored.ref.resource.key, stored.ref.resource);
    return [...seen.values()];
  }
}

/** Counts ARM reads the sweep makes. */
class CountingConnections extends FakeConnections {
  gets = 0;
  lists = 0;
  override async get(...args: Parameters<FakeConnections['get']>) {
    this.gets += 1;
    return super.get(...args);
  }
  override async list(...args: Parameters<FakeConnections['list']>) {
    this.lists += 1;
    return super.list(...args);
  }
}

const VAULTS = Array.from({ length: 6 }, (_, i) => resourceRef(KEY_VAULT, VAULT_SUB, 'rg-kv', `kv-sweep-${i}`));

function sweepHarness(settings: Partial<SweepSettings> = {}) {
  const h = harness();
  const arm = new CountingConnections();
  // The harness's own connections port is the one the steps use; the sweep's is the same store.
  const deps0 = h as unknown as { connections: FakeConnections };
  deps0.connections = arm;
  const graph = new FakeGraph(arm);
  const directory: ResourceDirectory = {
    async listResources(_sub, type) {
      return [...new Map([...arm.connections.values()].filter((c) => c.ref.resource.type === type).map((c) => [c.ref.resource.key, c.ref.resource])).values()];
    },
  };
  const deps: SweepDeps = {
    ...h,
    connections: arm,
    sweepConnections: arm,
    graph,
    directory,
    sweep: { source: 'resource-graph', scope: { kind: 'subscriptions', subscriptionIds: [VAULT_SUB] }, types: RESOURCE_TYPES, concurrency: 4, ...settings },
  } as unknown as SweepDeps;
  return { ...h, arm, graph, deps, inventory: h.inventory as FakeInventory };
}

/** Every state across several vaults, requested from home and from another tenant. */
function seed(arm: FakeConnections) {
  const states = ['Pending', 'Approved', 'Rejected', 'Disconnected'];
  const refs: { id: string; status: string; sub: string }[] = [];
  VAULTS.forEach((vault, v) => {
    for (let i = 0; i < 8; i += 1) {
      const status = states[(v + i) % states.length] as string;
      const sub = i % 2 === 0 ? HOME_SUB : OTHER_SUB;
      refs.push({ id: arm.add(`pe-${v}-${i}.c`, sub, 'please', status, vault).id, status, sub });
    }
  });
  return refs;
}

describe('sweep through Resource Graph', () => {
  it('decides every Pending connection once, inventories every connection once, and a second sweep changes nothing', async () => {
    const h = sweepHarness();
    await h.rules.put(parseRule({ name: 'oob-home-ignore', priority: 10, appliesTo: 'out-of-band', action: 'ignore', conditions: { requesterTenant: ['home'] } }));
    const seeded = seed(h.arm);

    const first = await runSweep(h.deps);
    const pending = seeded.filter((c) => c.status === 'Pending');
    // Home requests are approved (one PUT each); others wait for review.
    expect(h.arm.puts.map((p) => p.id).sort()).toEqual(pending.filter((c) => c.sub === HOME_SUB).map((c) => c.id).sort());
    expect(first.outcomes).toEqual({ approved: pending.filter((c) => c.sub === HOME_SUB).length, 'awaiting-review': pending.filter((c) => c.sub === OTHER_SUB).length });
    // Every vault has two Pending connections, so each is listed once rather than read connection by connection.
    const externalApproved = seeded.filter((c) => c.status === 'Approved' && c.sub === OTHER_SUB);
    expect(first.resourcesListed).toBe(VAULTS.length);
    expect(h.arm.lists).toBe(VAULTS.length);
    expect(first.reread).toBe(0);
    // Every connection is in the inventory once, with its state as first seen.
    expect(h.inventory.entries.size).toBe(seeded.length);
    for (const c of seeded) expect(h.inventory.get(c.id)?.firstSeenStatus).toBe(c.status);
    // Approvals made outside Linkgate: home ones ignored by the rule, the others flagged (alerts).
    expect(first.inventory['out-of-band-ignored']).toBe(seeded.filter((c) => c.status === 'Approved' && c.sub === HOME_SUB).length);
    expect(first.inventory['out-of-band-flagged']).toBe(externalApproved.length);
    for (const c of externalApproved) expect(h.inventory.get(c.id)).toMatchObject({ outOfBand: 'flagged', decidedBy: 'elsewhere' });
    expect(h.audit.entries.filter((e) => e.outcome === 'out-of-band')).toHaveLength(seeded.filter((c) => c.status === 'Approved').length);
    expect(h.audit.entries.filter((e) => e.kind === 'sweep')).toHaveLength(1);

    const auditBefore = h.audit.entries.length;
    const writesBefore = h.inventory.writes;
    const putsBefore = h.arm.puts.length;
    const getsBefore = h.arm.gets;
    const listsBefore = h.arm.lists;
    const second = await runSweep(h.deps);
    expect(h.arm.puts.length).toBe(putsBefore);
    expect(h.inventory.writes).toBe(writesBefore);
    // Reviews and alerts that wait for a person are not read again; only the summary is written.
    expect(h.arm.gets).toBe(getsBefore);
    expect(h.arm.lists).toBe(listsBefore);
    expect(second.reread).toBe(0);
    expect(second.resourcesListed).toBe(0);
    expect(h.audit.entries.length).toBe(auditBefore + 1);
    expect(h.audit.entries.at(-1)?.kind).toBe('sweep');
  });

  it('never acts on the graph alone: a connection the graph still shows Pending is read again, and left alone when ARM says otherwise', async () => {
    const h = sweepHarness();
    await h.rules.put(parseRule({ name: 'approve-all', priority: 10, action: 'approve', conditions: {} }));
    const ref = h.arm.add('pe-lag.c', HOME_SUB, 'please', 'Pending', VAULTS[0]);
    h.graph.freeze(await h.graph.live());
    h.arm.setStatus_outside(ref, 'Rejected'); // ARM moved on; the graph has not caught up
    const report = await runSweep(h.deps);
    expect(report.reread).toBe(1);
    expect(h.arm.puts).toHaveLength(0);
    expect(h.inventory.get(ref.id)).toMatchObject({ status: 'Rejected', firstSeenStatus: 'Rejected' });
  });

  it('reads a single candidate connection by itself instead of listing its resource', async () => {
    const h = sweepHarness();
    const lone = h.arm.add('pe-lone.c', OTHER_SUB, 'please', 'Pending', VAULTS[5]);
    for (let i = 0; i < 5; i += 1) h.arm.add(`pe-old-${i}.c`, OTHER_SUB, 'please', 'Rejected', VAULTS[5]);
    const report = await runSweep(h.deps);
    expect(report).toMatchObject({ reread: 1, resourcesListed: 0, outcomes: { 'awaiting-review': 1 }, inventory: { 'first-seen': 6 } });
    expect(h.arm.lists).toBe(0);
    expect(h.arm.gets).toBe(1);
    expect((await h.approvals.get(lone))?.value.state).toBe('AwaitingReview');
  });

  it('raises an alert only after ARM confirms an approval the graph reports', async () => {
    const h = sweepHarness();
    const ref = h.arm.add('pe-oob.c', OTHER_SUB, 'please', 'Approved', VAULTS[1]);
    h.graph.freeze(await h.graph.live());
    h.arm.setStatus_outside(ref, 'Rejected'); // rejected since; the graph still says Approved
    await runSweep(h.deps);
    expect(await h.approvals.get(ref)).toBeUndefined();
    expect(h.audit.entries.filter((e) => e.outcome === 'out-of-band')).toHaveLength(0);
    expect(h.inventory.get(ref.id)?.status).toBe('Rejected');
  });

  it('lists through ARM the types the graph does not report, and every type when the graph fails', async () => {
    const h = sweepHarness();
    const postgres = RESOURCE_TYPES.find((t) => !t.connections.resourceGraph) as ResourceType;
    const server = resourceRef(postgres, VAULT_SUB, 'rg-db', 'psql-sweep');
    h.arm.add('pe-pg.c', HOME_SUB, 'please', 'Pending', server);
    h.arm.add('pe-kv.c', HOME_SUB, 'please', 'Approved', VAULTS[2]);
    const report = await runSweep(h.deps);
    expect(report.listedTypes).toEqual([postgres.key]);
    expect(report.resourcesListed).toBe(1);
    expect(h.arm.lists).toBe(1);
    expect(h.inventory.entries.size).toBe(2);

    const failing = sweepHarness();
    failing.arm.add('pe-kv.c', HOME_SUB, 'please', 'Pending', VAULTS[3]);
    failing.graph.fail = new Error('Resource Graph answered 503');
    const fallback = await runSweep(failing.deps);
    expect(fallback.listedTypes).toHaveLength(RESOURCE_TYPES.length);
    expect(fallback.errors.map((e) => e.resourceId)).toContain('resource-graph');
    expect(failing.inventory.entries.size).toBe(1);
    expect(fallback.outcomes).toEqual({ approved: 1 });
  });

  it('with source arm, lists every resource and decides the same', async () => {
    const h = sweepHarness({ source: 'arm' });
    const seeded = seed(h.arm);
    const report = await runSweep(h.deps);
    expect(h.graph.queries).toBe(0);
    expect(report.resourcesListed).toBe(VAULTS.length);
    expect(h.inventory.entries.size).toBe(seeded.length);
    // The harness's rules approve requests from the home tenant; the rest wait for review.
    const pending = seeded.filter((c) => c.status === 'Pending');
    expect(report.outcomes).toEqual({ approved: pending.filter((c) => c.sub === HOME_SUB).length, 'awaiting-review': pending.filter((c) => c.sub === OTHER_SUB).length });
  });

  it('finishes what a crash left owed: the audit entry once and the alert, on a later sweep', async () => {
    const h = sweepHarness();
    const ref = h.arm.add('pe-owed.c', OTHER_SUB, 'please', 'Approved', VAULTS[0]);
    const realAppend = h.audit.appendMany.bind(h.audit);
    h.audit.appendMany = async () => {
      throw new Error('the audit table is unavailable');
    };
    const first = await runSweep(h.deps);
    expect(first.errors.map((e) => e.resourceId)).toContain('inventory');
    // The verdict is claimed and marked as owed; nothing was audited and no alert raised.
    expect(h.inventory.get(ref.id)).toMatchObject({ outOfBand: 'flagged', owed: expect.any(String) });
    expect(h.audit.entries.filter((e) => e.outcome === 'out-of-band')).toHaveLength(0);
    expect(await h.approvals.get(ref)).toBeUndefined();

    h.audit.appendMany = realAppend;
    await runSweep(h.deps); // too soon: a writer may still be at work
    expect(h.inventory.get(ref.id)?.owed).toBeDefined();
    h.clock.advance(10 * 60_000);
    await runSweep(h.deps);
    expect(h.inventory.get(ref.id)?.owed).toBeUndefined();
    expect(h.audit.entries.filter((e) => e.outcome === 'out-of-band')).toHaveLength(1);
    expect((await h.approvals.get(ref))?.value).toMatchObject({ state: 'AwaitingReview', alert: { kind: 'out-of-band' } });
    await runSweep(h.deps);
    expect(h.audit.entries.filter((e) => e.outcome === 'out-of-band')).toHaveLength(1);
  });

  it("records an alert's rejection by a person as Linkgate's decision, not as a change outside Linkgate", async () => {
    const h = sweepHarness();
    const ref = h.arm.add('pe-alert.c', OTHER_SUB, 'please', 'Approved', VAULTS[1]);
    await runSweep(h.deps);
    const alert = await h.approvals.get(ref);
    expect(alert?.value.alert).toBeDefined();
    // A person rejected it from the alert card: the record and the connection both say Rejected.
    await h.approvals.replace({ ...(alert!.value), state: 'Rejected', decidedBy: { type: 'user', id: 'ada00000-0000-4000-8000-0000000000a1', name: 'Ada' } }, alert!.etag);
    h.arm.setStatus_outside(ref, 'Rejected');
    await runSweep(h.deps);
    expect(h.inventory.get(ref.id)).toMatchObject({ status: 'Rejected', decidedBy: 'linkgate', decider: 'user:ada00000-0000-4000-8000-0000000000a1' });
    expect(h.audit.entries.filter((e) => e.outcome === 'decided-elsewhere' && e.connectionId === ref.key)).toHaveLength(0);
  });

  it('records a change made outside Linkgate once, and writes the summary with who ran it', async () => {
    const h = sweepHarness();
    const ref = h.arm.add('pe-chg.c', OTHER_SUB, 'please', 'Rejected', VAULTS[4]);
    await runSweep(h.deps);
    h.arm.setStatus_outside(ref, 'Disconnected');
    await runSweep(h.deps, { by: { objectId: 'ada00000-0000-4000-8000-0000000000a1', tenantId: HOME_TENANT, name: 'Ada', kind: 'user', roles: new Set(['Operate'] as const) } });
    await runSweep(h.deps);
    const changes = h.audit.entries.filter((e) => e.outcome === 'decided-elsewhere' && e.connectionId === ref.key);
    expect(changes).toHaveLength(1);
    expect(changes[0]?.summary).toMatch(/Rejected to Disconnected/);
    const summaries = h.audit.entries.filter((e) => e.kind === 'sweep');
    expect(summaries).toHaveLength(3);
    expect(summaries[1]?.actor).toMatchObject({ type: 'user' });
  });
});
