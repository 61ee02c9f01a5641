/**
 * Burst: a deployment creates private endpoints to many vaults at once. 1,000 Pending connections
 * (quick: 100) over 100 Key Vaults (quick: 10), all from the home tenant, which a rule approves. The
 * events ARM raised for the requests (the proxy validate and write of each) are delivered three
 * times each in shuffled order, in Event Grid batches of the deployment's maxEventsPerBatch, the
 * batches all at once, every event of a batch its own invocation, as the Functions host starts them.
 *
 * Baseline, in the same run on other vaults of the same shape: a bare SDK loop (bench/lib/bare.ts)
 * that lists each vault once and approves its Pending connections at the same concurrency, with the
 * same polling. Its ARM calls are the minimum the work needs; its wall time is the floor.
 *
 * Linkgate's own PUTs raise events too; they are delivered as they arrive, in batches every 50 ms,
 * and counted: Linkgate recognises them by its own object ID as the caller and reads nothing for them.
 */
import { performance } from 'node:perf_hooks';
import { parseRule } from '../../src/domain/policy/rule.js';
import { bareApprover } from '../lib/bare.js';
import { fmtMs, median, rssMiB, type BenchOptions, type BenchScenario, type ScenarioResult } from '../lib/report.js';
import { approvedIn, classifyCalls, createPendingVaults, HOME_TENANT, mulberry32, REQUESTER_SUB, RESOURCE_SUB, shuffle, startBenchStack, type BenchStack } from '../lib/stack.js';

/** The deployment's Event Grid batching (infra: maxEventsPerBatch). */
export const EVENTS_PER_BATCH = 100;
const PER_VAULT = 10;
const DELIVERIES = 3;
const PROVISIONING_MS = 400;
const VAULT_CONCURRENCY = 4;
const RESOURCE_GROUP = 'rg-burst';

interface LinkgateRun {
  readonly wallMs: number;
  readonly hints: number;
  readonly calls: ReturnType<typeof classifyCalls>;
  readonly tableRequests: number;
  readonly tableBy: Record<string, number>;
  readonly approved: number;
  readonly failedInvocations: number;
  readonly echoEvents: number;
  readonly putsPerConnection: { min: number; max: number };
  readonly listsPerResource: number;
}

interface BareRun {
  readonly wallMs: number;
  readonly calls: ReturnType<typeof classifyCalls>;
  readonly approved: number;
}

export const scenario: BenchScenario = {
  name: 'burst',
  async run(options: BenchOptions): Promise<ScenarioResult> {
    const started = performance.now();
    const vaults = options.quick ? 10 : 100;
    const connections = vaults * PER_VAULT;
    const stack = await startBenchStack({
      subscriptions: [
        { subscriptionId: RESOURCE_SUB, tenantId: HOME_TENANT, displayName: 'Vaults', visibility: 'visible' },
        { subscriptionId: REQUESTER_SUB, tenantId: HOME_TENANT, displayName: 'Requester', visibility: 'visible' },
      ],
      provisioningDelayMs: PROVISIONING_MS,
      pageSize: 100,
    });
    const runs: { linkgate: LinkgateRun; bare: BareRun }[] = [];
    try {
      for (let run = 0; run < options.runs; run += 1) {
        const order = run % 2 === 0 ? (['linkgate', 'bare'] as const) : (['bare', 'linkgate'] as const);
        let linkgate: LinkgateRun | undefined;
        let bare: BareRun | undefined;
        for (const which of order) {
          if (which === 'linkgate') linkgate = await runLinkgate(stack, run, vaults);
          else bare = await runBare(stack, run, vaults);
        }
        options.print(
          `  burst run ${run + 1}/${options.runs}: Linkgate ${fmtMs(linkgate!.wallMs)}, ${linkgate!.calls.total} ARM calls (${linkgate!.calls.connectionLists} lists), ` +
            `${linkgate!.tableRequests} Table requests; bare ${fmtMs(bare!.wallMs)}, ${bare!.calls.total} ARM calls`,
        );
        runs.push({ linkgate: linkgate!, bare: bare! });
      }
    } finally {
      await stack.close();
    }

    const m = (pick: (r: { linkgate: LinkgateRun; bare: BareRun }) => number) => median(runs.map(pick));
    const lists = m((r) => r.linkgate.listsPerResource);
    const armCalls = m((r) => r.linkgate.calls.total);
    const bareCalls = m((r) => r.bare.calls.total);
    const wall = m((r) => r.linkgate.wallMs);
    const bareWall = m((r) => r.bare.wallMs);
    const tablePerConnection = m((r) => r.linkgate.tableRequests / connections);
    const tenantLookups = m((r) => r.linkgate.calls.subscriptionReads);
    const checks = runs.flatMap((r, i) => [
      { what: `run ${i + 1}: every connection Approved (${r.linkgate.approved} of ${connections})`, ok: r.linkgate.approved === connections },
      { what: `run ${i + 1}: exactly one PUT per connection (min ${r.linkgate.putsPerConnection.min}, max ${r.linkgate.putsPerConnection.max})`, ok: r.linkgate.calls.puts === connections && r.linkgate.putsPerConnection.min === 1 && r.linkgate.putsPerConnection.max === 1 },
      { what: `run ${i + 1}: no invocation failed (${r.linkgate.failedInvocations})`, ok: r.linkgate.failedInvocations === 0 },
      { what: `run ${i + 1}: the bare loop approved every connection (${r.bare.approved})`, ok: r.bare.approved === connections },
    ]);
    const listsGoal = lists <= 1.1;
    const callsGoal = armCalls <= 1.3 * bareCalls;
    return {
      name: 'burst',
      title: `Burst: ${connections.toLocaleString('en')} Pending connections over ${vaults} vaults, each event delivered ${DELIVERIES}× shuffled`,
      size: { vaults, connections, hints: runs[0]?.linkgate.hints ?? 0, eventsPerBatch: EVENTS_PER_BATCH, provisioningMs: PROVISIONING_MS, runs: options.runs },
      rows: [
        { figure: 'list calls per vault', value: lists.toFixed(2), baseline: '1.00 (bare loop)', ratio: lists, goal: '≤ 1.1', met: listsGoal },
        { figure: 'PUTs per connection', value: `${m((r) => r.linkgate.calls.puts) / connections}`, baseline: '1', ratio: m((r) => r.linkgate.calls.puts) / connections, goal: 'exactly 1', met: runs.every((r) => r.linkgate.calls.puts === connections) },
        { figure: 'ARM calls', value: String(armCalls), baseline: `${bareCalls} (bare loop)`, ratio: armCalls / bareCalls, goal: '≤ 1.3×', met: callsGoal },
        { figure: 'tenant lookups', value: String(tenantLookups), baseline: '1 requester subscription', ratio: tenantLookups },
        { figure: "events of Linkgate's own PUTs delivered", value: String(m((r) => r.linkgate.echoEvents)), baseline: '' },
        { figure: 'Table requests per connection', value: tablePerConnection.toFixed(1), baseline: '' },
        { figure: 'wall time until all Approved', value: fmtMs(wall), baseline: `${fmtMs(bareWall)} (bare loop)`, ratio: wall / bareWall },
      ],
      checks,
      goals: [
        { what: 'burst: ≤ 1.1 list calls per vault', met: listsGoal, ...(listsGoal ? {} : { why: `${lists.toFixed(2)} list calls per vault: hints that arrive while a vault's read is in flight cause one more read after it.` }) },
        { what: 'burst: ARM calls ≤ 1.3× the bare loop', met: callsGoal, ...(callsGoal ? {} : { why: `${armCalls} ARM calls against the bare loop's ${bareCalls}.` }) },
      ],
      figures: { runs: runs.map((r) => ({ linkgate: { ...r.linkgate, calls: plainCalls(r.linkgate.calls) }, bare: { ...r.bare, calls: plainCalls(r.bare.calls) } })) },
      rssMiB: rssMiB(),
      wallMs: performance.now() - started,
    };
  },
};

async function runLinkgate(stack: BenchStack, run: number, vaults: number): Promise<LinkgateRun> {
  const { names, events } = await createPendingVaults(stack, { prefix: `kvbl${run}x`, vaults, perVault: PER_VAULT, resourceGroup: RESOURCE_GROUP });
  const services = stack.services();
  await services.rules.put(parseRule({ name: 'approve-home-tenant', priority: 10, action: 'approve', conditions: { requesterTenant: ['home'] } }));
  const random = mulberry32(0xb00 + run);
  const hints = shuffle(Array.from({ length: DELIVERIES }, () => events).flat(), random);
  const batches: Record<string, unknown>[][] = [];
  for (let i = 0; i < hints.length; i += EVENTS_PER_BATCH) batches.push(hints.slice(i, i + EVENTS_PER_BATCH));

  const callsBefore = stack.emulator.calls.length;
  stack.traffic.reset();
  const started = performance.now();
  let failed = 0;
  const deliver = async (batch: Record<string, unknown>[]) => {
    const outcomes = await Promise.allSettled(batch.map((event) => services.events.handle(event)));
    failed += outcomes.filter((o) => o.status === 'rejected').length;
  };
  // The events Linkgate's own PUTs raise reach it as well, as they arrive (every 50 ms, in a batch).
  let echoEvents = 0;
  const echoes: Promise<void>[] = [];
  const pump = () => {
    const arrived = stack.collector.take();
    echoEvents += arrived.length;
    if (arrived.length > 0) echoes.push(deliver(arrived));
  };
  const timer = setInterval(pump, 50);
  try {
    await Promise.all(batches.map(deliver));
  } finally {
    clearInterval(timer);
  }
  const wallMs = performance.now() - started;
  // The rest of those events (one per PUT): the publisher delivers them one after another, so the
  // last ones come after the burst; every one is delivered before anything is counted.
  const expected = names.length * PER_VAULT;
  for (let waited = 0; echoEvents < expected && waited < 30_000; waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    pump();
  }
  await Promise.all(echoes);
  const tableRequests = stack.traffic.total;
  const tableBy = Object.fromEntries([...stack.traffic.by].sort((a, b) => b[1] - a[1]));
  const calls = classifyCalls(stack.emulator.calls.slice(callsBefore));
  const approved = approvedIn(stack, RESOURCE_GROUP, names);
  const putCounts = [...calls.putsByConnection.values()];
  return {
    wallMs,
    hints: hints.length,
    calls,
    tableRequests,
    tableBy,
    approved,
    failedInvocations: failed,
    echoEvents,
    putsPerConnection: { min: Math.min(...putCounts), max: Math.max(...putCounts) },
    listsPerResource: calls.connectionLists / vaults,
  };
}

async function runBare(stack: BenchStack, run: number, vaults: number): Promise<BareRun> {
  const { names } = await createPendingVaults(stack, { prefix: `kvbb${run}x`, vaults, perVault: PER_VAULT, resourceGroup: RESOURCE_GROUP });
  const bare = bareApprover({ endpoint: stack.emulator.url, caPem: stack.emulator.caPem, subscriptionId: RESOURCE_SUB, pollMinMs: 100, pollMaxMs: 10_000, concurrency: VAULT_CONCURRENCY });
  const callsBefore = stack.emulator.calls.length;
  const started = performance.now();
  const results = await Promise.all(names.map((name) => bare.approveVault(RESOURCE_GROUP, name)));
  const wallMs = performance.now() - started;
  stack.collector.take();
  return { wallMs, calls: classifyCalls(stack.emulator.calls.slice(callsBefore)), approved: results.reduce((sum, r) => sum + r.approved, 0) };
}

/** The counts, without the per-connection and per-resource maps (bench/results.json holds numbers). */
function plainCalls(calls: ReturnType<typeof classifyCalls>) {
  return Object.fromEntries(Object.entries(calls).filter(([, value]) => typeof value === 'number'));
}

