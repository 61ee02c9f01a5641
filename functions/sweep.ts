import type { InvocationContext, Timer } from '@azure/functions';
import { getServices } from '../src/composition.js';
import type { TimerFunctionSpec } from './registry.js';

/** Every five minutes: look again at resources that events may have missed. */
export async function sweepHandler(_timer: Timer, context: InvocationContext): Promise<void> {
  const report = await getServices().sweep();
  const acted = report.results.flatMap((r) => r.outcomes).filter((o) => o.outcome !== 'already-handled' && o.outcome !== 'awaiting-review');
  context.log(`Sweep: ${report.resources} resource(s), ${acted.length} connection(s) acted on, ${report.errors.length} error(s)`);
  for (const { resourceId, error } of report.errors) context.error(`Sweep error for ${resourceId}: ${error}`);
}

export const sweep: TimerFunctionSpec = {
  kind: 'timer',
  name: 'sweep',
  schedule: '0 */5 * * * *',
  handler: sweepHandler,
};
