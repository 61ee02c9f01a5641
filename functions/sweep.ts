import type { InvocationContext, Timer } from '@azure/functions';
import { getServices } from '../src/composition.js';
import { sweepScheduleFromEnv } from '../src/config.js';
import type { TimerFunctionSpec } from './registry.js';

/**
 * Every LINKGATE_SWEEP_INTERVAL_MINUTES (15 by default): find every connection of the watched
 * types, decide what events missed and record what Linkgate never saw (src/app/sweep.ts). The
 * sweep writes its own audit summary and log line; errors are logged one by one here as well.
 */
export async function sweepHandler(_timer: Timer, context: InvocationContext): Promise<void> {
  const report = await getServices().sweep();
  for (const { resourceId, error } of report.errors.slice(0, 50)) context.error(`Sweep error for ${resourceId}: ${error}`);
}

export const sweep: TimerFunctionSpec = {
  kind: 'timer',
  name: 'sweep',
  schedule: sweepScheduleFromEnv(),
  handler: sweepHandler,
};
