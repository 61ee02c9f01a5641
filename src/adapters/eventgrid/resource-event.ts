import type { EventGridDeserializer } from '@azure/eventgrid';
import type { Intake } from '../../app/ports.js';
import resourceEvents from '../../domain/definitions/resource-events.json';
import { loadOnFirstUse } from '../load-on-first-use.js';
import { resourceOf, shown } from '../../domain/resource-id.js';
import { RESOURCE_TYPES, type ResourceType } from '../../domain/resource-types.js';

/**
 * Translation of one delivered Azure Resource Manager event into a hint, at the boundary.
 * Both the Event Grid schema and CloudEvents 1.0 are accepted; the @azure/eventgrid
 * deserializer checks each schema's required envelope fields, and every `data` field used
 * here is checked by hand, because the spec makes most of them optional even where the
 * typings do not (AZURE-FACTS, "data fields").
 */
export type { Intake };

/**
 * Event types that can mean a resource's connections changed; failures and cancels changed nothing.
 * Read from the definition the deployment's Event Grid filter is built from (infra/).
 */
export const ACCEPTED_EVENT_TYPES: readonly string[] = Object.freeze([...resourceEvents.includedEventTypes]);

/**
 * The operations that hint at a change of a type's connections, exactly as the registry lists
 * them (definitions/resource-types.json), lower-cased once here: Event Grid compares its filter
 * case-insensitively, and so does this. Which operation Azure raises when someone requests an
 * endpoint from another subscription is not documented (privateEndpointConnectionProxies
 * validate/action and write are likely), so the registry lists both, and the sweep covers the rest.
 */
export function acceptedOperations(types: readonly ResourceType[] = RESOURCE_TYPES): ReadonlyMap<string, ResourceType> {
  const operations = new Map<string, ResourceType>();
  for (const type of types) for (const operation of type.events) operations.set(operation.toLowerCase(), type);
  return operations;
}

const ALL_OPERATIONS = acceptedOperations();

export interface ParseOptions {
  /** The watched types (LINKGATE_RESOURCE_TYPES); events about any other type are unrelated. Default: all. */
  readonly types?: readonly ResourceType[];
}

const OBJECT_ID_CLAIMS = ['http://schemas.microsoft.com/identity/claims/objectidentifier', 'oid'];

/**
 * Built on the first event: `@azure/eventgrid` is the largest package the entry point would
 * otherwise load, and only resourceEvents uses it; the HTTP and timer functions start without it.
 */
const getDeserializer = loadOnFirstUse<EventGridDeserializer>(async () => new (await import('@azure/eventgrid')).EventGridDeserializer());

/**
 * Any payload, of any shape, comes back as an Intake: whatever cannot be read is `invalid`, never
 * an exception, because a redelivery would not make it readable and an exception makes Event Grid
 * deliver it again for a day. Only a failure to load the deserializer, which is ours, is thrown.
 */
export async function parseResourceEvent(raw: unknown, options: ParseOptions = {}): Promise<Intake> {
  const events = await getDeserializer();
  try {
    return await interpret(events, raw, options);
  } catch (error) {
    return { kind: 'invalid', eventId: idOf(raw), error: `the event could not be read: ${(error as Error).message}`, raw: forAudit(raw) };
  }
}

async function interpret(events: EventGridDeserializer, raw: unknown, options: ParseOptions): Promise<Intake> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { kind: 'invalid', error: `expected one event object, got ${describe(raw)}`, raw: forAudit(raw) };
  }
  const envelope = await parseEnvelope(events, raw as Record<string, unknown>);
  if ('error' in envelope) return { kind: 'invalid', eventId: idOf(raw), error: envelope.error, raw: forAudit(raw) };
  const { id, type, subject, data, time } = envelope;

  if (!ACCEPTED_EVENT_TYPES.some((accepted) => accepted.toLowerCase() === type.toLowerCase())) {
    return { kind: 'unrelated', eventId: id, eventType: type, reason: `event type ${shown(type)} is not a resource success event` };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { kind: 'invalid', eventId: id, error: `${type} event has no data object`, raw: forAudit(raw) };
  }
  const fields = data as Record<string, unknown>;
  const operationName = fields.operationName;
  if (typeof operationName !== 'string' || operationName.trim() === '') {
    return { kind: 'invalid', eventId: id, error: 'data.operationName is missing or not a string', raw: forAudit(raw) };
  }
  const operationType = ALL_OPERATIONS.get(operationName.toLowerCase());
  if (!operationType) {
    return { kind: 'unrelated', eventId: id, eventType: type, reason: `operation ${shown(operationName)} is not a private endpoint connection operation of a registered resource type` };
  }
  if (options.types && !options.types.includes(operationType)) {
    return { kind: 'unrelated', eventId: id, eventType: type, reason: `${operationType.displayName} is not among the watched resource types (LINKGATE_RESOURCE_TYPES)` };
  }
  const resourceUri = fields.resourceUri;
  if (resourceUri !== undefined && typeof resourceUri !== 'string') {
    return { kind: 'invalid', eventId: id, error: 'data.resourceUri is not a string', raw: forAudit(raw) };
  }
  const target = resourceUri || subject;
  if (!target) return { kind: 'invalid', eventId: id, error: 'neither data.resourceUri nor subject names a resource', raw: forAudit(raw) };
  const resource = resourceOf(target);
  if (!resource || resource.type !== operationType) {
    return { kind: 'invalid', eventId: id, error: `${shown(target)} is not under a ${operationType.displayName} (/subscriptions/{GUID}/resourceGroups/{group}/providers/${operationType.type}/NAME, every segment an ARM name, no '.' or '..'), which operation ${operationName} is about`, raw: forAudit(raw) };
  }
  if (resourceUri && subject) {
    // Azure documents subject == data.resourceUri; two different resources cannot be understood.
    const subjectResource = resourceOf(subject);
    if (subjectResource?.key !== resource.key) {
      return { kind: 'invalid', eventId: id, error: `subject ${shown(subject)} and data.resourceUri ${shown(resourceUri)} name different resources`, raw: forAudit(raw) };
    }
  }
  const callerObjectId = objectIdFromClaims(fields.claims);
  return {
    kind: 'hint',
    hint: {
      resource,
      source: 'event',
      eventId: id,
      ...(time instanceof Date && !Number.isNaN(time.getTime()) ? { eventTime: time } : {}),
      eventType: type,
      operationName,
      subject: target,
      ...(callerObjectId ? { callerObjectId } : {}),
    },
  };
}

type Envelope = { id: string; type: string; subject: string | undefined; data: unknown; time: Date | undefined } | { error: string };

async function parseEnvelope(events: EventGridDeserializer, raw: Record<string, unknown>): Promise<Envelope> {
  try {
    if ('specversion' in raw) {
      const [event] = await events.deserializeCloudEvents(raw);
      if (!event) return { error: 'empty CloudEvent' };
      return { id: event.id, type: event.type, subject: event.subject, data: event.data, time: event.time };
    }
    const [event] = await events.deserializeEventGridEvents(raw);
    if (!event) return { error: 'empty Event Grid event' };
    return { id: event.id, type: event.eventType, subject: event.subject, data: event.data, time: event.eventTime };
  } catch (error) {
    const schema = 'specversion' in raw ? 'CloudEvents 1.0' : 'Event Grid schema';
    return { error: `not a valid ${schema} event: ${(error as Error).message}` };
  }
}

/** `claims` is a string map whose keys contain dots and slashes, so it is read by exact key. */
function objectIdFromClaims(claims: unknown): string | undefined {
  if (typeof claims !== 'object' || claims === null) return undefined;
  for (const key of OBJECT_ID_CLAIMS) {
    const value = (claims as Record<string, unknown>)[key];
    if (typeof value === 'string' && value.trim() !== '') return value.trim().toLowerCase();
  }
  return undefined;
}

function idOf(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const id = (raw as { id?: unknown }).id;
  return typeof id === 'string' ? id : undefined;
}

/**
 * The payload as the audit keeps it. `data.claims` is the caller's token (name, e-mail, IP address,
 * group claims): only the object ID is kept, which is what Linkgate reads from it. `data` sent as a
 * string or as base64 (CloudEvents) could hold the same claims unparsed, so only its size is kept.
 * Everything else is bounded by the audit (shared/bounded-json.ts).
 */
export function forAudit(raw: unknown): unknown {
  if (!isRecord(raw)) return raw;
  const out: Record<string, unknown> = { ...raw };
  const data = raw.data;
  if (isRecord(data) && 'claims' in data) {
    const objectId = objectIdFromClaims(data.claims);
    out.data = { ...data, claims: objectId ? { objectId } : '(omitted: no object ID)' };
  } else if (typeof data === 'string') {
    out.data = `(a string of ${data.length} characters, not kept: it may hold token claims)`;
  }
  if (typeof raw.data_base64 === 'string') out.data_base64 = `(base64 of ${raw.data_base64.length} characters, not kept: it may hold token claims)`;
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
