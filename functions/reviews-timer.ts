import type { InvocationContext, Timer } from '@azure/functions';
import { getServices } from '../src/composition.js';
import type { TimerFunctionSpec } from './registry.js';

/**
 * Every minute: retry failed connections whose next attempt is due, then post owed cards (a
 * connection Linkgate gave up on among them), remind, expire, and bring stale cards up to date.
 */
export async function reviewsTimerHandler(_timer: Timer, context: InvocationContext): Promise<void> {
  const services = getServices();
  const retried = await services.retries();
  if (retried.resources > 0) context.log(`Retries: ${retried.resources} resource(s) with a failed connection due, ${retried.errors.length} error(s)`);
  for (const error of retried.errors) context.warn(`Retries: ${error}`);
  const report = await services.reviews.runTimer();
  if (report.posted + report.reminded + report.expired + report.updated + report.errors.length > 0) {
    context.log(`Reviews: ${report.posted} posted, ${report.reminded} reminded, ${report.expired} expired, ${report.updated} cards updated, ${report.errors.length} error(s)`);
  }
  for (const error of report.errors) context.warn(`Reviews: ${error}`);
}

export const reviewsTimer: TimerFunctionSpec = {
  kind: 'timer',
  name: 'reviews',
  schedule: '0 * * * * *',
  handler: reviewsTimerHandler,
};
