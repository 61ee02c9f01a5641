import type { InvocationContext } from '@azure/functions';
import { parseResourceEvent } from '../src/adapters/eventgrid/resource-event.js';
import { getServices } from '../src/composition.js';
import type { EventGridFunctionSpec } from './registry.js';

/** How much of an unreadable payload is kept in the audit, so nothing is lost without trace. */
const MAX_RAW_CHARS = 20_000;

/**
 * Event Grid trigger for Azure Resource Manager events from the subscription system topic.
 * Malformed or unrelated events are acknowledged (a redelivery would not make them readable)
 * and recorded; anything unexpected is rethrown so Event Grid delivers the event again.
 */
export async function resourceEventsHandler(event: unknown, context: InvocationContext): Promise<void> {
  const services = getServices();
  const intake = await parseResourceEvent(event, { types: services.config.resourceTypes });
  if (intake.kind === 'unrelated') {
    context.log(`Ignored event ${intake.eventId}: ${intake.reason}`);
    return;
  }
  if (intake.kind === 'invalid') {
    context.warn(`Rejected event ${intake.eventId ?? '(no id)'}: ${intake.error}`);
    await services.audit.append({
      kind: 'error',
      outcome: 'invalid',
      actor: { type: 'system', id: 'resourceEvents' },
      summary: `Event could not be understood and was not acted on: ${intake.error}`,
      ...(intake.eventId ? { correlationId: intake.eventId } : {}),
      detail: { error: intake.error, raw: excerpt(intake.raw) },
    });
    return;
  }
  const result = await services.workflow.handleHint(intake.hint);
  for (const { connectionId, outcome } of result.outcomes) {
    context.log(`${connectionId.split('/').pop()}: ${outcome}`);
  }
  // A change Azure is still provisioning is settled by a later look: failing the delivery makes
  // Event Grid bring this event again, besides the completion event and the sweep.
  const unfinished = result.outcomes.filter((o) => o.outcome === 'in-progress').length;
  if (unfinished > 0) throw new Error(`${unfinished} connection change(s) still provisioning; Event Grid delivers the event again`);
}

function excerpt(raw: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(raw) ?? String(raw);
  } catch {
    text = String(raw);
  }
  return text.length > MAX_RAW_CHARS ? `${text.slice(0, MAX_RAW_CHARS)}…(truncated from ${text.length} characters)` : text;
}

export const resourceEvents: EventGridFunctionSpec = {
  kind: 'eventGrid',
  name: 'resourceEvents',
  handler: resourceEventsHandler,
};
