import type { ApprovalRecord, Versioned } from '../domain/approval.js';
import type { ApprovalsPort, Clock, Logger } from './ports.js';
import type { HintResult, Workflow } from './workflow.js';

export interface RetryReport {
  /** Resources looked at again because one of their failed records was due. */
  readonly resources: number;
  readonly results: readonly HintResult[];
  readonly errors: readonly string[];
}

export interface RetryDeps {
  readonly workflow: Workflow;
  readonly approvals: ApprovalsPort;
  readonly clock: Clock;
  readonly log: Logger;
  readonly settings: { readonly maxAttempts: number };
}

/**
 * A failed record waits until its `nextAttemptAt`; hints before then spend nothing. Nothing
 * else may come at that time (Event Grid stops redelivering an event once it was answered, and
 * the sweep runs every 5 minutes), so this runs on the minute timer and hands each resource with
 * a due record to the same workflow as an event would.
 */
export async function retryDue(deps: RetryDeps): Promise<RetryReport> {
  const now = deps.clock.now();
  const due = (await deps.approvals.listFailed()).filter((record) => isDue(record, now, deps.settings.maxAttempts));
  const resources = new Map(due.map((record) => [record.value.connection.resource.key, record.value.connection.resource]));
  const results: HintResult[] = [];
  const errors: string[] = [];
  for (const resource of resources.values()) {
    try {
      results.push(await deps.workflow.handleHint({ resource, source: 'retry' }));
    } catch (error) {
      // The failure is recorded on the record with its next time; the other resources go on.
      errors.push(`${resource.id}: ${(error as Error).message}`);
      deps.log.warn(`Retry of ${resource.id} failed: ${(error as Error).message}`);
    }
  }
  return { resources: resources.size, results, errors };
}

/** Rows written before `nextAttemptAt` existed are due at once. */
export function isDue(record: Versioned<ApprovalRecord>, now: Date, maxAttempts: number): boolean {
  const { state, attempts, nextAttemptAt } = record.value;
  return state === 'Failed' && attempts < maxAttempts && (!nextAttemptAt || nextAttemptAt <= now);
}
