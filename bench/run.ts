/**
 * `npm run bench`: every benchmark scenario (bench/scenarios/index.ts) in one process, in
 * SCENARIO_ORDER, into one table. Every figure is a ratio against a baseline measured in the same
 * run (a floor, the other build, the per-resource listing, what was returned); absolute values
 * are printed beside the ratios and never asserted. A failed check (a lost card, a wrong count)
 * fails the run; a missed goal is reported with its reason and does not.
 *
 *   npm run bench                          every scenario, full size, 3 runs (bench/results.json)
 *   npm run bench -- --quick               a tenth of every size, 1 run (bench/results-quick.json)
 *   npm run bench -- --runs 5              medians of 5 runs
 *   npm run bench -- --only sweep,cold-start
 *   npm run bench -- --write-readme        also rewrite the results section of bench/README.md
 *
 * With --only, the scenarios not run keep their figures from the results file, each with the date
 * and runs it was taken with (`taken`).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fmtMs, fmtRatio, rssMiB, type BenchRow, type BenchScenario, type ScenarioName, type ScenarioResult } from './lib/report.js';
import { SCENARIOS } from './scenarios/index.js';

export const SCENARIO_ORDER: readonly ScenarioName[] = ['overhead', 'burst', 'sweep', 'audit-query', 'cold-start', 'review-burst'];

const BENCH_DIR = __dirname;
const README = join(BENCH_DIR, 'README.md');
export const RESULTS_START = '<!-- results:start -->';
export const RESULTS_END = '<!-- results:end -->';

export interface RunBenchOptions {
  /** A tenth of every size, 1 run unless `runs` says otherwise. */
  readonly quick?: boolean;
  /** Repetitions whose median is reported (default 3; quick 1). */
  readonly runs?: number;
  /** Scenario names to run (default: every registered one). */
  readonly only?: readonly string[];
  /** Where the table and progress go (default console.log). */
  readonly print?: (line: string) => void;
  /** Write bench/results.json (quick: bench/results-quick.json); default true. */
  readonly write?: boolean;
  /** Rewrite the generated section of bench/README.md; default false. */
  readonly writeReadme?: boolean;
  /** The scenarios to choose from (default: bench/scenarios/index.ts). */
  readonly scenarios?: readonly BenchScenario[];
}

export interface Machine {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly node: string;
  readonly platform: string;
}

export interface BenchResults {
  readonly date: string;
  readonly machine: Machine;
  readonly mode: 'full' | 'quick';
  readonly runs: number;
  /** RSS of the runner once every scenario module is loaded, before any scenario ran, MiB. */
  readonly rssIdleMiB: number;
  /** Scenarios run this time (the others, with --only, were kept from the results file). */
  readonly ran: readonly ScenarioName[];
  readonly scenarios: readonly ScenarioResult[];
  /** When and with how many runs each scenario's figures were taken. */
  readonly taken: Readonly<Partial<Record<ScenarioName, { readonly date: string; readonly runs: number }>>>;
  /** Scenarios that ended with an error instead of a result (this run). */
  readonly errors: readonly { readonly scenario: ScenarioName; readonly message: string }[];
  readonly failedChecks: readonly { readonly scenario: ScenarioName; readonly what: string }[];
  readonly missedGoals: readonly { readonly scenario: ScenarioName; readonly what: string; readonly why: string }[];
}

export async function runBench(options: RunBenchOptions = {}): Promise<BenchResults> {
  const print = options.print ?? ((line: string) => console.log(line));
  const quick = options.quick ?? false;
  const runs = options.runs ?? (quick ? 1 : 3);
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError('runs must be a positive whole number');
  const registry = options.scenarios ?? SCENARIOS;
  const selected = select(registry, options.only);
  const rssIdleMiB = rssMiB();
  const date = new Date().toISOString();
  print(`Benchmarks (${quick ? 'quick' : 'full'}, ${runs} run${runs === 1 ? '' : 's'}): ${selected.map((s) => s.name).join(', ')}; RSS idle ${rssIdleMiB} MiB`);

  const results: ScenarioResult[] = [];
  const errors: { scenario: ScenarioName; message: string }[] = [];
  for (const scenario of selected) {
    const started = performance.now();
    print('');
    print(`── ${scenario.name} ──`);
    try {
      results.push(await scenario.run({ quick, runs, print }));
      print(`${scenario.name}: done in ${fmtMs(performance.now() - started)}`);
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      errors.push({ scenario: scenario.name, message });
      print(`${scenario.name}: ended with an error: ${message}`);
    }
  }

  const mode = quick ? 'quick' : 'full';
  const file = join(BENCH_DIR, quick ? 'results-quick.json' : 'results.json');
  const taken: Partial<Record<ScenarioName, { date: string; runs: number }>> = {};
  for (const r of results) taken[r.name] = { date, runs };
  let all = results;
  if (options.only !== undefined && (options.write ?? true) && existsSync(file)) {
    // Keep what an earlier run measured for the scenarios not run now.
    const previous = JSON.parse(readFileSync(file, 'utf8')) as Partial<BenchResults>;
    const kept = (previous.scenarios ?? []).filter((s) => !results.some((r) => r.name === s.name) && !errors.some((e) => e.scenario === s.name));
    for (const s of kept) taken[s.name] = previous.taken?.[s.name] ?? { date: previous.date ?? 'unknown', runs: previous.runs ?? 0 };
    all = [...results, ...kept];
  }
  all = [...all].sort((a, b) => SCENARIO_ORDER.indexOf(a.name) - SCENARIO_ORDER.indexOf(b.name));

  const bench: BenchResults = {
    date,
    machine: machine(),
    mode,
    runs,
    rssIdleMiB,
    ran: results.map((r) => r.name),
    scenarios: all,
    taken,
    errors,
    failedChecks: [
      ...all.flatMap((s) => s.checks.filter((c) => !c.ok).map((c) => ({ scenario: s.name, what: c.what }))),
      ...errors.map((e) => ({ scenario: e.scenario, what: `the scenario finished (${firstLine(e.message)})` })),
    ],
    missedGoals: all.flatMap((s) => s.goals.filter((g) => !g.met).map((g) => ({ scenario: s.name, what: g.what, why: g.why ?? 'no reason given' }))),
  };

  print('');
  for (const line of terminalReport(bench)) print(line);
  if (options.write ?? true) {
    writeFileSync(file, `${JSON.stringify(bench, null, 2)}\n`);
    print(`Figures written to ${file}.`);
  }
  if (options.writeReadme) {
    writeReadme(bench);
    print(`Results section of ${README} rewritten.`);
  }
  return bench;
}

/** The registered scenarios named by `only` (all when absent), in SCENARIO_ORDER. */
function select(registry: readonly BenchScenario[], only: readonly string[] | undefined): BenchScenario[] {
  if (only !== undefined) {
    for (const name of only) {
      if (!(SCENARIO_ORDER as readonly string[]).includes(name)) throw new Error(`Unknown scenario '${name}'; known: ${SCENARIO_ORDER.join(', ')}`);
      if (!registry.some((s) => s.name === name)) throw new Error(`Scenario '${name}' is not registered in bench/scenarios/index.ts`);
    }
  }
  return registry.filter((s) => only === undefined || only.includes(s.name)).sort((a, b) => SCENARIO_ORDER.indexOf(a.name) - SCENARIO_ORDER.indexOf(b.name));
}

function machine(): Machine {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model.trim() ?? 'unknown', node: process.version, platform: `${process.platform}-${process.arch}` };
}

const HEADER = ['scenario', 'figure', 'value', 'baseline', 'ratio', 'goal', 'met'] as const;

/** The table's cells: the scenario's rows, then its RSS against the runner's idle RSS. */
function tableRows(bench: BenchResults): string[][] {
  const cells: string[][] = [];
  for (const s of bench.scenarios) {
    const rows: BenchRow[] = [...s.rows, { figure: 'RSS after the scenario', value: `${s.rssMiB.toFixed(0)} MiB`, baseline: `${bench.rssIdleMiB.toFixed(0)} MiB idle`, ratio: s.rssMiB / bench.rssIdleMiB }];
    rows.forEach((row, i) => {
      cells.push([i === 0 ? s.name : '', row.figure, row.value, row.baseline, row.ratio === undefined ? '' : fmtRatio(row.ratio), row.goal ?? '', row.met === undefined ? '' : row.met ? 'yes' : 'NO']);
    });
  }
  return cells;
}

function machineLine(bench: BenchResults): string {
  const m = bench.machine;
  return `${bench.date.slice(0, 10)}, ${bench.mode} mode, ${m.cpus} CPUs (${m.cpuModel}), Node ${m.node.replace(/^v/, '')}, ${m.platform}; RSS idle ${bench.rssIdleMiB.toFixed(0)} MiB`;
}

/** Scenarios whose figures are from another run than the file's date (an --only run kept them). */
function takenNotes(bench: BenchResults): string[] {
  return bench.scenarios.map((s) => ({ name: s.name, taken: bench.taken[s.name] })).map(({ name, taken }) => `${name}: ${taken ? `${taken.date.slice(0, 16).replace('T', ' ')} UTC, ${taken.runs} run${taken.runs === 1 ? '' : 's'}` : 'unknown'}`);
}

export function terminalReport(bench: BenchResults): string[] {
  const cells = tableRows(bench);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...cells.map((r) => [...(r[i] ?? '')].length)));
  const line = (row: readonly string[]) => row.map((c, i) => c + ' '.repeat(widths[i]! - [...c].length)).join('  ').trimEnd();
  const out = [`Benchmarks: ${machineLine(bench)}`, '', line(HEADER), line(widths.map((w) => '─'.repeat(w)))];
  let previous = '';
  for (const row of cells) {
    if (row[0] !== '' && previous !== '') out.push('');
    out.push(line(row));
    previous = row[0] || previous;
  }
  out.push('', `Figures taken: ${takenNotes(bench).join('; ')}.`);
  out.push(`Wall time: ${bench.scenarios.map((s) => `${s.name} ${fmtMs(s.wallMs)}`).join(', ')}.`);
  const goals = bench.scenarios.flatMap((s) => s.goals);
  out.push('', `Goals: ${goals.filter((g) => g.met).length} met, ${goals.filter((g) => !g.met).length} missed.`);
  for (const g of goals) {
    out.push(`  ${g.met ? 'met   ' : 'MISSED'}  ${g.what}`);
    if (!g.met) out.push(`          why: ${g.why ?? 'no reason given'}`);
  }
  const checks = bench.scenarios.flatMap((s) => s.checks);
  out.push('', `Checks: ${checks.filter((c) => c.ok).length} passed, ${bench.failedChecks.length} failed.`);
  for (const f of bench.failedChecks) out.push(`  FAILED  ${f.scenario}: ${f.what}`);
  return out;
}

/** The generated section of bench/README.md: the table, the machine and date, the missed goals and why. */
export function readmeSection(bench: BenchResults): string {
  const esc = (text: string) => text.replace(/\|/g, '\\|');
  const lines = [
    RESULTS_START,
    '<!-- Generated by `npm run bench -- --write-readme`; edits here are overwritten. -->',
    '',
    `Measured ${machineLine(bench)}.`,
    `Figures taken: ${takenNotes(bench).join('; ')}.`,
    '',
    `| ${HEADER.join(' | ')} |`,
    `|${HEADER.map(() => '---').join('|')}|`,
    ...tableRows(bench).map((row) => `| ${row.map((c, i) => (i === 0 && c ? `**${esc(c)}**` : esc(c))).join(' | ')} |`),
    '',
  ];
  if (bench.missedGoals.length === 0) lines.push('Every goal was met.');
  else {
    lines.push(`Goals missed (${bench.missedGoals.length} of ${bench.scenarios.flatMap((s) => s.goals).length}), and why:`, '');
    for (const g of bench.missedGoals) lines.push(`- **${g.scenario}**: ${g.what}. ${g.why}`);
  }
  if (bench.failedChecks.length > 0) {
    lines.push('', 'Checks that failed:', '');
    for (const f of bench.failedChecks) lines.push(`- **${f.scenario}**: ${f.what}`);
  }
  lines.push('', RESULTS_END);
  return lines.join('\n');
}

/** Replaces what lies between the markers (appends them when absent); the rest is left as written. */
function writeReadme(bench: BenchResults): void {
  const text = existsSync(README) ? readFileSync(README, 'utf8') : '# Benchmarks\n';
  const start = text.indexOf(RESULTS_START);
  const end = text.indexOf(RESULTS_END);
  const section = readmeSection(bench);
  const next = start >= 0 && end > start ? `${text.slice(0, start)}${section}${text.slice(end + RESULTS_END.length)}` : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(README, next);
}

const firstLine = (text: string) => text.split('\n')[0] ?? text;

export function parseArgs(argv: readonly string[]): RunBenchOptions {
  const options: { quick?: boolean; runs?: number; only?: string[]; writeReadme?: boolean } = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--quick') options.quick = true;
    else if (arg === '--write-readme') options.writeReadme = true;
    else if (arg === '--runs') {
      const runs = Number(argv[(i += 1)]);
      if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a positive whole number');
      options.runs = runs;
    } else if (arg === '--only') {
      const names = (argv[(i += 1)] ?? '').split(',').map((n) => n.trim()).filter(Boolean);
      if (names.length === 0) throw new Error(`--only takes scenario names separated by commas (${SCENARIO_ORDER.join(', ')})`);
      options.only = names;
    } else throw new Error(`Unknown argument ${arg}; use --quick, --runs N, --only a,b, --write-readme`);
  }
  return options;
}

if (process.argv[1] && /bench[\\/]run\.ts$/.test(process.argv[1])) {
  Promise.resolve()
    .then(() => runBench(parseArgs(process.argv.slice(2))))
    .then((bench) => {
      const failed = bench.failedChecks.filter((f) => bench.ran.includes(f.scenario) || bench.errors.some((e) => e.scenario === f.scenario));
      if (failed.length > 0) process.exitCode = 1;
    })
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    });
}
