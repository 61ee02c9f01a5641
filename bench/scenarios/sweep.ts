/**
 * The sweep at scale: bench/sweep.ts (the ARM emulator with ARM's read bucket and Resource Graph's
 * quota enforced, Azurite, Linkgate's services in one process), reported against its floor, the
 * fewest ARM reads re-reading the Pending connections needs and the time the read bucket allows
 * for them, and against the per-resource listing measured in the same run.
 *
 * Sizes: quick is bench/sweep.ts's --quick (200 resources, 12,800 connections, read bucket 25 at
 * 25/s); full is its default, 300 resources and 19,200 connections with ARM's bucket of 250 at
 * 25/s. The 2,000 resources (`npm run bench:sweep -- --full`) do not finish in reasonable
 * time on this machine: every connection costs Table Storage requests against the in-process
 * Azurite, whose queries slow down as its tables grow (README.md, "What the sweep costs").
 */
import { performance } from 'node:perf_hooks';
import { runSweepBench } from '../sweep.js';
import { fmtMs, median, rssMiB, type BenchCheck, type BenchGoal, type BenchOptions, type BenchScenario, type ScenarioResult } from '../lib/report.js';

const GOAL_RATIO = 1.2;

export const scenario: BenchScenario = {
  name: 'sweep',
  async run(options: BenchOptions): Promise<ScenarioResult> {
    const started = performance.now();
    const result = await runSweepBench({ quick: options.quick, runs: options.runs, print: options.print, writeResults: false, throwOnFailure: false });
    const { scenario: size, floor, runs } = result;
    const graphMs = median(runs.map((r) => r.graph.wallMs));
    const listingMs = median(runs.map((r) => r.arm.wallMs));
    const graphReads = median(runs.map((r) => r.graph.armReads));
    const listingReads = median(runs.map((r) => r.arm.armReads));
    const steadyReads = median(runs.map((r) => r.steady.armReads));
    const armSpanMs = median(runs.map((r) => r.graph.armSpanMs));
    const tableRequests = median(runs.map((r) => r.graph.tableRequests));
    const unhonoured = runs.reduce((sum, r) => sum + [r.graph, r.arm, r.steady].reduce((s, f) => s + f.unhonoured + f.graphUnhonoured, 0), 0);
    const throttled = runs.reduce((sum, r) => sum + [r.graph, r.arm, r.steady].reduce((s, f) => s + f.throttled + f.graphThrottled, 0), 0);
    const floorMs = Math.max(floor.oneBucketMs, 1);
    const wallRatio = graphMs / floorMs;
    const wallMet = wallRatio <= GOAL_RATIO;

    const checks: BenchCheck[] = [...result.checks.map((what) => ({ what, ok: true })), ...result.failures.map((what) => ({ what, ok: false }))];
    checks.push({ what: `0 unhonoured 429s in every sweep (got ${unhonoured})`, ok: unhonoured === 0 });
    const goals: BenchGoal[] = [
      wallMet
        ? { what: `sweep: Resource Graph sweep within ${GOAL_RATIO}× the read bucket's floor`, met: true }
        : {
            what: `sweep: Resource Graph sweep within ${GOAL_RATIO}× the read bucket's floor`,
            met: false,
            why:
              `${fmtMs(graphMs)} against a floor of ${fmtMs(floor.oneBucketMs)} (${wallRatio.toFixed(1)}×). ARM is not what takes the time: the sweep's ${graphReads} ARM reads are at the floor's ${floor.reads} ` +
              `(plus tenant lookups and flagged approvals) with ${throttled} 429s. The wall time is Table Storage work against the in-process Azurite: ${tableRequests.toLocaleString('en')} requests ` +
              `(${(tableRequests / size.pending).toFixed(1)} per Pending decision) for recording every connection and deciding every Pending one, which also spaces the reads out (the last ARM call came ${fmtMs(armSpanMs)} in). ` +
              `Fewer Table requests per decision is what closes it (README.md, "What the sweep costs").`,
          },
      unhonoured === 0 ? { what: 'sweep: 0 unhonoured 429s', met: true } : { what: 'sweep: 0 unhonoured 429s', met: false, why: `${unhonoured} requests were sent again before their Retry-After had passed.` },
    ];
    return {
      name: 'sweep',
      title: `sweep of ${size.connections.toLocaleString('en')} connections on ${size.resources} resources (bench/sweep.ts, ${size.mode} size)`,
      size: {
        mode: size.mode,
        resources: size.resources,
        connections: size.connections,
        pending: size.pending,
        readBucket: `${size.readBucket.capacity} at ${size.readBucket.refillPerSecond}/s`,
        graphQuota: `${size.graphQuota.queries} per ${size.graphQuota.windowMs / 1000} s`,
        concurrency: size.concurrency,
        runs: runs.length,
      },
      rows: [
        { figure: 'Resource Graph sweep wall time vs floor (median)', value: fmtMs(graphMs), baseline: `${fmtMs(floor.oneBucketMs)} floor`, ratio: wallRatio, goal: `≤ ${GOAL_RATIO.toFixed(2)}×`, met: wallMet },
        { figure: 'Resource Graph sweep vs per-resource listing, wall time', value: fmtMs(graphMs), baseline: `${fmtMs(listingMs)} listing`, ratio: graphMs / Math.max(listingMs, 1) },
        { figure: 'ARM reads, Resource Graph sweep vs floor', value: String(graphReads), baseline: `${floor.reads} floor`, ratio: graphReads / Math.max(floor.reads, 1) },
        { figure: 'ARM reads, per-resource listing vs floor', value: String(listingReads), baseline: `${floor.reads} floor`, ratio: listingReads / Math.max(floor.reads, 1) },
        { figure: 'ARM reads, steady state vs listing', value: String(steadyReads), baseline: `${listingReads} listing`, ratio: steadyReads / Math.max(listingReads, 1) },
        { figure: 'unhonoured 429s (every sweep)', value: String(unhonoured), baseline: `${throttled} 429s`, goal: '0', met: unhonoured === 0 },
        { figure: 'Table requests per Pending decision (Resource Graph sweep)', value: `${tableRequests.toLocaleString('en')} requests`, baseline: `${size.pending} decisions`, ratio: tableRequests / Math.max(size.pending, 1) },
      ],
      checks,
      goals,
      figures: { ...result, goalRatio: GOAL_RATIO },
      rssMiB: rssMiB(),
      wallMs: performance.now() - started,
    };
  },
};
