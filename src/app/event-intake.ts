import { systemActor } from '../domain/audit.js';
import type { AuditPort, Intake } from './ports.js';
import type { HintResult, Workflow } from './workflow.js';

/** How much of an unreadable payload is kept in the audit, so nothing is lost without trace. */
const MAX_RAW_CHARS = 20_000;

export interface EventIntakeDeps {
  /** Reads one delivered event at the boundary (adapters/eventgrid). */
  readonly parse: (event: unknown) => Promise<Intake>;
  readonly audit: AuditPort;
  readonly workflow: Workflow;
}

export type EventIntakeResult =
  | { readonly kind: 'unrelated'; readonly eventId: string; readonly reason: string }
  | { readonly kind: 'invalid'; readonly eventId?: string; readonly error: string }
  | {
      readonly kind: 'handled';
      readonly result: HintResult;
      /** Connections whose change Azure is still provisioning: a later look settles them. */
      readonly unfinished: number;
    };

/**
 * One Azure Resource Manager event: a hint for the workflow. Malformed or unrelated events are
 * answered as such (a redelivery would not make them readable), and a malformed one is audited
 * with an excerpt of what arrived.
 */
export async function handleResourceEvent(deps: EventIntakeDeps, event: unknown): Promise<EventIntakeResult> {
  const intake = await deps.parse(event);
  if (intake.kind === 'unrelated') return { kind: 'unrelated', eventId: intake.eventId, reason: intake.reason };
  if (intake.kind === 'invalid') {
    await deps.audit.append({
      kind: 'error',
      outcome: 'invalid',
      actor: systemActor('resourceEvents'),
      summary: `Event could not be understood and was not acted on: ${intake.error}`,
      ...(intake.eventId ? { correlationId: intake.eventId } : {}),
      detail: { error: intake.error, raw: excerpt(intake.raw) },
    });
    return { kind: 'invalid', ...(intake.eventId ? { eventId: intake.eventId } : {}), error: intake.error };
  }
  const result = await deps.workflow.handleHint(intake.hint);
  return { kind: 'handled', result, unfinished: result.outcomes.filter((o) => o.outcome === 'in-progress').length };
}

export function createEventIntake(deps: EventIntakeDeps): { handle(event: unknown): Promise<EventIntakeResult> } {
  return { handle: (event) => handleResourceEvent(deps, event) };
}

/** The payload as JSON, bounded; the note says how long it was. */
export function excerpt(raw: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(raw) ?? String(raw);
  } catch {
    text = String(raw);
  }
  return text.length > MAX_RAW_CHARS ? `${text.slice(0, MAX_RAW_CHARS)}…(truncated from ${text.length} characters)` : text;
}
