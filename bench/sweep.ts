/**
 * `npm run bench:sweep`: the sweep at scale against the embedded ARM emulator and Azurite, in one
 * process. Resources of every registered type, 64 connections each, 5% Pending from a foreign
 * tenant (no rule decides them: each goes to review, which is recorded and waits, since no Teams
 * bot is configured), the rest Approved, Rejected or Disconnected. Approved ones come mostly from
 * the home tenant (an out-of-band rule ignores them) and 1% from the foreign tenant (flagged by
 * default: alert records, recorded and logged).
 *
 * The emulator enforces ARM's read bucket (per principal and subscription: 250, refilled at
 * 25/s) and Resource Graph's default quota (15 queries per 5 s). In one run:
 *   1. the Resource Graph sweep on fresh tables;
 *   2. its steady state: a second Resource Graph sweep right after (nothing new);
 *   3. the per-resource listing (source `arm`) on other fresh tables, same emulator state,
 *      after the read bucket has refilled completely.
 * With --runs N the order of the two fresh sweeps alternates.
 *
 *   npm run bench:sweep                    300 resources, 19,200 connections (bench/results/sweep.json)
 *   npm run bench:sweep -- --full          2,000 resources, 128,000 connections (sweep-full.json; over 10 minutes here)
 *   npm run bench:sweep -- --quick         200 resources, bucket capacity 25 refilled at 25/s (sweep-quick.json)
 *   npm run bench:sweep -- --runs 3 --concurrency 16 --resources N
 *
 * A steady-state sweep still lists the resources of types Resource Graph does not report
 * (PostgreSQL flexible servers) through ARM, one read each, by design; it reads nothing else.
 *
 * Counts are checked (every Pending decided once, every connection inventoried once, no PUT,
 * 0 unhonoured 429s, steady state makes no ARM read and writes nothing); a failed check ends the
 * run with an error. Absolute times are printed, never asserted.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../src/app/ports.js';
import type { SweepReport } from '../src/app/sweep.js';
import { createServices, type Services } from '../src/composition.js';
import { loadConfig } from '../src/config.js';
import { parseRule } from '../src/domain/policy/rule.js';
import { RESOURCE_TYPES } from '../src/domain/resource-types.js';
import { startArmEmulator, type ArmEmulator, type CallRecord, type ConnectionStatus, type EmulatorSubscription } from '../src/dev/arm-emulator/index.js';
import { startAzuriteTables, type AzuriteTables } from '../src/dev/azurite.js';
import { median } from './lib/report.js';
import { mulberry32, sleep, watchTables, type TableTraffic } from './lib/stack.js';

export interface SweepBenchOptions {
  /** A tenth of the full size (200 resources) and of the read bucket's capacity (25). */
  readonly quick?: boolean;
  /** The full size: 2,000 resources, 128,000 connections (longer than the default; see DEFAULT_RESOURCES). */
  readonly full?: boolean;
  /** Repeated runs, alternating which fresh sweep goes first (default 1). */
  readonly runs?: number;
  /** LINKGATE_SWEEP_CONCURRENCY (default: the product's default, 16). */
  readonly concurrency?: number;
  /** Where progress and tables go (default console.log); `() => {}` for silence. */
  readonly print?: (line: string) => void;
  /** Write bench/results/sweep.json (quick: sweep-quick.json). Default true. */
  readonly writeResults?: boolean;
  /** Resources to seed, overriding the mode's size (connections per resource stay 64). */
  readonly resources?: number;
  /** End with an error when a check fails (default true); false returns them in `failures`. */
  readonly throwOnFailure?: boolean;
}

export interface Scenario {
  readonly mode: 'full' | 'default' | 'quick' | 'custom';
  readonly resources: number;
  readonly connectionsPerResource: number;
  readonly connections: number;
  readonly pending: number;
  readonly approvedHome: number;
  readonly approvedForeign: number;
  readonly rejected: number;
  readonly disconnected: number;
  readonly resourceSubscriptions: number;
  readonly requesterSubscriptions: number;
  readonly pageSize: number;
  readonly readBucket: { readonly capacity: number; readonly refillPerSecond: number };
  readonly graphQuota: { readonly queries: number; readonly windowMs: number };
  readonly concurrency: number;
}

export interface SweepFigures {
  readonly sweep: 'resource-graph' | 'arm' | 'resource-graph (steady state)';
  readonly armReads: number;
  /** GETs by what they read: connection lists/reads, resource lists, subscription (tenant) lookups. */
  readonly readsBy: { readonly connections: number; readonly resourceLists: number; readonly subscriptions: number };
  readonly armWrites: number;
  readonly graphQueries: number;
  readonly throttled: number;
  readonly unhonoured: number;
  readonly graphThrottled: number;
  readonly graphUnhonoured: number;
  readonly wallMs: number;
  /** From the sweep's start to its last ARM or graph call: the rest is Table Storage work and bookkeeping. */
  readonly armSpanMs: number;
  readonly outcomes: SweepReport['outcomes'];
  readonly inventory: SweepReport['inventory'];
  readonly inventoryEntries: number;
  /** Table Storage requests during the sweep, by table and method (`audit POST`), and how many failed (4xx/5xx). */
  readonly tableRequests: number;
  readonly tableFailures: number;
  readonly tableRequestsBy: Record<string, number>;
  readonly reread: number;
  readonly resourcesListed: number;
  readonly graphConnections: number;
  readonly errors: number;
}

export interface Floor {
  /** Resources holding Pending connections, and the reads re-reading them needs at best. */
  readonly resourcesWithPending: number;
  readonly reads: number;
  /** max(0, reads − capacity) / refill: one bucket for all reads. */
  readonly oneBucketMs: number;
  /** The emulator (as ARM) keeps a bucket per principal and subscription: the slowest subscription's share. */
  readonly perSubscriptionMs: number;
  readonly readsPerSubscription: Record<string, number>;
}

export interface RunFigures {
  readonly order: readonly string[];
  readonly graph: SweepFigures;
  readonly steady: SweepFigures;
  readonly arm: SweepFigures;
}

export interface SweepBenchResult {
  readonly date: string;
  readonly machine: { readonly cpus: number; readonly cpuModel: string; readonly node: string; readonly platform: string };
  readonly scenario: Scenario;
  readonly seedMs: number;
  readonly floor: Floor;
  readonly runs: readonly RunFigures[];
  readonly peakRssMiB: number;
  readonly peakHeapMiB: number;
  readonly logLines: { readonly info: number; readonly warn: number; readonly error: number };
  readonly checks: readonly string[];
  readonly failures: readonly string[];
  /** What the run saw that is not a failed check but looks wrong or wasteful. */
  readonly notes: readonly string[];
  readonly goal: { readonly graphWithinFloor: boolean; readonly noUnhonoured: boolean };
}

const HOME_TENANT = '6a1f3c2e-9b4d-4e8a-a7c5-2d3e4f5a6b7c';
const FOREIGN_TENANT = 'f0e1d2c3-b4a5-4968-8776-655443322110';
const FULL_RESOURCES = 2_000;
const QUICK_RESOURCES = 200;
/**
 * The default size. Each fresh sweep sends ~2 Table Storage requests per connection to the
 * in-process Azurite (24,532 for 12,800 connections, ~110 s on 2 CPUs, while ARM's read bucket
 * needed 6.7 s), so the full size would take ~20 minutes per fresh sweep; 300 resources
 * (19,200 connections) are estimated at under 10 minutes for the whole run.
 */
const DEFAULT_RESOURCES = 300;
const CONNECTIONS_PER_RESOURCE = 64;
const PENDING_SHARE = 0.05;
const FOREIGN_APPROVED_EVERY = 100;
const PAGE_SIZE = 100;
const GRAPH_PATH = '/providers/microsoft.resourcegraph/resources';
const WRITE_BUCKET_NOTE = "approving them would also spend ARM's write bucket (200, refilled at 10/s), which this benchmark leaves out";

export async function runSweepBench(options: SweepBenchOptions = {}): Promise<SweepBenchResult> {
  const print = options.print ?? ((line: string) => console.log(line));
  const quick = options.quick ?? false;
  const resources = options.resources ?? (quick ? QUICK_RESOURCES : options.full ? FULL_RESOURCES : DEFAULT_RESOURCES);
  const readBucket = quick ? { capacity: 25, refillPerSecond: 25 } : { capacity: 250, refillPerSecond: 25 };
  const graphQuota = { queries: 15, windowMs: 5_000 };
  const runs = Math.max(1, options.runs ?? 1);
  const concurrency = options.concurrency ?? 16;

  const memory = watchMemory();
  const log = countingLogger();
  const checks: string[] = [];
  const failures: string[] = [];
  const notes: string[] = [];
  const check = (ok: boolean, what: string) => {
    if (ok) checks.push(what);
    else failures.push(what);
  };

  const resourceSubs = Array.from({ length: resources >= 1_000 ? 3 : 2 }, (_, i) => guid(`resource-sub-${i}`));
  const homeRequesters = Array.from({ length: 6 }, (_, i) => guid(`home-requester-${i}`));
  const foreignRequesters = Array.from({ length: 4 }, (_, i) => guid(`foreign-requester-${i}`));
  const subscriptions: EmulatorSubscription[] = [
    ...resourceSubs.map((id, i) => ({ subscriptionId: id, tenantId: HOME_TENANT, displayName: `Resources ${i}`, visibility: 'visible' as const })),
    ...homeRequesters.map((id, i) => ({ subscriptionId: id, tenantId: HOME_TENANT, displayName: `Home requester ${i}`, visibility: 'visible' as const })),
    ...foreignRequesters.map((id, i) => ({ subscriptionId: id, tenantId: FOREIGN_TENANT, displayName: `Foreign requester ${i}`, visibility: 'visible' as const })),
  ];

  const closers: Array<() => Promise<void>> = [];
  const stateDir = mkdtempSync(join(tmpdir(), 'linkgate-bench-sweep-'));
  closers.push(async () => rmSync(stateDir, { recursive: true, force: true }));
  try {
    const emulator = await startArmEmulator({ subscriptions, pageSize: PAGE_SIZE, provisioningDelayMs: 5, armThrottling: { reads: readBucket }, resourceGraphQuota: graphQuota });
    closers.push(() => emulator.close());
    const tables: AzuriteTables = await startAzuriteTables();
    closers.push(() => tables.close());
    const traffic = watchTables(new URL(tables.url).port);
    closers.push(async () => traffic.stop());
    const caFile = join(stateDir, 'arm-emulator-ca.pem');
    writeFileSync(caFile, emulator.caPem);

    // Seeding: resources spread over every registered type and the resource subscriptions; exactly
    // 5% of the connections Pending, at positions a fixed-seed shuffle picks (so some resources
    // hold none, some one, most several); the rest cycle through Approved, Rejected, Disconnected.
    const seedStarted = performance.now();
    const total = resources * CONNECTIONS_PER_RESOURCE;
    const pendingCount = Math.round(total * PENDING_SHARE);
    const pendingAt = pickPositions(total, pendingCount, 0x5eed);
    const tally = { pending: 0, approvedHome: 0, approvedForeign: 0, rejected: 0, disconnected: 0 };
    const pendingByResource = new Map<string, { count: number; subscriptionId: string }>();
    let settled = 0;
    for (let r = 0; r < resources; r += 1) {
      const type = RESOURCE_TYPES[r % RESOURCE_TYPES.length]!;
      const subscriptionId = resourceSubs[r % resourceSubs.length]!;
      const resourceId = String(emulator.createResource({ type: type.type, subscriptionId, resourceGroup: `rg-bench-${r % 7}`, name: `lgbench${r}`, tenantId: HOME_TENANT })['id']);
      for (let c = 0; c < CONNECTIONS_PER_RESOURCE; c += 1) {
        const position = r * CONNECTIONS_PER_RESOURCE + c;
        let status: ConnectionStatus;
        let fromSubscription: string;
        if (pendingAt.has(position)) {
          status = 'Pending';
          fromSubscription = foreignRequesters[position % foreignRequesters.length]!;
          tally.pending += 1;
          const entry = pendingByResource.get(resourceId) ?? { count: 0, subscriptionId };
          entry.count += 1;
          pendingByResource.set(resourceId, entry);
        } else {
          const kind = settled % 3;
          settled += 1;
          if (kind === 0) {
            status = 'Approved';
            const approvedIndex = tally.approvedHome + tally.approvedForeign;
            if (approvedIndex % FOREIGN_APPROVED_EVERY === FOREIGN_APPROVED_EVERY - 1) {
              fromSubscription = foreignRequesters[approvedIndex % foreignRequesters.length]!;
              tally.approvedForeign += 1;
            } else {
              fromSubscription = homeRequesters[approvedIndex % homeRequesters.length]!;
              tally.approvedHome += 1;
            }
          } else {
            status = kind === 1 ? 'Rejected' : 'Disconnected';
            const pool = position % 2 === 0 ? homeRequesters : foreignRequesters;
            fromSubscription = pool[position % pool.length]!;
            if (kind === 1) tally.rejected += 1;
            else tally.disconnected += 1;
          }
        }
        emulator.seedConnection({ resourceId, status, fromSubscription, endpointName: `pe-r${r}-c${c}` });
      }
    }
    emulator.refreshResourceGraph();
    const seedMs = performance.now() - seedStarted;

    const scenario: Scenario = {
      mode: options.resources !== undefined ? 'custom' : quick ? 'quick' : options.full ? 'full' : 'default',
      resources,
      connectionsPerResource: CONNECTIONS_PER_RESOURCE,
      connections: total,
      pending: tally.pending,
      approvedHome: tally.approvedHome,
      approvedForeign: tally.approvedForeign,
      rejected: tally.rejected,
      disconnected: tally.disconnected,
      resourceSubscriptions: resourceSubs.length,
      requesterSubscriptions: homeRequesters.length + foreignRequesters.length,
      pageSize: PAGE_SIZE,
      readBucket,
      graphQuota,
      concurrency,
    };
    const floor = computeFloor(pendingByResource, readBucket);
    const unreportedTypes = RESOURCE_TYPES.filter((t) => !t.connections.resourceGraph).map((t) => t.key);
    const unreportedResources = Array.from({ length: resources }, (_, r) => RESOURCE_TYPES[r % RESOURCE_TYPES.length]!).filter((t) => !t.connections.resourceGraph).length;
    print(
      `Seeded ${total.toLocaleString('en')} connections on ${resources.toLocaleString('en')} resources (${RESOURCE_TYPES.length} types, ${resourceSubs.length} subscriptions) in ${fmtS(seedMs)}: ` +
        `${tally.pending} Pending (foreign tenant), ${tally.approvedHome} Approved (home), ${tally.approvedForeign} Approved (foreign), ${tally.rejected} Rejected, ${tally.disconnected} Disconnected.`,
    );
    print(`ARM read bucket ${readBucket.capacity}, refilled at ${readBucket.refillPerSecond}/s, per principal and subscription; Resource Graph ${graphQuota.queries} queries per ${graphQuota.windowMs / 1000} s; page size ${PAGE_SIZE}; sweep concurrency ${concurrency}.`);

    const baseEnv = {
      LINKGATE_DEV_MODE: 'true',
      LINKGATE_HOME_TENANT_ID: HOME_TENANT,
      LINKGATE_TABLES_CONNECTION_STRING: tables.connectionString,
      LINKGATE_ARM_ENDPOINT: emulator.url,
      LINKGATE_ARM_CA_FILE: caFile,
      LINKGATE_CREDENTIAL: 'dev-token',
      LINKGATE_SWEEP_SUBSCRIPTIONS: resourceSubs.join(','),
      LINKGATE_SWEEP_CONCURRENCY: String(concurrency),
    };
    const statusesBefore = statusSnapshot(emulator);
    const refillMs = (readBucket.capacity / readBucket.refillPerSecond) * 1000 + 250;
    let lastSweepEnd = performance.now();
    const waitForFullBucket = async () => {
      const wait = lastSweepEnd + refillMs - performance.now();
      if (wait > 0) await sleep(wait);
    };

    const results: RunFigures[] = [];
    for (let run = 0; run < runs; run += 1) {
      const order: Array<'resource-graph' | 'arm'> = run % 2 === 0 ? ['resource-graph', 'arm'] : ['arm', 'resource-graph'];
      const figures: Partial<Record<'graph' | 'steady' | 'arm', SweepFigures>> = {};
      for (const source of order) {
        const services = await freshServices(baseEnv, source, `b${run}${source === 'arm' ? 'a' : 'g'}${Date.now().toString(36)}`, log);
        await waitForFullBucket();
        print(`Run ${run + 1}/${runs}: ${source} sweep on fresh tables…`);
        const first = await measured(emulator, services, source, traffic);
        lastSweepEnd = performance.now();
        print(progress(first));
        check(first.errors === 0, `${source} sweep: no errors (got ${first.errors})`);
        check(first.armWrites === 0, `${source} sweep: no ARM writes (got ${first.armWrites})`);
        check(first.outcomes['awaiting-review'] === tally.pending, `${source} sweep: every Pending connection awaiting review once (${first.outcomes['awaiting-review'] ?? 0} of ${tally.pending})`);
        const decided = Object.values(first.outcomes).reduce((sum, n) => sum + (n ?? 0), 0);
        check(decided === tally.pending, `${source} sweep: no decision beyond the Pending ones (${decided})`);
        const inventoried = (first.inventory['first-seen'] ?? 0) + (first.inventory['out-of-band-ignored'] ?? 0) + (first.inventory['out-of-band-flagged'] ?? 0);
        check(inventoried === total, `${source} sweep: first-seen + out-of-band = ${total} (got ${inventoried}: ${JSON.stringify(first.inventory)})`);
        check((first.inventory['out-of-band-flagged'] ?? 0) === tally.approvedForeign, `${source} sweep: ${tally.approvedForeign} foreign approvals flagged (got ${first.inventory['out-of-band-flagged'] ?? 0})`);
        check((first.inventory['out-of-band-ignored'] ?? 0) === tally.approvedHome, `${source} sweep: ${tally.approvedHome} home approvals ignored (got ${first.inventory['out-of-band-ignored'] ?? 0})`);
        const index = await services.inventory.index();
        check(index.size === total, `${source} sweep: inventory index holds ${total} entries (got ${index.size})`);
        check(first.unhonoured === 0 && first.graphUnhonoured === 0, `${source} sweep: 0 unhonoured 429s (got ARM ${first.unhonoured}, graph ${first.graphUnhonoured})`);
        const after = statusSnapshot(emulator);
        check(sameStatuses(statusesBefore, after), `${source} sweep: ARM's connections unchanged (no PUT)`);
        if (source === 'arm') {
          figures.arm = first;
        } else {
          figures.graph = first;
          print(`Run ${run + 1}/${runs}: resource-graph sweep again (steady state)…`);
          const steady = await measured(emulator, services, 'resource-graph (steady state)', traffic);
          lastSweepEnd = performance.now();
          print(progress(steady));
          check(steady.errors === 0, `steady state: no errors (got ${steady.errors})`);
          // Types Resource Graph does not report (PostgreSQL flexible servers) are listed through ARM on every sweep, by design.
          check(steady.resourcesListed === unreportedResources, `steady state: only the ${unreportedResources} resources of types the graph does not report are listed (got ${steady.resourcesListed})`);
          check(steady.armReads === unreportedResources, `steady state: ARM reads only for those listings, ${unreportedResources} (got ${steady.armReads})`);
          check(steady.reread === 0, `steady state: nothing read again on the graph's nomination (got ${steady.reread})`);
          check(steady.armWrites === 0, `steady state: 0 ARM writes (got ${steady.armWrites})`);
          check(steady.inventoryEntries === 0, `steady state: no inventory entry written (got ${steady.inventoryEntries})`);
          const closed = steady.outcomes['decided-elsewhere'] ?? 0;
          if (closed > 0) notes.push(`steady state: ${closed} open record(s) on listed resources closed as decided-elsewhere although nothing changed in ARM (out-of-band alerts on ${unreportedTypes.join(', ')} resources)`);
          const again = steady.outcomes['awaiting-review'] ?? 0;
          if (again > 0) notes.push(`steady state: ${again} Pending connection(s) on listed resources counted as awaiting-review again (already waiting since the first sweep)`);
          figures.steady = steady;
        }
      }
      if (figures.arm && figures.graph) check(figures.graph.armReads <= figures.arm.armReads, `run ${run + 1}: the graph sweep's ARM reads (${figures.graph.armReads}) ≤ the listing's (${figures.arm.armReads})`);
      results.push({ order, graph: figures.graph!, steady: figures.steady!, arm: figures.arm! });
    }

    const peak = memory.stop();
    const last = results[results.length - 1]!;
    const result: SweepBenchResult = {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform}-${process.arch}` },
      scenario,
      seedMs: round(seedMs),
      floor,
      runs: results,
      peakRssMiB: round(peak.rss),
      peakHeapMiB: round(peak.heap),
      logLines: log.counts,
      checks,
      failures,
      notes: [...new Set(notes)],
      goal: {
        graphWithinFloor: median(results.map((r) => r.graph.wallMs)) <= 1.2 * Math.max(floor.oneBucketMs, 1),
        noUnhonoured: results.every((r) => r.graph.unhonoured + r.arm.unhonoured + r.steady.unhonoured === 0),
      },
    };
    printTables(print, result, last);
    if (failures.length > 0 && (options.throwOnFailure ?? true)) throw new Error(`${failures.length} check(s) failed:\n  ${failures.join('\n  ')}`);
    if (options.writeResults ?? true) {
      const dir = join(__dirname, 'results');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, scenario.mode === 'default' ? 'sweep.json' : `sweep-${scenario.mode}.json`);
      writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
      print(`Figures written to ${file}.`);
    }
    return result;
  } finally {
    memory.stop();
    for (const close of closers.reverse()) await close().catch(() => undefined);
  }
}

async function freshServices(baseEnv: Record<string, string>, source: 'resource-graph' | 'arm', tablePrefix: string, log: Logger): Promise<Services> {
  const services = createServices(loadConfig({ ...baseEnv, LINKGATE_SWEEP_SOURCE: source }), { tablePrefix, log });
  await services.rules.put(
    parseRule({ name: 'home-tenant-out-of-band', priority: 10, appliesTo: 'out-of-band', action: 'ignore', conditions: { requesterTenant: ['home'] } }),
  );
  return services;
}

/** One sweep, with what the emulator saw of it. */
async function measured(emulator: ArmEmulator, services: Services, label: SweepFigures['sweep'], tables: TableTraffic): Promise<SweepFigures> {
  const callsBefore = emulator.calls.length;
  tables.reset();
  const throttleBefore = emulator.throttleStats();
  let entries = 0;
  const write = services.inventory.write.bind(services.inventory);
  services.inventory.write = async (batch) => {
    entries += batch.length;
    return write(batch);
  };
  const started = performance.now();
  const startedAt = Date.now();
  let report: SweepReport;
  try {
    report = await services.sweep();
  } finally {
    services.inventory.write = write;
  }
  const wallMs = performance.now() - started;
  const calls = emulator.calls.slice(callsBefore);
  const throttle = emulator.throttleStats();
  const graph = calls.filter((c) => c.method === 'POST' && c.path.toLowerCase() === GRAPH_PATH);
  const arm = calls.filter((c) => !graph.includes(c));
  const reads = arm.filter((c) => c.method === 'GET' || c.method === 'HEAD');
  const lastCall = calls.reduce((latest, c) => Math.max(latest, c.at.getTime()), startedAt);
  return {
    sweep: label,
    armReads: reads.length,
    readsBy: {
      connections: reads.filter((c) => /\/privateendpointconnections(\/|$)/i.test(c.path)).length,
      resourceLists: reads.filter((c) => isResourceList(c)).length,
      subscriptions: reads.filter((c) => /^\/subscriptions\/[^/]+\/?$/i.test(c.path)).length,
    },
    armWrites: arm.length - reads.length,
    graphQueries: graph.length,
    throttled: arm.filter((c) => c.status === 429).length,
    unhonoured: throttle.unhonoured - throttleBefore.unhonoured,
    graphThrottled: graph.filter((c) => c.status === 429).length,
    graphUnhonoured: throttle.graphUnhonoured - throttleBefore.graphUnhonoured,
    wallMs: round(wallMs),
    armSpanMs: round(lastCall - startedAt),
    outcomes: report.outcomes,
    inventory: report.inventory,
    inventoryEntries: entries,
    tableRequests: tables.total,
    tableFailures: tables.failures,
    tableRequestsBy: Object.fromEntries([...tables.by].sort((a, b) => b[1] - a[1])),
    reread: report.reread,
    resourcesListed: report.resourcesListed,
    graphConnections: report.graphConnections,
    errors: report.errors.length,
  };
}

function progress(f: SweepFigures): string {
  const rss = process.memoryUsage().rss / 1_048_576;
  return `  ${f.sweep}: ${fmtS(f.wallMs)} (last ARM call at ${fmtS(f.armSpanMs)}), ${f.armReads} ARM reads, ${f.throttled} 429s, ${f.tableRequests} Table requests (${f.tableFailures} failed), RSS ${rss.toFixed(0)} MiB`;
}

function isResourceList(call: CallRecord): boolean {
  return /^\/subscriptions\/[^/]+\/providers\/[^/]+\/[^/]+\/?$/i.test(call.path);
}

/**
 * The fewest ARM reads that re-reading the Pending connections needs: per resource holding any,
 * the cheaper of one GET per Pending connection and one list (its pages); and the time the read
 * bucket allows for them beyond its capacity.
 */
function computeFloor(pendingByResource: ReadonlyMap<string, { count: number; subscriptionId: string }>, bucket: { capacity: number; refillPerSecond: number }): Floor {
  const listPages = Math.ceil(CONNECTIONS_PER_RESOURCE / PAGE_SIZE);
  const perSubscription: Record<string, number> = {};
  let reads = 0;
  for (const { count, subscriptionId } of pendingByResource.values()) {
    const cost = Math.min(count, listPages);
    reads += cost;
    perSubscription[subscriptionId] = (perSubscription[subscriptionId] ?? 0) + cost;
  }
  const beyond = (n: number) => (Math.max(0, n - bucket.capacity) / bucket.refillPerSecond) * 1000;
  return {
    resourcesWithPending: pendingByResource.size,
    reads,
    oneBucketMs: round(beyond(reads)),
    perSubscriptionMs: round(Math.max(0, ...Object.values(perSubscription).map(beyond))),
    readsPerSubscription: perSubscription,
  };
}

function printTables(print: (line: string) => void, result: SweepBenchResult, run: RunFigures): void {
  const { floor, scenario } = result;
  const rows = [run.graph, run.arm, run.steady];
  const ratio = (ms: number, to: number) => (to > 0 ? `${(ms / to).toFixed(2)}×` : '—');
  print('');
  print(`Sweep of ${scenario.connections.toLocaleString('en')} connections on ${scenario.resources.toLocaleString('en')} resources (${scenario.mode}; run ${result.runs.length} of ${result.runs.length}, order ${run.order.join(' → ')}):`);
  const header = ['sweep', 'ARM reads', 'graph queries', '429s', 'unhonoured', 'wall time', 'ARM span', '× floor', '× floor/sub', '× listing'];
  const table = rows.map((r) => [
    r.sweep,
    String(r.armReads),
    String(r.graphQueries),
    String(r.throttled + r.graphThrottled),
    String(r.unhonoured + r.graphUnhonoured),
    fmtS(r.wallMs),
    fmtS(r.armSpanMs),
    ratio(r.wallMs, floor.oneBucketMs),
    ratio(r.wallMs, floor.perSubscriptionMs),
    ratio(r.wallMs, run.arm.wallMs),
  ]);
  table.push(['floor', String(floor.reads), '—', '—', '—', fmtS(floor.oneBucketMs), '—', '1.00×', ratio(floor.oneBucketMs, floor.perSubscriptionMs), ratio(floor.oneBucketMs, run.arm.wallMs)]);
  printAligned(print, header, table);
  print(
    `Floor: ${floor.resourcesWithPending} resources hold Pending connections; the cheaper of a GET per Pending connection and one list each is ${floor.reads} reads, ` +
      `${fmtS(floor.oneBucketMs)} beyond a bucket of ${scenario.readBucket.capacity} at ${scenario.readBucket.refillPerSecond}/s. The emulator keeps one bucket per subscription ` +
      `(${Object.values(floor.readsPerSubscription).join(' / ')} reads), which allows them in ${fmtS(floor.perSubscriptionMs)} (× floor/sub).`,
  );
  print(`ARM span: from the sweep's start to its last ARM or graph call; the rest of the wall time is Table Storage work after the last read.`);
  print(`Table Storage requests: ${rows.map((r) => `${r.sweep} ${r.tableRequests} (${r.tableFailures} failed; ${Object.entries(r.tableRequestsBy).slice(0, 6).map(([k, n]) => `${n} ${k}`).join(', ')})`).join('; ')}.`);
  print(`Reads by kind: ${rows.map((r) => `${r.sweep} ${r.readsBy.connections} connection, ${r.readsBy.resourceLists} resource list, ${r.readsBy.subscriptions} subscription`).join('; ')}.`);
  print(`Goal: resource-graph sweep ≤ 1.2× floor: ${result.goal.graphWithinFloor ? 'met' : 'NOT met'} (${ratio(median(result.runs.map((r) => r.graph.wallMs)), floor.oneBucketMs)}, median of ${result.runs.length}); 0 unhonoured 429s: ${result.goal.noUnhonoured ? 'met' : 'NOT met'}.`);
  print('');
  print('Decisions and inventory (the sweep report):');
  const tally = (t: Partial<Record<string, number>>) =>
    Object.entries(t)
      .filter(([, n]) => (n ?? 0) > 0)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ') || 'nothing';
  printAligned(
    print,
    ['sweep', 'decisions', 'inventory', 'entries written', 'graph rows', 'read again', 'listed'],
    rows.map((r) => [r.sweep, tally(r.outcomes), tally(r.inventory), String(r.inventoryEntries), String(r.graphConnections), String(r.reread), String(r.resourcesListed)]),
  );
  print(`Every Pending connection (${scenario.pending}) went to review once and waits (no Teams bot is configured, no PUT); ${WRITE_BUCKET_NOTE}.`);
  print(`Steady state: ${run.steady.armReads} ARM reads, ${run.steady.graphQueries} graph queries, ${run.steady.inventoryEntries} inventory entries written, ${fmtS(run.steady.wallMs)}.`);
  if (result.runs.length > 1) {
    print('');
    print('All runs:');
    printAligned(
      print,
      ['run', 'order', 'graph wall', 'listing wall', 'steady wall', 'graph reads', 'listing reads', '429s (g/l)'],
      result.runs.map((r, i) => [String(i + 1), r.order.join(' → '), fmtS(r.graph.wallMs), fmtS(r.arm.wallMs), fmtS(r.steady.wallMs), String(r.graph.armReads), String(r.arm.armReads), `${r.graph.throttled}/${r.arm.throttled}`]),
    );
  }
  print('');
  print(
    `Peak RSS ${result.peakRssMiB.toFixed(0)} MiB (heap ${result.peakHeapMiB.toFixed(0)} MiB), emulator, Azurite and Linkgate in one process; seeding took ${fmtS(result.seedMs)}. ` +
      `Log lines: ${result.logLines.info} info, ${result.logLines.warn} warn, ${result.logLines.error} error. ` +
      `${result.machine.cpus} CPUs (${result.machine.cpuModel}), Node ${result.machine.node}.`,
  );
  for (const note of result.notes) print(`Note: ${note}.`);
  print(`${result.checks.length} checks passed, ${result.failures.length} failed.`);
}

function printAligned(print: (line: string) => void, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  print(line(header));
  for (const row of rows) print(line(row));
}

function statusSnapshot(emulator: ArmEmulator): Map<string, string> {
  return new Map(emulator.listConnections().map((c) => [c.id.toLowerCase(), c.properties.privateLinkServiceConnectionState.status]));
}

function sameStatuses(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [id, status] of a) if (b.get(id) !== status) return false;
  return true;
}

/** `count` distinct positions below `total`, by a fixed-seed partial Fisher–Yates shuffle. */
function pickPositions(total: number, count: number, seed: number): Set<number> {
  const random = mulberry32(seed);
  const positions = Array.from({ length: total }, (_, i) => i);
  for (let i = 0; i < count; i += 1) {
    const j = i + Math.floor(random() * (total - i));
    [positions[i], positions[j]] = [positions[j]!, positions[i]!];
  }
  return new Set(positions.slice(0, count));
}

/** A stable GUID for a label (hex of a simple hash, version 4 layout). */
function guid(label: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  const hex: string[] = [];
  for (let round = 0; round < 4; round += 1) {
    for (const ch of `${label}#${round}`) {
      h1 = Math.imul(h1 ^ ch.charCodeAt(0), 16_777_619) >>> 0;
      h2 = Math.imul(h2 ^ ch.charCodeAt(0), 2_246_822_519) >>> 0;
    }
    hex.push(((h1 ^ h2) >>> 0).toString(16).padStart(8, '0'));
  }
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-4${s.slice(13, 16)}-a${s.slice(17, 20)}-${s.slice(20, 32)}`;
}

function countingLogger(): Logger & { readonly counts: { info: number; warn: number; error: number } } {
  const counts = { info: 0, warn: 0, error: 0 };
  return {
    counts,
    info: () => void (counts.info += 1),
    warn: () => void (counts.warn += 1),
    error: () => void (counts.error += 1),
  };
}

function watchMemory(): { stop(): { rss: number; heap: number } } {
  const peak = { rss: 0, heap: 0 };
  const sample = () => {
    const usage = process.memoryUsage();
    peak.rss = Math.max(peak.rss, usage.rss / 1_048_576);
    peak.heap = Math.max(peak.heap, usage.heapUsed / 1_048_576);
  };
  sample();
  const timer = setInterval(sample, 250);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { ...peak };
    },
  };
}

const round = (value: number) => Math.round(value * 100) / 100;
const fmtS = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function parseArgs(argv: readonly string[]): SweepBenchOptions {
  const options: { quick?: boolean; full?: boolean; runs?: number; concurrency?: number; resources?: number } = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    const value = () => {
      const next = Number(argv[(i += 1)]);
      if (!Number.isInteger(next) || next < 1) throw new Error(`${arg} takes a positive whole number`);
      return next;
    };
    if (arg === '--quick') options.quick = true;
    else if (arg === '--full') options.full = true;
    else if (arg === '--runs') options.runs = value();
    else if (arg === '--concurrency') options.concurrency = value();
    else if (arg === '--resources') options.resources = value();
    else throw new Error(`Unknown argument ${arg}; use --quick, --full, --runs N, --concurrency N, --resources N`);
  }
  return options;
}

if (process.argv[1] && /bench[\\/]sweep\.ts$/.test(process.argv[1])) {
  runSweepBench(parseArgs(process.argv.slice(2))).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
