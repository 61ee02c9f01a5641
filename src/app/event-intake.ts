import { systemActor } from '../domain/audit.js';
import { boundedJson } from '../shared/bounded-json.js';
import { truncate } from '../shared/text.js';
import type { AuditPort, Intake } from './ports.js';
import type { HintResult, Workflow } from './workflow.js';

/** How much of an error about unreadable input is kept; the input itself is bounded by boundedJson. */
const MAX_ERROR_CHARS = 1_000;
const MAX_ID_CHARS = 200;

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
 * with a bounded excerpt of what arrived (claims reduced to the caller's object ID by the parser).
 */
export async function handleResourceEvent(deps: EventIntakeDeps, event: unknown): Promise<EventIntakeResult> {
  const intake = await deps.parse(event);
  if (intake.kind === 'unrelated') return { kind: 'unrelated', eventId: intake.eventId, reason: intake.reason };
  if (intake.kind === 'invalid') {
    const error = truncate(intake.error, MAX_ERROR_CHARS);
    const eventId = intake.eventId === undefined ? undefined : truncate(intake.eventId, MAX_ID_CHARS);
    await deps.audit.append({
      kind: 'error',
      outcome: 'invalid',
      actor: systemActor('resourceEvents'),
      summary: `Event could not be understood and was not acted on: ${error}`,
      ...(eventId ? { correlationId: eventId } : {}),
      detail: { error, raw: excerpt(intake.raw) },
    });
    return { kind: 'invalid', ...(eventId ? { eventId } : {}), error };
  }
  const result = await deps.workflow.handleHint(intake.hint);
  return { kind: 'handled', result, unfinished: result.outcomes.filter((o) => o.outcome === 'in-progress').length };
}

export function createEventIntake(deps: EventIntakeDeps): { handle(event: unknown): Promise<EventIntakeResult> } {
  return { handle: (event) => handleResourceEvent(deps, event) };
}

/**
 * The payload as JSON text of a few kilobytes at most, whatever its depth or size: a request
 * decides what arrives, not how much is written or how deep the serialiser recurses.
 */
export function excerpt(raw: unknown): string {
  return boundedJson(raw);
}
