import type { ApprovalRecord, Versioned } from '../domain/approval.js';
import { isTerminal } from '../domain/approval-state-machine.js';
import { principalActor, principalDetail, type Principal } from '../domain/principal.js';
import { systemActor } from '../domain/audit.js';
import { endpointKeyOf, type PrivateEndpointConnection } from '../domain/connection.js';
import type { InventoryEntry, InventoryIndexEntry } from '../domain/inventory.js';
import type { RequesterTenant } from '../domain/policy/engine.js';
import { idKey, type ConnectionRef, type ResourceRef } from '../domain/resource-id.js';
import type { ResourceType } from '../domain/resource-types.js';
import { EffectQueue, finishOwed, observe, rulesForBatch, type ObservationOutcome, type Observed } from './inventory.js';
import { mapLimit } from './map-limit.js';
import type { ConnectionGraph, ConnectionsPort, GraphConnection, GraphScope, ResourceDirectory } from './ports.js';
import { audit } from './steps.js';
import { handleHint, processPending, reconcile, type ConnectionOutcome, type HintResult, type WorkflowDeps } from './workflow.js';

/**
 * The sweep: events are hints and can be lost (dead-lettering is off by default) or never raised
 * (which event a cross-subscription request raises is undocumented), and connections approved
 * before Linkgate was deployed raise none. The sweep finds every connection of the watched types
 * and hands each one that needs it to the same steps a hint uses.
 *
 * With Resource Graph (the default), one paged query across all watched subscriptions nominates
 * candidates; ARM is read only for those that need a decision or a look:
 *   - a Pending connection, unless its record is already waiting for a person (or for its retry);
 *   - a connection with an open record that is no longer Pending, or that the graph no longer reports;
 *   - an approval made outside Linkgate that the out-of-band rules flag (an alert is only raised
 *     on what ARM says, never on the graph's word).
 * Everything else is compared with the inventory and, where it differs, recorded (src/app/inventory.ts).
 * Types the graph does not report connections for are listed one resource at a time through ARM,
 * as every type is with source `arm` (the per-resource listing, one ARM read per resource).
 * What it found and did is one audit entry (kind `sweep`) and one log line.
 */

export type SweepSource = 'resource-graph' | 'arm';

export interface SweepSettings {
  readonly source: SweepSource;
  /** Where to look; undefined when no subscriptions are configured (only open records are looked at). */
  readonly scope: GraphScope | undefined;
  readonly types: readonly ResourceType[];
  /** ARM re-reads (or, for listed types, resources) in flight at once; 429s are waited out by the ARM client. */
  readonly concurrency: number;
}

export interface SweepDeps extends WorkflowDeps {
  /** ARM for the sweep: the same contract, with patience for long Retry-After waits (it runs on a timer). */
  readonly sweepConnections: ConnectionsPort;
  readonly graph: ConnectionGraph;
  readonly directory: ResourceDirectory;
  readonly sweep: SweepSettings;
}

export interface SweepReport {
  readonly source: SweepSource;
  readonly startedAt: Date;
  readonly durationMs: number;
  /** Connections Resource Graph reported. */
  readonly graphConnections: number;
  /** Types whose connections were listed through ARM, and how many resources that took. */
  readonly listedTypes: readonly string[];
  readonly resourcesListed: number;
  /** Connections read again through ARM on the graph's nomination. */
  readonly reread: number;
  /** What the steps did, by outcome (approved, awaiting-review, …). */
  readonly outcomes: Partial<Record<ConnectionOutcome, number>>;
  /** What the inventory made of what was seen, by outcome (first-seen, changed, out-of-band-flagged, …). */
  readonly inventory: Partial<Record<ObservationOutcome, number>>;
  readonly errors: ReadonlyArray<{ readonly resourceId: string; readonly error: string }>;
}

/** A resource with this many candidates is listed instead of read connection by connection. */
const LIST_FROM = 2;
/** Inventory entries written together (the store sends them per resource in transactions of up to 100). */
const WRITE_BATCH = 500;
/** How old the rules a sweep decides with may be: a rule change or a hold reaches it within this. */
const RULES_MAX_AGE_MS = 5_000;
/** Claims with their audit entries and alerts, done together once this many wait. */
const EFFECT_BATCH = 200;
/** Comparisons with the inventory in flight at once (Table Storage work, not ARM reads). */
const OBSERVE_CONCURRENCY = 16;

interface Candidate {
  readonly ref: ConnectionRef;
  readonly record: Versioned<ApprovalRecord> | undefined;
}

export function createSweep(deps: SweepDeps) {
  return (options: { readonly by?: Principal } = {}) => runSweep(deps, options);
}

export async function runSweep(given: SweepDeps, options: { readonly by?: Principal } = {}): Promise<SweepReport> {
  // One sweep decides many connections: the rules are read at most every few seconds for it.
  const deps: SweepDeps = { ...given, rules: rulesForBatch(given.rules, given.clock, RULES_MAX_AGE_MS) };
  const { sweep: settings, clock, log } = deps;
  const startedAt = clock.now();
  const errors: { resourceId: string; error: string }[] = [];
  const outcomes: Partial<Record<ConnectionOutcome, number>> = {};
  const inventory: Partial<Record<ObservationOutcome, number>> = {};
  const count = <K extends string>(tally: Partial<Record<K, number>>, key: K, by = 1) => {
    tally[key] = (tally[key] ?? 0) + by;
  };
  const tenantMemo = new Map<string, Promise<RequesterTenant>>();
  const policy = () => deps.rules.forDecision();
  const effects = new EffectQueue();
  const settleEffects = async (all: boolean) => {
    if (!all && effects.size < EFFECT_BATCH) return;
    try {
      await effects.flush(deps);
    } catch (error) {
      // What was claimed stays marked as owed; the next sweep finishes it (finishOwed).
      errors.push({ resourceId: 'inventory', error: (error as Error).message });
      log.error(`The sweep could not record out-of-band verdicts or changes: ${(error as Error).message}`);
    }
  };

  // 1. Where the connections are: the graph for the types it reports, ARM listings for the rest.
  const graphTypes = settings.source === 'resource-graph' ? settings.types.filter((t) => t.connections.resourceGraph) : [];
  let listTypes = settings.types.filter((t) => !graphTypes.includes(t));
  let rows: GraphConnection[] = [];
  let graphAnswered = false;
  if (settings.scope && graphTypes.length > 0) {
    try {
      rows = await deps.graph.connections(settings.scope, graphTypes);
      graphAnswered = true;
    } catch (error) {
      log.warn(`Resource Graph could not be queried (${(error as Error).message}); this sweep lists every type through ARM instead.`);
      errors.push({ resourceId: 'resource-graph', error: (error as Error).message });
      listTypes = [...settings.types];
    }
  }
  const listed = new Map<string, ResourceRef>();
  if (settings.scope && listTypes.length > 0) {
    if (settings.source === 'resource-graph' && graphTypes.length > 0) {
      log.info(`Resource Graph does not report the connections of ${listTypes.map((t) => t.key).join(', ')}; their resources are listed through ARM, one read each.`);
    }
    for (const resource of await findResources(deps, settings.scope, listTypes, errors)) listed.set(resource.key, resource);
  }

  // 2. What Linkgate knows already.
  const [index, records] = await Promise.all([deps.inventory.index(), deps.approvals.listAll()]);
  const recordOf = new Map(records.map((r) => [r.value.connection.key, r]));
  const now = clock.now();
  try {
    const finished = await finishOwed(deps, index);
    if (finished > 0) log.warn(`The sweep finished ${finished} inventory entr${finished === 1 ? 'y' : 'ies'} whose audit entry or alert an earlier run left owed.`);
  } catch (error) {
    errors.push({ resourceId: 'inventory', error: (error as Error).message });
  }

  // 3. The graph's rows: nominate for an ARM read, or compare with the inventory.
  const candidates = new Map<string, Candidate[]>();
  const nominate = (candidate: Candidate) => {
    const key = candidate.ref.resource.key;
    candidates.set(key, [...(candidates.get(key) ?? []), candidate]);
  };
  const toObserve: { row: GraphConnection; record: Versioned<ApprovalRecord> | undefined }[] = [];
  const inGraph = new Set<string>();
  for (const row of rows) {
    const key = row.ref.key;
    inGraph.add(key);
    const record = recordOf.get(key);
    const open = record !== undefined && !isTerminal(record.value.state);
    if (open && waitsAsItIs(record.value, row, now)) {
      if (!index.has(key)) toObserve.push({ row, record });
    } else if (row.status === 'Pending' || open) {
      nominate({ ref: row.ref, record });
    } else {
      toObserve.push({ row, record });
    }
  }
  // Open records the graph no longer reports: gone, or too new for the graph; ARM says which.
  for (const record of records) {
    const { connection } = record.value;
    if (isTerminal(record.value.state) || inGraph.has(connection.key) || listed.has(connection.resource.key)) continue;
    if (graphAnswered && graphTypes.includes(connection.resource.type)) nominate({ ref: connection, record });
    else listed.set(connection.resource.key, connection.resource);
  }
  // A resource with several candidates is listed once (its list usually fits one page) rather
  // than read connection by connection; its other connections are then observed from that list.
  const perConnection: Candidate[] = [];
  for (const [key, list] of candidates) {
    if (list.length >= LIST_FROM) listed.set(key, (list[0] as Candidate).ref.resource);
    else perConnection.push(...list);
  }
  const observeFromGraph = toObserve.filter(({ row }) => !listed.has(row.ref.resource.key));

  // 4. ARM reads (paced by ARM's read bucket) and the inventory's comparisons (Table Storage) at once.
  const writes: InventoryEntry[] = [];
  const flagged: Candidate[] = [];
  const flush = async (all: boolean) => {
    while (writes.length >= (all ? 1 : WRITE_BATCH)) {
      const batch = writes.splice(0, WRITE_BATCH);
      try {
        await deps.inventory.write(batch);
      } catch (error) {
        errors.push({ resourceId: 'inventory', error: (error as Error).message });
        log.error(`The sweep could not record ${batch.length} inventory change(s): ${(error as Error).message}; the next sweep finds them again.`);
      }
    }
  };
  const results: HintResult[] = [];
  const armWork = async () => {
    await mapLimit(perConnection, settings.concurrency, (candidate) => guarded(candidate.ref.id, () => rereadCandidate(candidate)));
    await mapLimit([...listed.values()], settings.concurrency, (resource) =>
      guarded(resource.id, async () => {
        results.push(await handleHint(deps, { resource, source: 'sweep' }, { via: 'sweep', tenantMemo, policy, effects }));
        await settleEffects(false);
      }),
    );
  };
  const tableWork = async () => {
    await mapLimit(observeFromGraph, OBSERVE_CONCURRENCY, async ({ row, record }) => {
      const outcome = await observeRow(row, record ?? null);
      if (outcome === 'needs-reread') flagged.push({ ref: row.ref, record });
      await flush(false);
      await settleEffects(false);
    });
  };
  await Promise.all([armWork(), tableWork()]);
  // Approvals the graph says were made outside Linkgate and the rules flag: ARM has the last word.
  await mapLimit(flagged, settings.concurrency, (candidate) => guarded(candidate.ref.id, () => rereadCandidate(candidate)));
  await settleEffects(true);
  await flush(true);
  for (const result of results) {
    for (const { outcome } of result.outcomes) count(outcomes, outcome);
    for (const [outcome, n] of Object.entries(result.observed ?? {})) count(inventory, outcome as ObservationOutcome, n);
  }
  const reread = [...perConnection, ...flagged];

  const report: SweepReport = {
    source: settings.source,
    startedAt,
    durationMs: clock.now().getTime() - startedAt.getTime(),
    graphConnections: rows.length,
    listedTypes: listTypes.map((t) => t.key),
    resourcesListed: listed.size,
    reread: reread.length,
    outcomes,
    inventory,
    errors,
  };
  const summary = describeReport(report, options.by);
  await audit(deps, 'sweep', 'sweep', options.by ? principalActor(options.by) : systemActor('sweep'), summary, {
    detail: { ...report, startedAt: startedAt.toISOString(), errors: errors.slice(0, 20), ...(options.by ? { by: principalDetail(options.by) } : {}) },
  });
  log.info(summary);
  return report;

  /** One resource or connection failing must not stop the others; the next sweep tries again. */
  async function guarded(id: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      errors.push({ resourceId: id, error: (error as Error).message });
      log.error(`Sweep of ${id} failed: ${(error as Error).message}`);
    }
  }

  async function observeRow(row: Observed, record: Versioned<ApprovalRecord> | null): Promise<ObservationOutcome> {
    try {
      const result = await observe(deps, row, index.get(row.ref.key), { via: 'resource-graph', fromArm: false, record, tenantMemo, policy, effects });
      if (result.outcome !== 'needs-reread') count(inventory, result.outcome);
      if (result.entry) writes.push(result.entry);
      return result.outcome;
    } catch (error) {
      errors.push({ resourceId: row.ref.id, error: (error as Error).message });
      return 'deferred';
    }
  }

  async function rereadCandidate({ ref, record }: Candidate): Promise<void> {
    const connection = await deps.sweepConnections.get(ref);
    const hint = { resource: ref.resource, source: 'sweep' as const };
    let outcome: ConnectionOutcome | undefined;
    if (connection?.status === 'Pending') {
      // The record as the sweep read it with every other: no point read before the claim (an ETag still guards it).
      outcome = await processPending(deps, connection, hint, { record });
    } else if (record && !isTerminal(record.value.state)) {
      const latest = (await deps.approvals.get(ref)) ?? record;
      outcome = await reconcile(deps, latest, connection);
    }
    if (outcome) count(outcomes, outcome);
    if (!connection || outcome === 'owned-elsewhere') return;
    const seen = settledView(connection, outcome);
    const previous: InventoryIndexEntry | undefined = index.get(ref.key);
    const result = await observe(deps, seen, previous, { via: 'resource-graph', hint, fromArm: true, tenantMemo, policy, effects, ...(connection.rawStatus ? { readAs: connection.rawStatus } : {}) });
    count(inventory, result.outcome);
    if (result.entry) writes.push(result.entry);
  }
}

/**
 * A record whose connection the graph still shows as it left it: a review or an alert waiting for
 * a person, or a failure waiting for its retry. Reading ARM again would change nothing.
 */
function waitsAsItIs(record: ApprovalRecord, row: GraphConnection, now: Date): boolean {
  const sameEndpoint = idKey(record.privateEndpointId) === undefined || endpointKeyOf(row as unknown as PrivateEndpointConnection) === idKey(record.privateEndpointId);
  if (!sameEndpoint) return false;
  if (record.alert) return record.state === 'AwaitingReview' && row.status === 'Approved';
  if (row.status !== 'Pending') return false;
  if (record.state === 'AwaitingReview') return true;
  return record.state === 'Failed' && record.nextAttemptAt !== undefined && record.nextAttemptAt > now;
}

/** The status Linkgate just set, for a connection it approved or rejected in this pass. */
function settledView(connection: PrivateEndpointConnection, outcome: ConnectionOutcome | undefined): Observed {
  if (outcome === 'approved') return { ...connection, rawStatus: 'Approved', status: 'Approved' };
  if (outcome === 'rejected') return { ...connection, rawStatus: 'Rejected', status: 'Rejected' };
  return connection;
}

/** Resources of the listed types: from the graph (any scope), else from ARM per subscription. */
async function findResources(deps: SweepDeps, scope: GraphScope, types: readonly ResourceType[], errors: { resourceId: string; error: string }[]): Promise<ResourceRef[]> {
  if (deps.sweep.source === 'resource-graph') {
    try {
      return await deps.graph.resources(scope, types);
    } catch (error) {
      if (scope.kind === 'tenant') {
        errors.push({ resourceId: 'resource-graph', error: (error as Error).message });
        return [];
      }
      deps.log.warn(`Resource Graph could not list resources (${(error as Error).message}); they are listed through ARM per subscription.`);
    }
  }
  if (scope.kind === 'tenant') return [];
  const found: ResourceRef[] = [];
  for (const subscriptionId of scope.subscriptionIds) {
    for (const type of types) {
      try {
        found.push(...(await deps.directory.listResources(subscriptionId, type)));
      } catch (error) {
        errors.push({ resourceId: `/subscriptions/${subscriptionId}/providers/${type.type}`, error: (error as Error).message });
      }
    }
  }
  return found;
}

function describeReport(report: SweepReport, by: Principal | undefined): string {
  const tally = (t: Partial<Record<string, number>>) =>
    Object.entries(t)
      .filter(([, n]) => (n ?? 0) > 0)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ') || 'nothing';
  const where =
    report.source === 'resource-graph'
      ? `Resource Graph reported ${report.graphConnections} connection(s); ${report.reread} read again through ARM; ${report.resourcesListed} resource(s) listed through ARM${report.listedTypes.length ? ` (${report.listedTypes.join(', ')})` : ''}`
      : `${report.resourcesListed} resource(s) listed through ARM`;
  return `Sweep${by ? ` run by ${by.name}` : ''} (${report.durationMs} ms): ${where}. Decisions: ${tally(report.outcomes)}. Inventory: ${tally(report.inventory)}. ${report.errors.length} error(s).`;
}
