/**
 * The sweep benchmark's quick mode (bench/sweep.ts), in process: 200 resources of every registered
 * type, 12,800 connections, ARM's read bucket at a tenth (25, refilled at 25/s). Only counts are
 * asserted, never times (nor whether a 429 was given: the Table work paces the reads as well).
 */
import { describe, expect, it } from 'vitest';
import { runSweepBench, type SweepBenchResult } from '../../bench/sweep.js';

describe('bench:sweep --quick', () => {
  it('decides every Pending connection once, inventories every connection once, honours every 429', { timeout: 300_000 }, async () => {
    let result: SweepBenchResult | undefined;
    try {
      result = await runSweepBench({ quick: true, print: () => {}, writeResults: false });
    } catch (error) {
      // A failed count is reported by the benchmark itself, with every check that failed.
      expect.fail((error as Error).message);
    }
    const { scenario, runs } = result!;
    expect(scenario.connections).toBe(200 * 64);
    expect(scenario.pending).toBe(640);
    expect(runs).toHaveLength(1);
    const { graph, arm, steady } = runs[0]!;

    for (const sweep of [graph, arm]) {
      expect(sweep.errors).toBe(0);
      expect(sweep.armWrites).toBe(0);
      expect(sweep.outcomes['awaiting-review']).toBe(scenario.pending);
      const inventoried = (sweep.inventory['first-seen'] ?? 0) + (sweep.inventory['out-of-band-ignored'] ?? 0) + (sweep.inventory['out-of-band-flagged'] ?? 0);
      expect(inventoried).toBe(scenario.connections);
      expect(sweep.inventory['out-of-band-ignored']).toBe(scenario.approvedHome);
      expect(sweep.inventory['out-of-band-flagged']).toBe(scenario.approvedForeign);
      expect(sweep.inventoryEntries).toBe(scenario.connections);
      expect(sweep.unhonoured).toBe(0);
      expect(sweep.graphUnhonoured).toBe(0);
    }
    expect(graph.armReads).toBeLessThanOrEqual(arm.armReads);
    expect(graph.armReads).toBeGreaterThanOrEqual(result!.floor.reads);

    // Steady state: nothing new. Only the resources of types Resource Graph does not report
    // (PostgreSQL flexible servers, 1 in 8) are listed again; nothing is written to the inventory.
    const unreported = 200 / 8;
    expect(steady.errors).toBe(0);
    expect(steady.reread).toBe(0);
    expect(steady.resourcesListed).toBe(unreported);
    expect(steady.armReads).toBe(unreported);
    expect(steady.armWrites).toBe(0);
    expect(steady.inventoryEntries).toBe(0);
    expect(steady.inventory['unchanged']).toBeGreaterThan(0);
    expect(steady.unhonoured).toBe(0);
    expect(result!.failures).toEqual([]);
  });
});
