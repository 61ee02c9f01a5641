/**
 * `npm run bench:startup`: cold import time and memory of the deployable bundle against the
 * unbundled tsc build, each in fresh Node processes, interleaved so that both see the same
 * machine load. Two paths apiece:
 *
 *   non-Teams   import the entry point (what resourceEvents, audit, rules, sweep start with)
 *   Teams       import, then one /api/messages call, which loads the Teams SDK
 *
 * Reported as medians and as ratios to the tsc build measured in the same run.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEPLOY_DIR, buildDeployment } from '../scripts/build.js';
import { probeColdStart, type ProbeResult } from '../test/fixtures/worker-probe.js';

const root = join(__dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 9);

interface Sample {
  readonly importMs: number;
  readonly importRssMiB: number;
  readonly teamsMs: number;
  readonly teamsRssMiB: number;
}

async function main(): Promise<void> {
  await buildDeployment();
  const tscDir = join(root, 'dist', 'bench-tsc');
  rmSync(tscDir, { recursive: true, force: true });
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root, '--outDir', tscDir, '--sourceMap', 'false'], { stdio: 'inherit' });

  const targets = { bundle: join(DEPLOY_DIR, 'index.mjs'), tsc: join(tscDir, 'functions', 'index.js') };
  const samples: Record<keyof typeof targets, Sample[]> = { bundle: [], tsc: [] };
  for (let i = 0; i < RUNS; i++) {
    for (const [name, entry] of Object.entries(targets) as [keyof typeof targets, string][]) {
      const plain = await probeColdStart(entry);
      const teams = await probeColdStart(entry, { teams: true });
      samples[name].push(sample(plain, teams));
    }
  }
  const result = {
    node: process.version,
    runs: RUNS,
    bundle: summarize(samples.bundle),
    tsc: summarize(samples.tsc),
    ratio: {
      importMs: round(median(samples.bundle.map((s) => s.importMs)) / median(samples.tsc.map((s) => s.importMs))),
      teamsMs: round(median(samples.bundle.map((s) => s.teamsMs)) / median(samples.tsc.map((s) => s.teamsMs))),
      importRssMiB: round(median(samples.bundle.map((s) => s.importRssMiB)) / median(samples.tsc.map((s) => s.importRssMiB))),
      teamsRssMiB: round(median(samples.bundle.map((s) => s.teamsRssMiB)) / median(samples.tsc.map((s) => s.teamsRssMiB))),
    },
  };
  mkdirSync(join(root, 'bench', 'results'), { recursive: true });
  writeFileSync(join(root, 'bench', 'results', `startup-node${process.versions.node.split('.')[0]}.json`), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`Cold start, median of ${RUNS} fresh processes each (${process.version}):`);
  console.log('                      bundle        tsc build     bundle/tsc');
  console.log(`non-Teams import      ${fmt(result.bundle.importMs, 'ms')}  ${fmt(result.tsc.importMs, 'ms')}  ${result.ratio.importMs}`);
  console.log(`non-Teams RSS         ${fmt(result.bundle.importRssMiB, 'MiB')}  ${fmt(result.tsc.importRssMiB, 'MiB')}  ${result.ratio.importRssMiB}`);
  console.log(`Teams import + call   ${fmt(result.bundle.teamsMs, 'ms')}  ${fmt(result.tsc.teamsMs, 'ms')}  ${result.ratio.teamsMs}`);
  console.log(`Teams RSS             ${fmt(result.bundle.teamsRssMiB, 'MiB')}  ${fmt(result.tsc.teamsRssMiB, 'MiB')}  ${result.ratio.teamsRssMiB}`);
}

function sample(plain: ProbeResult, teams: ProbeResult): Sample {
  if (teams.teamsMs === undefined || teams.teamsRssMiB === undefined || teams.messages?.status !== 400) {
    throw new Error(`The Teams path did not answer as expected: ${JSON.stringify(teams.messages)}`);
  }
  return { importMs: plain.importMs, importRssMiB: plain.importRssMiB, teamsMs: teams.teamsMs, teamsRssMiB: teams.teamsRssMiB };
}

function summarize(samples: Sample[]) {
  return {
    importMs: round(median(samples.map((s) => s.importMs))),
    importRssMiB: round(median(samples.map((s) => s.importRssMiB))),
    teamsMs: round(median(samples.map((s) => s.teamsMs))),
    teamsRssMiB: round(median(samples.map((s) => s.teamsRssMiB))),
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const round = (value: number) => Math.round(value * 100) / 100;
const fmt = (value: number, unit: string) => `${value.toFixed(1)} ${unit}`.padEnd(12);

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
