/**
 * Every benchmark scenario the runner (bench/run.ts) knows. Each module exports
 * `scenario: BenchScenario`; list it here and the runner runs it in its place in SCENARIO_ORDER
 * (bench/run.ts), whatever the order of this list.
 */
import type { BenchScenario } from '../lib/report.js';
import { scenario as auditQuery } from './audit-query.js';
import { scenario as burst } from './burst.js';
import { scenario as coldStart } from './cold-start.js';
import { scenario as overhead } from './overhead.js';
import { scenario as reviewBurst } from './review-burst.js';
import { scenario as sweep } from './sweep.js';

export const SCENARIOS: readonly BenchScenario[] = [overhead, burst, sweep, auditQuery, coldStart, reviewBurst];
