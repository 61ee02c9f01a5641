import type { AutomationHold } from '../domain/automation.js';
import { RuleValidationError } from '../domain/errors.js';
import { principalActor, principalDetail, type Principal } from '../domain/principal.js';
import type { AuditPort, Clock, RulesPort } from './ports.js';

/**
 * Break-glass (src/domain/automation.ts): anyone with Operate may put every automatic decision
 * on hold at once, with a reason, and lift the hold again. Both are audited with the person.
 */
export interface AutomationDeps {
  readonly rules: RulesPort;
  readonly audit: AuditPort;
  readonly clock: Clock;
}

export interface AutomationStatus {
  readonly automatic: boolean;
  readonly hold?: AutomationHold;
}

export async function automationStatus(deps: AutomationDeps): Promise<AutomationStatus> {
  const hold = await deps.rules.hold();
  return hold ? { automatic: false, hold } : { automatic: true };
}

export async function holdAutomation(deps: AutomationDeps, by: Principal, reason: string): Promise<AutomationStatus> {
  const why = requireReason(reason);
  const hold: AutomationHold = { by: { objectId: by.objectId, name: by.name }, at: deps.clock.now(), reason: why };
  await deps.audit.append({
    kind: 'admin',
    outcome: 'held',
    actor: principalActor(by),
    summary: `${by.name} put every automatic decision on hold: ${why}. Rules that say approve or reject now send requests to a person.`,
    detail: { reason: why, before: (await deps.rules.hold()) ?? null, by: principalDetail(by) },
  });
  await deps.rules.setHold(hold);
  return { automatic: false, hold };
}

export async function releaseAutomation(deps: AutomationDeps, by: Principal, reason: string): Promise<AutomationStatus> {
  const why = requireReason(reason);
  const before = await deps.rules.hold();
  if (!before) return { automatic: true };
  await deps.audit.append({
    kind: 'admin',
    outcome: 'released',
    actor: principalActor(by),
    summary: `${by.name} released the hold ${before.by.name} placed at ${before.at.toISOString()}: ${why}. Rules decide automatically again.`,
    detail: { reason: why, before, by: principalDetail(by) },
  });
  await deps.rules.setHold(undefined);
  return { automatic: true };
}

function requireReason(reason: string): string {
  const why = reason.trim();
  if (!why) throw new RuleValidationError('reason', 'is required: say why, for the audit');
  return why.slice(0, 500);
}
