/**
 * Overhead: what Linkgate adds to one auto-approved connection, end to end. 1,000 Key Vaults
 * (quick: 100) with one Pending connection each from the home tenant, which a rule approves; the
 * proxy write event of each is delivered once, ten at a time. Per connection: from the delivery
 * to the invocation's end, when the connection reads Approved and provisioning has finished.
 *
 * Baseline, in the same run on other vaults of the same shape, ten at a time: the bare SDK path
 * (bench/lib/bare.ts): list, PUT, follow the operation with the same Retry-After bounds, read once.
 * Runs alternate which goes first. Also counted: Table requests per decision, and the time from
 * the delivery to the PUT (the work before it).
 */
import { performance } from 'node:perf_hooks';
import { parseRule } from '../../src/domain/policy/rule.js';
import { bareApprover } from '../lib/bare.js';
import { fmtMs, median, rssMiB, type BenchOptions, type BenchScenario, type ScenarioResult } from '../lib/report.js';
import { approvedIn, classifyCalls, createPendingVaults, HOME_TENANT, REQUESTER_SUB, RESOURCE_SUB, type BenchStack, startBenchStack } from '../lib/stack.js';

const PROVISIONING_MS = 400;
const IN_FLIGHT = 10;
const RESOURCE_GROUP = 'rg-overhead';

interface PathRun {
  readonly latenciesMs: number[];
  readonly beforePutMs: number[];
  readonly approved: number;
  readonly armCalls: number;
  readonly puts: number;
  readonly tableRequests: number;
  readonly tableBy: Record<string, number>;
}

export const scenario: BenchScenario = {
  name: 'overhead',
  async run(options: BenchOptions): Promise<ScenarioResult> {
    const started = performance.now();
    const count = options.quick ? 100 : 1_000;
    const stack = await startBenchStack({
      subscriptions: [
        { subscriptionId: RESOURCE_SUB, tenantId: HOME_TENANT, displayName: 'Vaults', visibility: 'visible' },
        { subscriptionId: REQUESTER_SUB, tenantId: HOME_TENANT, displayName: 'Requester', visibility: 'visible' },
      ],
      provisioningDelayMs: PROVISIONING_MS,
    });
    const runs: { linkgate: PathRun; bare: PathRun }[] = [];
    try {
      for (let run = 0; run < options.runs; run += 1) {
        const order = run % 2 === 0 ? (['linkgate', 'bare'] as const) : (['bare', 'linkgate'] as const);
        const paths: Partial<Record<'linkgate' | 'bare', PathRun>> = {};
        for (const which of order) paths[which] = which === 'linkgate' ? await runLinkgate(stack, run, count) : await runBare(stack, run, count);
        const { linkgate, bare } = paths as { linkgate: PathRun; bare: PathRun };
        options.print(
          `  overhead run ${run + 1}/${options.runs}: Linkgate median ${fmtMs(median(linkgate.latenciesMs))} (before the PUT ${fmtMs(median(linkgate.beforePutMs))}), ` +
            `bare ${fmtMs(median(bare.latenciesMs))} (before the PUT ${fmtMs(median(bare.beforePutMs))}); ${(linkgate.tableRequests / count).toFixed(1)} Table requests per decision`,
        );
        runs.push({ linkgate, bare });
      }
    } finally {
      await stack.close();
    }
    const linkgateMs = median(runs.map((r) => median(r.linkgate.latenciesMs)));
    const bareMs = median(runs.map((r) => median(r.bare.latenciesMs)));
    const ratio = linkgateMs / bareMs;
    const beforePut = median(runs.map((r) => median(r.linkgate.beforePutMs)));
    const bareBeforePut = median(runs.map((r) => median(r.bare.beforePutMs)));
    const tablePerDecision = median(runs.map((r) => r.linkgate.tableRequests / count));
    const armPerConnection = median(runs.map((r) => r.linkgate.armCalls / count));
    const bareArmPerConnection = median(runs.map((r) => r.bare.armCalls / count));
    const met = ratio <= 1.3;
    const tableBy = runs[0]?.linkgate.tableBy ?? {};
    return {
      name: 'overhead',
      title: `Overhead: ${count.toLocaleString('en')} auto-approved connections, one per vault, ${IN_FLIGHT} at a time`,
      size: { connections: count, inFlight: IN_FLIGHT, provisioningMs: PROVISIONING_MS, runs: options.runs },
      rows: [
        { figure: 'end to end per connection (median)', value: fmtMs(linkgateMs), baseline: `${fmtMs(bareMs)} (bare SDK)`, ratio, goal: '≤ 1.3×', met },
        { figure: 'delivery to PUT (median)', value: fmtMs(beforePut), baseline: `${fmtMs(bareBeforePut)} (bare SDK)`, ratio: beforePut / Math.max(bareBeforePut, 0.001) },
        { figure: 'ARM calls per connection', value: armPerConnection.toFixed(2), baseline: `${bareArmPerConnection.toFixed(2)} (bare SDK)`, ratio: armPerConnection / bareArmPerConnection },
        { figure: 'Table requests per decision', value: tablePerDecision.toFixed(1), baseline: '' },
      ],
      checks: runs.flatMap((r, i) => [
        { what: `run ${i + 1}: every connection Approved (${r.linkgate.approved} of ${count})`, ok: r.linkgate.approved === count },
        { what: `run ${i + 1}: one PUT per connection (${r.linkgate.puts} for ${count})`, ok: r.linkgate.puts === count },
        { what: `run ${i + 1}: the bare path approved every connection (${r.bare.approved})`, ok: r.bare.approved === count },
      ]),
      goals: [
        {
          what: 'overhead: ≤ 1.3× the bare SDK path (median)',
          met,
          ...(met ? {} : { why: `${ratio.toFixed(2)}× the bare SDK path; Table requests per decision: ${Object.entries(tableBy).map(([k, n]) => `${k} ${n}`).join(', ')}.` }),
        },
      ],
      figures: { runs: runs.map((r) => ({ linkgate: summary(r.linkgate), bare: summary(r.bare) })), tableRequestsByKind: tableBy },
      rssMiB: rssMiB(),
      wallMs: performance.now() - started,
    };
  },
};

function summary(run: PathRun) {
  return { medianMs: median(run.latenciesMs), beforePutMs: median(run.beforePutMs), approved: run.approved, armCalls: run.armCalls, puts: run.puts, tableRequests: run.tableRequests };
}

async function runLinkgate(stack: BenchStack, run: number, count: number): Promise<PathRun> {
  const { names, events: raised } = await createPendingVaults(stack, { prefix: `kvol${run}x`, vaults: count, perVault: 1, resourceGroup: RESOURCE_GROUP });
  // One hint per connection: the proxy write (the request itself).
  const events = raised.filter((e) => /privateEndpointConnectionProxies\/write$/i.test(String((e['data'] as { operationName?: string } | undefined)?.operationName ?? '')));
  const services = stack.services();
  await services.rules.put(parseRule({ name: 'approve-home-tenant', priority: 10, action: 'approve', conditions: { requesterTenant: ['home'] } }));
  const callsBefore = stack.emulator.calls.length;
  stack.traffic.reset();
  const latenciesMs: number[] = [];
  const beforePutMs: number[] = [];
  const startedAt = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < events.length; i = next++) {
      const event = events[i]!;
      const vault = names[i]!;
      const t0 = performance.now();
      startedAt.set(vault.toLowerCase(), Date.now());
      const result = await services.events.handle(event);
      if (result.kind !== 'handled' || !result.result.outcomes.some((o) => o.outcome === 'approved')) throw new Error(`${vault}: not approved (${JSON.stringify(result)})`);
      latenciesMs.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const tableRequests = stack.traffic.total;
  const tableBy = Object.fromEntries([...stack.traffic.by].sort((a, b) => b[1] - a[1]));
  const made = stack.emulator.calls.slice(callsBefore);
  for (const call of made) {
    if (call.method !== 'PUT') continue;
    const vault = /\/vaults\/([^/]+)\//i.exec(call.path)?.[1]?.toLowerCase();
    const t0 = vault ? startedAt.get(vault) : undefined;
    if (t0 !== undefined) beforePutMs.push(call.at.getTime() - t0);
  }
  const calls = classifyCalls(made);
  const approved = approvedIn(stack, RESOURCE_GROUP, names);
  return { latenciesMs, beforePutMs, approved, armCalls: calls.total, puts: calls.puts, tableRequests, tableBy };
}

async function runBare(stack: BenchStack, run: number, count: number): Promise<PathRun> {
  const { names } = await createPendingVaults(stack, { prefix: `kvob${run}x`, vaults: count, perVault: 1, resourceGroup: RESOURCE_GROUP });
  const bare = bareApprover({ endpoint: stack.emulator.url, caPem: stack.emulator.caPem, subscriptionId: RESOURCE_SUB, pollMinMs: 100, pollMaxMs: 10_000, concurrency: 1 });
  const callsBefore = stack.emulator.calls.length;
  const latenciesMs: number[] = [];
  const beforePutMs: number[] = [];
  let approved = 0;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < names.length; i = next++) {
      const result = await bare.approveVault(RESOURCE_GROUP, names[i]!);
      approved += result.approved;
      latenciesMs.push(...result.latenciesMs);
      beforePutMs.push(...result.beforePutMs);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const calls = classifyCalls(stack.emulator.calls.slice(callsBefore));
  stack.collector.take();
  return { latenciesMs, beforePutMs, approved, armCalls: calls.total, puts: calls.puts, tableRequests: 0, tableBy: {} };
}

