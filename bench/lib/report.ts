/**
 * What every benchmark scenario hands to the runner (bench/run.ts): the rows of the terminal
 * table, the counts that must hold, the goals with a reason wherever one is missed, and the raw
 * figures for bench/results.json. Ratios are always against a baseline measured in the same run;
 * absolute values are printed beside them and never asserted.
 */

export interface BenchOptions {
  /** A tenth of the size (CI runs this and asserts counts only). */
  readonly quick: boolean;
  /** Repetitions whose median is reported (the runner's --runs; 3 by default, 1 in quick mode). */
  readonly runs: number;
  /** Progress lines (the runner prints them; tests pass `() => {}`). */
  readonly print: (line: string) => void;
}

/** One line of the terminal table and of bench/README.md. */
export interface BenchRow {
  /** What is measured: "end-to-end per connection (median)". */
  readonly figure: string;
  /** The measured value, formatted with its unit: "1,032 ms", "1.04 lists/resource". */
  readonly value: string;
  /** What it is compared with, formatted, or "" when the figure is a plain count. */
  readonly baseline: string;
  /** value ÷ baseline, when there is a baseline. */
  readonly ratio?: number;
  /** The goal as text ("≤ 1.30×", "≤ 1.1", "0"), when the issue sets one. */
  readonly goal?: string;
  readonly met?: boolean;
}

export interface BenchCheck {
  readonly what: string;
  readonly ok: boolean;
}

export interface BenchGoal {
  readonly what: string;
  readonly met: boolean;
  /** Required when not met: why, and what would close it (goes into bench/README.md). */
  readonly why?: string;
}

export interface ScenarioResult {
  readonly name: ScenarioName;
  readonly title: string;
  /** Parameters of this run: connections, resources, runs, … */
  readonly size: Readonly<Record<string, number | string>>;
  readonly rows: readonly BenchRow[];
  /** Counts that must hold (one PUT per connection, no lost card, …); the runner fails the run if any is false. */
  readonly checks: readonly BenchCheck[];
  readonly goals: readonly BenchGoal[];
  /** Every raw number, for bench/results.json. */
  readonly figures: Readonly<Record<string, unknown>>;
  /** RSS of this process right after the scenario, MiB. */
  readonly rssMiB: number;
  readonly wallMs: number;
}

export type ScenarioName = 'overhead' | 'burst' | 'sweep' | 'audit-query' | 'cold-start' | 'review-burst';

export interface BenchScenario {
  readonly name: ScenarioName;
  run(options: BenchOptions): Promise<ScenarioResult>;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function rssMiB(): number {
  return Math.round((process.memoryUsage().rss / 1_048_576) * 10) / 10;
}

export const fmtMs = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms).toLocaleString('en')} ms`);
export const fmtRatio = (ratio: number | undefined): string => (ratio === undefined || !Number.isFinite(ratio) ? '—' : `${ratio.toFixed(2)}×`);
