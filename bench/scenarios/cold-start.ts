/**
 * Cold start: the deployable bundle (scripts/build.ts, esbuild) against the unbundled tsc build of
 * the same code (functions/ and src/), each loaded in fresh Node processes with a stand-in for the
 * Functions worker (test/fixtures/worker-probe.ts), interleaved so both see the same machine load.
 * Two paths apiece:
 *
 *   non-Teams   import the entry point (what resourceEvents, audit, rules, sweep start with)
 *   Teams       import, then one /api/messages call, which loads the Teams SDK
 *
 * Samples: 3 per run and target (9 with the default 3 runs, 3 in quick mode); medians reported,
 * ratios to the tsc build measured in the same run.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Metafile } from 'esbuild';
import { buildDeployment } from '../../scripts/build.js';
import { probeColdStart, type ProbeResult } from '../../test/fixtures/worker-probe.js';
import { fmtMs, median, rssMiB, type BenchCheck, type BenchGoal, type BenchOptions, type BenchScenario, type ScenarioResult } from '../lib/report.js';

const root = join(__dirname, '..', '..');
const SAMPLES_PER_RUN = 3;
const GOAL_IMPORT_MS = 150;
const GOAL_IMPORT_RATIO = 0.2;

export interface ColdStartSample {
  readonly importMs: number;
  readonly importRssMiB: number;
  readonly teamsMs: number;
  readonly teamsRssMiB: number;
}

export interface ColdStartSummary {
  readonly importMs: number;
  readonly importRssMiB: number;
  readonly teamsMs: number;
  readonly teamsRssMiB: number;
}

export interface ColdStartFigures {
  readonly node: string;
  readonly samples: number;
  readonly bundle: ColdStartSummary;
  readonly tsc: ColdStartSummary;
  readonly ratio: ColdStartSummary;
  /** Bytes the bundle's entry loads before registering (index.mjs and the chunks it imports statically). */
  readonly bundleStartupBytes: number;
  readonly bundleTotalBytes: number;
  /** The largest packages in that closure, bytes in the output (Linkgate's own code as `Linkgate`). */
  readonly bundleStartupByPackage: Readonly<Record<string, number>>;
  readonly functions: { readonly bundle: readonly string[]; readonly tsc: readonly string[] };
  readonly raw: { readonly bundle: readonly ColdStartSample[]; readonly tsc: readonly ColdStartSample[] };
}

/** Builds both targets and probes them `samples` times each, interleaved. */
export async function measureColdStart(samples: number, print: (line: string) => void): Promise<ColdStartFigures> {
  print('cold-start: building the bundle and the tsc output…');
  // Both into folders of their own, so dist/deploy (npm run build) is left alone; the tsc output
  // stays inside the project, where Node finds node_modules for its imports.
  const bundleDir = mkdtempSync(join(tmpdir(), 'linkgate-bench-bundle-'));
  const tscDir = join(root, 'dist', `bench-tsc-${process.pid}`);
  const tsconfig = `${tscDir}.tsconfig.json`;
  try {
    const metafile = await buildDeployment(bundleDir);
    mkdirSync(tscDir, { recursive: true });
    // Only what the function app is made of: the bundle's input and nothing else.
    writeFileSync(tsconfig, JSON.stringify({ extends: '../tsconfig.json', compilerOptions: { outDir: tscDir, rootDir: '..', sourceMap: false }, include: ['../functions', '../src'] }));
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', tsconfig], { stdio: 'inherit' });

    const targets = { bundle: join(bundleDir, 'index.mjs'), tsc: join(tscDir, 'functions', 'index.js') };
    const raw: Record<keyof typeof targets, ColdStartSample[]> = { bundle: [], tsc: [] };
    const functions: Record<keyof typeof targets, string[]> = { bundle: [], tsc: [] };
    for (let i = 0; i < samples; i += 1) {
      print(`cold-start: sample ${i + 1}/${samples} (bundle, tsc; non-Teams and Teams path)…`);
      for (const [name, entry] of Object.entries(targets) as [keyof typeof targets, string][]) {
        const plain = await probeColdStart(entry);
        const teams = await probeColdStart(entry, { teams: true });
        raw[name].push(sample(plain, teams));
        functions[name] = plain.functions.map((f) => f.name).sort();
      }
    }
    return summary(samples, raw, functions, metafile);
  } finally {
    rmSync(bundleDir, { recursive: true, force: true });
    rmSync(tscDir, { recursive: true, force: true });
    rmSync(tsconfig, { force: true });
  }
}

function summary(
  samples: number,
  raw: Record<'bundle' | 'tsc', ColdStartSample[]>,
  functions: Record<'bundle' | 'tsc', string[]>,
  metafile: Metafile,
): ColdStartFigures {
  const bundle = summarize(raw.bundle);
  const tsc = summarize(raw.tsc);
  const { startup, total, startupByPackage } = bundleBytes(metafile);
  return {
    node: process.version,
    samples,
    bundle,
    tsc,
    ratio: {
      importMs: round(bundle.importMs / tsc.importMs),
      importRssMiB: round(bundle.importRssMiB / tsc.importRssMiB),
      teamsMs: round(bundle.teamsMs / tsc.teamsMs),
      teamsRssMiB: round(bundle.teamsRssMiB / tsc.teamsRssMiB),
    },
    bundleStartupBytes: startup,
    bundleTotalBytes: total,
    bundleStartupByPackage: startupByPackage,
    functions,
    raw,
  };
}

export const scenario: BenchScenario = {
  name: 'cold-start',
  async run(options: BenchOptions): Promise<ScenarioResult> {
    const started = performance.now();
    const samples = SAMPLES_PER_RUN * options.runs;
    const f = await measureColdStart(samples, options.print);
    const importMet = f.bundle.importMs < GOAL_IMPORT_MS;
    const ratioMet = f.ratio.importMs < GOAL_IMPORT_RATIO;
    const startupMiB = (f.bundleStartupBytes / 1_048_576).toFixed(2);
    const totalMiB = (f.bundleTotalBytes / 1_048_576).toFixed(1);
    const largest = Object.entries(f.bundleStartupByPackage)
      .slice(0, 5)
      .map(([name, bytes]) => `${name} ${Math.round(bytes / 1024)} KiB`)
      .join(', ');
    const checks: BenchCheck[] = [
      { what: `the bundle registers the same ${f.functions.bundle.length} functions as the tsc build`, ok: f.functions.bundle.length > 0 && f.functions.bundle.join() === f.functions.tsc.join() },
      { what: `${samples} samples per target, both paths, /api/messages answered 400 to a non-activity`, ok: f.raw.bundle.length === samples && f.raw.tsc.length === samples },
    ];
    const goals: BenchGoal[] = [
      importMet
        ? { what: `cold start (non-Teams): bundle import < ${GOAL_IMPORT_MS} ms`, met: true }
        : {
            what: `cold start (non-Teams): bundle import < ${GOAL_IMPORT_MS} ms`,
            met: false,
            why: `${fmtMs(f.bundle.importMs)} (median of ${samples}). Before registering, the entry loads ${startupMiB} MiB of the ${totalMiB} MiB bundle (largest: ${largest}). Each of these is in the entry's static import graph; only loading less before the functions register (on first use, as the Teams SDK already is) would close it.`,
          },
      ratioMet
        ? { what: `cold start (non-Teams): bundle ÷ tsc build < ${GOAL_IMPORT_RATIO}`, met: true }
        : {
            what: `cold start (non-Teams): bundle ÷ tsc build < ${GOAL_IMPORT_RATIO}`,
            met: false,
            why: `${f.ratio.importMs.toFixed(2)} (${fmtMs(f.bundle.importMs)} against ${fmtMs(f.tsc.importMs)}). Bundling removes the resolution and reading of hundreds of files, which is what the tsc build spends beyond the bundle; the code both evaluate at start (${startupMiB} MiB in the bundle) is the same, so the ratio cannot fall below the share of the tsc build's start that evaluation takes. Only evaluating less at start would lower it.`,
          },
    ];
    return {
      name: 'cold-start',
      title: `cold start, bundle vs tsc build (${samples} fresh processes each, ${f.node})`,
      size: { samples, node: f.node, bundleStartupBytes: f.bundleStartupBytes, bundleTotalBytes: f.bundleTotalBytes },
      rows: [
        {
          figure: 'non-Teams import, bundle vs tsc (median)',
          value: fmtMs(f.bundle.importMs),
          baseline: `${fmtMs(f.tsc.importMs)} tsc`,
          ratio: f.ratio.importMs,
          goal: `< ${GOAL_IMPORT_RATIO.toFixed(2)}×`,
          met: ratioMet,
        },
        { figure: 'non-Teams import, bundle (median)', value: fmtMs(f.bundle.importMs), baseline: '', goal: `< ${GOAL_IMPORT_MS} ms`, met: importMet },
        { figure: 'non-Teams RSS after import, bundle vs tsc', value: `${f.bundle.importRssMiB.toFixed(1)} MiB`, baseline: `${f.tsc.importRssMiB.toFixed(1)} MiB tsc`, ratio: f.ratio.importRssMiB },
        { figure: 'Teams path (import + first /api/messages), bundle vs tsc', value: fmtMs(f.bundle.teamsMs), baseline: `${fmtMs(f.tsc.teamsMs)} tsc`, ratio: f.ratio.teamsMs },
        { figure: 'Teams path RSS, bundle vs tsc', value: `${f.bundle.teamsRssMiB.toFixed(1)} MiB`, baseline: `${f.tsc.teamsRssMiB.toFixed(1)} MiB tsc`, ratio: f.ratio.teamsRssMiB },
      ],
      checks,
      goals,
      figures: { ...f, goals: { importMs: GOAL_IMPORT_MS, importRatio: GOAL_IMPORT_RATIO } },
      rssMiB: rssMiB(),
      wallMs: performance.now() - started,
    };
  },
};

function sample(plain: ProbeResult, teams: ProbeResult): ColdStartSample {
  if (teams.teamsMs === undefined || teams.teamsRssMiB === undefined || teams.messages?.status !== 400) {
    throw new Error(`The Teams path did not answer as expected: ${JSON.stringify(teams.messages)}`);
  }
  return { importMs: plain.importMs, importRssMiB: plain.importRssMiB, teamsMs: teams.teamsMs, teamsRssMiB: teams.teamsRssMiB };
}

function summarize(samples: readonly ColdStartSample[]): ColdStartSummary {
  return {
    importMs: round(median(samples.map((s) => s.importMs))),
    importRssMiB: round(median(samples.map((s) => s.importRssMiB))),
    teamsMs: round(median(samples.map((s) => s.teamsMs))),
    teamsRssMiB: round(median(samples.map((s) => s.teamsRssMiB))),
  };
}

/**
 * From esbuild's metafile: the bytes of the entry's static import closure (what a cold start
 * loads before registering), of every JavaScript output, and the closure's largest packages.
 */
function bundleBytes(metafile: Metafile): { startup: number; total: number; startupByPackage: Record<string, number> } {
  const outputs = metafile.outputs;
  const entry = Object.keys(outputs).find((path) => path.endsWith('/index.mjs'));
  const seen = new Set<string>();
  const visit = (path: string) => {
    const output = outputs[path];
    if (seen.has(path) || !output) return;
    seen.add(path);
    for (const i of output.imports) if (i.kind === 'import-statement' && !i.external) visit(i.path);
  };
  if (entry) visit(entry);
  const byPackage = new Map<string, number>();
  for (const path of seen) {
    for (const [input, { bytesInOutput }] of Object.entries(outputs[path]!.inputs)) {
      const name = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? 'Linkgate';
      byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
    }
  }
  const js = Object.entries(outputs).filter(([path]) => path.endsWith('.mjs'));
  return {
    startup: [...seen].reduce((sum, path) => sum + outputs[path]!.bytes, 0),
    total: js.reduce((sum, [, o]) => sum + o.bytes, 0),
    startupByPackage: Object.fromEntries([...byPackage].sort((a, b) => b[1] - a[1])),
  };
}

const round = (value: number) => Math.round(value * 100) / 100;

