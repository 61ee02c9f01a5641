/**
 * `npm run bench:startup`: the cold-start scenario alone (bench/scenarios/cold-start.ts), with
 * BENCH_RUNS samples per target (default 9), written to bench/results/startup-node<major>.json.
 * `npm run bench -- --only cold-start` measures the same within the whole benchmark.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { measureColdStart } from './scenarios/cold-start.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 9);

async function main(): Promise<void> {
  const f = await measureColdStart(RUNS, (line) => console.log(line));
  const result = { node: f.node, runs: f.samples, bundle: f.bundle, tsc: f.tsc, ratio: f.ratio };
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(join(__dirname, 'results', `startup-node${process.versions.node.split('.')[0]}.json`), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`Cold start, median of ${RUNS} fresh processes each (${process.version}):`);
  console.log('                      bundle        tsc build     bundle/tsc');
  console.log(`non-Teams import      ${fmt(f.bundle.importMs, 'ms')}  ${fmt(f.tsc.importMs, 'ms')}  ${f.ratio.importMs}`);
  console.log(`non-Teams RSS         ${fmt(f.bundle.importRssMiB, 'MiB')}  ${fmt(f.tsc.importRssMiB, 'MiB')}  ${f.ratio.importRssMiB}`);
  console.log(`Teams import + call   ${fmt(f.bundle.teamsMs, 'ms')}  ${fmt(f.tsc.teamsMs, 'ms')}  ${f.ratio.teamsMs}`);
  console.log(`Teams RSS             ${fmt(f.bundle.teamsRssMiB, 'MiB')}  ${fmt(f.tsc.teamsRssMiB, 'MiB')}  ${f.ratio.teamsRssMiB}`);
}

const fmt = (value: number, unit: string) => `${value.toFixed(1)} ${unit}`.padEnd(12);

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
