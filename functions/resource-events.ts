import type { InvocationContext } from '@azure/functions';
import { getServices } from '../src/composition.js';
import { oneLine } from '../src/shared/text.js';
import type { EventGridFunctionSpec } from './registry.js';

/**
 * Event Grid trigger for Azure Resource Manager events from the subscription system topic
 * (src/app/event-intake.ts). Malformed or unrelated events are acknowledged (a redelivery would
 * not make them readable); anything unexpected is rethrown so Event Grid delivers the event again.
 * Intake answers any payload, whatever its shape, depth or size, without throwing, so bad input
 * never becomes a 5xx and a redelivery loop. Log lines carry the sender's values bounded, on one line.
 */
export async function resourceEventsHandler(event: unknown, context: InvocationContext): Promise<void> {
  // One event per invocation is what the Event Grid trigger documents for JavaScript; should the
  // host hand over a whole batch as an array, each event is taken as delivered on its own. Either
  // way the events of a batch start together, so hints for one resource share one look.
  const events = Array.isArray(event) ? event : [event];
  const results = await Promise.all(events.map((item) => getServices().events.handle(item)));
  let unfinished = 0;
  for (const intake of results) {
    if (intake.kind === 'unrelated') {
      context.log(`Ignored event ${oneLine(intake.eventId, 200)}: ${oneLine(intake.reason, 1_000)}`);
      continue;
    }
    if (intake.kind === 'invalid') {
      context.warn(`Rejected event ${oneLine(intake.eventId ?? '(no id)', 200)}: ${oneLine(intake.error, 1_000)}`);
      continue;
    }
    for (const { connectionId, outcome } of intake.result.outcomes) {
      context.log(`${connectionId.split('/').pop()}: ${outcome}`);
    }
    unfinished += intake.unfinished;
  }
  // A change Azure is still provisioning is settled by a later look: failing the delivery makes
  // Event Grid bring this event again, besides the completion event and the sweep.
  if (unfinished > 0) throw new Error(`${unfinished} connection change(s) still provisioning; Event Grid delivers the event again`);
}

export const resourceEvents: EventGridFunctionSpec = {
  kind: 'eventGrid',
  name: 'resourceEvents',
  handler: resourceEventsHandler,
};
