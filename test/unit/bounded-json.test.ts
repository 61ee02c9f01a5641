import { describe, expect, it } from 'vitest';
import { parseResourceEvent } from '../../src/adapters/eventgrid/resource-event.js';
import { AUDIT_EXCERPT_BOUNDS, boundedJson } from '../../src/shared/bounded-json.js';

function nested(depth: number): unknown {
  let value: unknown = [];
  for (let i = 0; i < depth; i += 1) value = [value];
  return value;
}

describe('boundedJson: input recorded in a few kilobytes, whatever its shape', () => {
  it('writes a 100,000-deep nested array without recursing into it', () => {
    // Prepare
    const deep = nested(100_000);
    expect(() => JSON.stringify(deep)).toThrow(RangeError);

    // Act
    const text = boundedJson(deep);

    // Assess
    expect(text.length).toBeLessThanOrEqual(AUDIT_EXCERPT_BOUNDS.maxChars);
    expect(JSON.parse(text)).toEqual([[[[[[[['…(array nested deeper than 8 levels)']]]]]]]]);
  });

  it.each([
    ['a huge string', 'x'.repeat(5_000_000)],
    ['a huge array', Array.from({ length: 200_000 }, (_, i) => i)],
    ['an object with many keys', Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, 'v'.repeat(100)]))],
    ['a wide and deep tree', JSON.parse(JSON.stringify(Array.from({ length: 25 }, () => Array.from({ length: 25 }, () => ({ a: 'b'.repeat(300), c: [1, 2, 3] })))))],
  ])('keeps %s within bounds, as valid JSON', (_label, value) => {
    // Act
    const text = boundedJson(value);

    // Assess
    expect(text.length).toBeLessThanOrEqual(AUDIT_EXCERPT_BOUNDS.maxChars);
    expect(() => JSON.parse(text)).not.toThrow();
  });

  it('keeps small values as they are', () => {
    expect(JSON.parse(boundedJson({ id: 'e1', n: 1, ok: true, none: null, list: ['a'] }))).toEqual({ id: 'e1', n: 1, ok: true, none: null, list: ['a'] });
  });
});

describe('parseResourceEvent on input of any shape', () => {
  it.each([
    ['a deep array', nested(100_000)],
    ['an event whose data is deep', { id: 'e', eventType: 'Microsoft.Resources.ResourceWriteSuccess', subject: '/s', eventTime: '2026-11-30T10:00:00Z', dataVersion: '1', data: { operationName: nested(100_000) } }],
    ['a CloudEvent whose claims are deep', { specversion: '1.0', id: 'c', type: 'Microsoft.Resources.ResourceWriteSuccess', source: '/s', data: { claims: nested(100_000) } }],
  ])('answers %s as invalid instead of throwing', async (_label, raw) => {
    // Act
    const intake = await parseResourceEvent(raw);

    // Assess
    expect(intake.kind).toBe('invalid');
  });
});
