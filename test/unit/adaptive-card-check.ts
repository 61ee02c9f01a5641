/**
 * Checks an Adaptive Card JSON with the official `adaptivecards` library, the renderer Teams
 * builds on. Parsing needs no DOM (only rendering does), so it runs in plain Node.
 */
import * as AC from 'adaptivecards';

export interface OfficialCheck {
  /** Problems the parser logged: unknown element or action types, invalid enum values, bad versions. */
  readonly parseEvents: readonly string[];
  /** Problems `validateProperties()` found: missing required properties, duplicate IDs, too many actions. */
  readonly validationEvents: readonly string[];
  /**
   * The card serialised back by the parser for version 1.5. The parser drops properties it
   * does not know (or that are newer than 1.5), so a round trip equal to the input means every
   * property in the card is a 1.5 property.
   */
  readonly roundTrip: unknown;
}

export function checkWithOfficialParser(json: unknown, version = new AC.Version(1, 5)): OfficialCheck {
  const card = new AC.AdaptiveCard();
  const context = new AC.SerializationContext(version);
  card.parse(json, context);
  const parseEvents: string[] = [];
  for (let i = 0; i < context.eventCount; i++) parseEvents.push(context.getEventAt(i).message);
  const validationEvents = card.validateProperties().validationEvents.map((event) => event.message);
  const roundTrip = card.toJSON(new AC.SerializationContext(version));
  return { parseEvents, validationEvents, roundTrip };
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every object in the card (elements, facts, actions, refresh), depth first, skipping action data. */
export function allObjects(value: unknown, out: Json[] = []): Json[] {
  if (Array.isArray(value)) {
    for (const item of value) allObjects(item, out);
  } else if (isObject(value)) {
    out.push(value);
    for (const [key, child] of Object.entries(value)) if (key !== 'data') allObjects(child, out);
  }
  return out;
}

export function objectsOfType(card: unknown, type: string): Json[] {
  return allObjects(card).filter((o) => o.type === type);
}

/** Elements whose type starts with `Input.`. */
export function inputs(card: unknown): Json[] {
  return allObjects(card).filter((o) => typeof o.type === 'string' && o.type.startsWith('Input.'));
}

/** Text of every TextBlock, in order. */
export function texts(card: unknown): string[] {
  return objectsOfType(card, 'TextBlock').map((o) => String(o.text));
}

/** Every string shown to a reader: TextBlock texts and fact titles and values. */
export function shownStrings(card: unknown): string[] {
  const facts = allObjects(card).filter((o) => 'title' in o && 'value' in o && o.type === undefined);
  return [...texts(card), ...facts.flatMap((f) => [String(f.title), String(f.value)])];
}

export function utf8Bytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}
