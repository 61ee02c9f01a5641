/**
 * `npm run bench -- --quick`, in process, for the scenarios listed here: every check the
 * scenarios make must hold, and the sizes and counts must be the quick ones. Only counts are
 * asserted, never times, ratios or goals (a missed goal is a finding, not a failure).
 */
import { describe, expect, it } from 'vitest';
import { runBench } from '../../bench/run.js';
import type { ScenarioResult } from '../../bench/lib/report.js';

describe('npm run bench -- --quick', () => {
  it('runs the scenarios with every check holding and the quick counts', { timeout: 600_000 }, async () => {
    // Act
    const bench = await runBench({ quick: true, print: () => {}, write: false });

    // Assess
    expect(bench.errors.map((e) => `${e.scenario}: ${e.message}`)).toEqual([]);
    expect(bench.failedChecks).toEqual([]);
    expect(bench.mode).toBe('quick');
    expect(bench.runs).toBe(1);
    expect(bench.scenarios.map((s) => s.name)).toEqual(['overhead', 'burst', 'sweep', 'audit-query', 'cold-start', 'review-burst']);
    const by = (name: ScenarioResult['name']) => bench.scenarios.find((s) => s.name === name)!;
    for (const s of bench.scenarios) {
      expect(s.checks.length).toBeGreaterThan(0);
      expect(s.rows.length).toBeGreaterThan(0);
      for (const g of s.goals) if (!g.met) expect(g.why).toBeTruthy();
    }

    // Overhead and burst: every connection approved with exactly one PUT (the scenarios' checks), at a tenth of the size.
    expect(by('overhead').size).toMatchObject({ connections: 100 });
    const hints = by('burst');
    expect(hints.size).toMatchObject({ vaults: 10, connections: 100 });
    const [hintRun] = hints.figures['runs'] as Array<{ linkgate: { approved: number; calls: { puts: number }; putsPerConnection: { min: number; max: number }; failedInvocations: number } }>;
    expect(hintRun!.linkgate).toMatchObject({ approved: 100, calls: expect.objectContaining({ puts: 100 }), putsPerConnection: { min: 1, max: 1 }, failedInvocations: 0 });

    const sweep = by('sweep');
    expect(sweep.size).toMatchObject({ mode: 'quick', resources: 200, connections: 12_800, pending: 640, runs: 1 });

    const audit = by('audit-query');
    expect(audit.size).toMatchObject({ entries: 10_000, resources: 20 });
    const shapes = audit.figures['shapes'] as Array<{ returned: number; expected: number; sameEntries: boolean }>;
    expect(shapes.length).toBeGreaterThanOrEqual(10);
    for (const shape of shapes) {
      expect(shape.returned).toBe(shape.expected);
      expect(shape.sameEntries).toBe(true);
    }

    expect(by('cold-start').size).toMatchObject({ samples: 3 });

    const burst = by('review-burst');
    expect(burst.size).toMatchObject({ cards: 20 });
    const runs = burst.figures['runs'] as Array<{ posted: number; distinct: number; audited: number }>;
    expect(runs).toEqual([expect.objectContaining({ posted: 20, distinct: 20, audited: 20 })]);
  });
});
