import type { InvocationContext } from '@azure/functions';
import { getServices } from '../src/composition.js';
import type { EventGridFunctionSpec } from './registry.js';

/**
 * Event Grid trigger for Azure Resource Manager events from the subscription system topic
 * (src/app/event-intake.ts). Malformed or unrelated events are acknowledged (a redelivery would
 * not make them readable); anything unexpected is rethrown so Event Grid delivers the event again.
 */
export async function resourceEventsHandler(event: unknown, context: InvocationContext): Promise<void> {
  const intake = await getServices().events.handle(event);
  if (intake.kind === 'unrelated') {
    context.log(`Ignored event ${intake.eventId}: ${intake.reason}`);
    return;
  }
  if (intake.kind === 'invalid') {
    context.warn(`Rejected event ${intake.eventId ?? '(no id)'}: ${intake.error}`);
    return;
  }
  for (const { connectionId, outcome } of intake.result.outcomes) {
    context.log(`${connectionId.split('/').pop()}: ${outcome}`);
  }
  // A change Azure is still provisioning is settled by a later look: failing the delivery makes
  // Event Grid bring this event again, besides the completion event and the sweep.
  if (intake.unfinished > 0) throw new Error(`${intake.unfinished} connection change(s) still provisioning; Event Grid delivers the event again`);
}

export const resourceEvents: EventGridFunctionSpec = {
  kind: 'eventGrid',
  name: 'resourceEvents',
  handler: resourceEventsHandler,
};
