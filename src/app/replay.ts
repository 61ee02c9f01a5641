import type { AuditPort, ApprovalsPort, Clock } from './ports.js';
import type { ConnectionOutcome } from './steps.js';
import type { Workflow } from './workflow.js';
import { principalActor, principalDetail, type Principal } from '../domain/principal.js';
import { parseConnectionId } from '../domain/resource-id.js';
import { auditContext } from './steps.js';

/**
 * An operator's replay of one connection (role Operate): Linkgate reads its resource again now,
 * exactly as a hint would, through the same steps and guarantees. A connection that failed gets
 * its attempts back first, so one that Linkgate gave up on (or is waiting out its retry spacing)
 * is tried again at once, for example after the operator fixed the permission that was missing.
 * It never decides by itself: the rules, the reviews and the hold still do.
 */
export interface ReplayDeps {
  readonly approvals: ApprovalsPort;
  readonly audit: AuditPort;
  readonly clock: Clock;
  readonly workflow: Workflow;
}

export interface ReplayResult {
  readonly connectionId: string;
  /** True when a failed record's attempts were given back. */
  readonly attemptsReset: boolean;
  /** What the replay did to this connection; `not-pending` when it was no longer Pending or gone. */
  readonly outcome: ConnectionOutcome | 'not-pending';
}

export async function replayConnection(deps: ReplayDeps, by: Principal, connectionId: string): Promise<ReplayResult> {
  const ref = parseConnectionId(connectionId);
  const record = await deps.approvals.get(ref);
  let attemptsReset = false;
  if (record?.value.state === 'Failed') {
    // The retry spacing goes with the attempts: the next look is this one.
    attemptsReset = (await deps.approvals.replace({ ...record.value, attempts: 0, nextAttemptAt: undefined, updatedAt: deps.clock.now() }, record.etag)).kind === 'replaced';
  }
  await deps.audit.append({
    kind: 'admin',
    outcome: 'received',
    actor: principalActor(by),
    summary: `${by.name} replayed ${ref.name}${attemptsReset ? `, giving back its ${record?.value.attempts ?? 0} failed attempt(s)` : ''}.`,
    ...(record ? auditContext(record.value) : { connectionId: ref.key, resourceId: ref.resource.key }),
    detail: { by: principalDetail(by), state: record?.value.state ?? null, attemptsReset, lastError: record?.value.lastError ?? null },
  });
  const result = await deps.workflow.handleHint({ resource: ref.resource, source: 'manual' });
  const outcome = result.outcomes.find((o) => o.connectionId.toLowerCase() === ref.id.toLowerCase())?.outcome ?? 'not-pending';
  return { connectionId: ref.id, attemptsReset, outcome };
}
