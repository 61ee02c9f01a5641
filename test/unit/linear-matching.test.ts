import { RE2JSSyntaxException } from 're2js';
import { describe, expect, it } from 'vitest';
import { RuleValidationError } from '../../src/domain/errors.js';
import { decide, type RequestFacts } from '../../src/domain/policy/engine.js';
import { compileGlob } from '../../src/domain/policy/glob.js';
import { compileRequestMessage } from '../../src/domain/policy/request-message.js';
import { parseRule } from '../../src/domain/policy/rule.js';
import { resourceRef } from '../../src/domain/resource-id.js';
import { KEY_VAULT } from '../../src/domain/resource-types.js';

/**
 * A string whose every character read is counted. re2js reads a UTF-16 input only through
 * `charCodeAt` (its MachineUTF16Input; the prefix search uses `indexOf`, a native linear scan)
 * and accepts String objects as input, so the count is the number of steps its automata took
 * over the message, whichever of them (DFA, one-pass, NFA, bit-state) ran.
 */
class CountingString extends String {
  reads = 0;
  override charCodeAt(index: number): number {
    this.reads += 1;
    return super.charCodeAt(index);
  }
  override codePointAt(index: number): number | undefined {
    this.reads += 1;
    return super.codePointAt(index);
  }
}

function readsFor(pattern: string, text: string): { reads: number; matched: boolean } {
  const input = new CountingString(text);
  const matched = compileRequestMessage(pattern).test(input as unknown as string);
  return { reads: input.reads, matched };
}

const N = 500;
/** What any linear matcher is allowed: a constant number of reads per character. */
const READS_PER_CHARACTER = 8;

function refusal(pattern: string): RuleValidationError {
  try {
    parseRule({ name: 'message', priority: 1, action: 'approve', conditions: { requestMessage: pattern } });
  } catch (error) {
    return error as RuleValidationError;
  }
  throw new Error(`${pattern} was accepted`);
}

describe('request messages are matched in linear steps', () => {
  // The pattern that got past the old heuristic, as written: \w{0,140} eight times, then '!'.
  const bypass = `${'\\w{0,140}'.repeat(8)}!`;

  it('refuses the grouped form of the bypass, whose repetition count is beyond RE2 limit', () => {
    // (\w{0,140}){8} repeats 1120 times; RE2 allows 1000, nested counts multiplied.
    expect(refusal('(\\w{0,140}){8}!').message).toMatch(/^conditions\.requestMessage: is not valid RE2 syntax: invalid repeat count.*at most 1000/);
    expect(() => compileRequestMessage('(\\w{0,125}){8}!')).not.toThrow();
  });

  it.each([
    ['the heuristic bypass', bypass],
    ['the largest accepted grouped variant', '(\\w{0,125}){8}!'],
    ['the classic exponential pattern', '^(a+)+$'],
  ])('%s reads each character a bounded number of times, at n, 2n and 4n', (_label, pattern) => {
    // Prepare: a run of word characters with no '!' (the backtracking worst case), and for
    // ^(a+)+$ a run of a's spoiled by a final character.
    const text = (n: number) => `${'a'.repeat(n)}#`;

    // Act
    const counts = [N, 2 * N, 4 * N].map((n) => readsFor(pattern, text(n)));

    // Assess
    for (const [index, { reads, matched }] of counts.entries()) {
      const n = N * 2 ** index;
      expect(matched).toBe(false);
      expect(reads).toBeGreaterThanOrEqual(n);
      expect(reads).toBeLessThanOrEqual(READS_PER_CHARACTER * (n + 1));
    }
    const [one, two, four] = counts.map((c) => c.reads) as [number, number, number];
    expect(two / one).toBeGreaterThan(1.8);
    expect(two / one).toBeLessThan(2.2);
    expect(four / two).toBeGreaterThan(1.8);
    expect(four / two).toBeLessThan(2.2);
  });

  it('still answers correctly on those patterns', () => {
    expect(compileRequestMessage(bypass).test('hello world!')).toBe(true);
    expect(compileRequestMessage('^(a+)+$').test('AAAA')).toBe(true);
    expect(compileRequestMessage('^(a+)+$').test('aaaa#')).toBe(false);
  });

  it('decides on a 140-character hostile message by the same engine', () => {
    // Prepare
    const rule = parseRule({ name: 'bypass', priority: 1, action: 'approve', conditions: { requestMessage: bypass } });
    const facts: RequestFacts = {
      resource: resourceRef(KEY_VAULT, '5ec00000-0000-4000-8000-000000000001', 'rg', 'kv-a'),
      connectionName: 'pe.1',
      privateEndpoint: undefined,
      requesterTenant: { kind: 'not-visible' },
      requestMessage: 'a'.repeat(140),
    };

    // Act
    const decision = decide([{ ok: true, rule }], facts, 'c0a1b2c3-0000-4000-8000-00000000c0de');

    // Assess
    expect(decision.action).toBe('review');
    expect(decision.evaluations[0]?.conditions[0]).toMatchObject({ field: 'requestMessage', held: false });
  });
});

describe('patterns the linear-time engine cannot run are refused when written', () => {
  it.each([
    ['foo(?=bar)', /^conditions\.requestMessage: lookahead is not supported by the linear-time engine/],
    ['foo(?!bar)', /lookahead is not supported/],
    ['(?<=x)y', /lookbehind is not supported/],
    ['(?<!x)y', /lookbehind is not supported/],
    ['(a)\\1', /backreferences are not supported/],
    ['(?<x>a)\\k<x>', /backreferences are not supported/],
    ['a**', /is not valid RE2 syntax: invalid nested repetition operator/],
    ['[unclosed', /is not valid RE2 syntax: missing closing \]/],
  ])('refuses %s, naming the field and why', (pattern, reason) => {
    // Act
    const error = refusal(pattern);

    // Assess
    expect(error).toBeInstanceOf(RuleValidationError);
    expect(error.field).toBe('conditions.requestMessage');
    expect(error.message).toMatch(reason);
    expect(error.cause).toBeInstanceOf(RE2JSSyntaxException);
  });

  it('takes a literal backslash before a group for what it is', () => {
    expect(() => parseRule({ name: 'm', priority: 1, action: 'review', conditions: { requestMessage: '\\\\(?:x)' } })).not.toThrow();
  });

  it.each(['^CHG-\\d+', 'ticket [A-Z]{2,5}-\\d{1,6}', '^(nightly|weekly) sync', '(?<id>\\d{4})', '(\\w+\\s?)*$', '\\p{L}+'])(
    'accepts %s, which RE2 runs in linear time whatever its shape',
    (pattern) => {
      expect(parseRule({ name: 'm', priority: 1, action: 'review', conditions: { requestMessage: pattern } }).conditions.requestMessage).toBe(pattern);
    },
  );
});

describe('compileGlob: matching in pattern × text steps', () => {
  it('answers a pathological glob on a long name correctly (a backtracking matcher takes minutes here)', () => {
    const glob = compileGlob('*a*a*a*a*a*a*a*a*a*a*a*a*b');
    expect(glob.test('a'.repeat(400))).toBe(false);
    expect(glob.test(`${'a'.repeat(400)}b`)).toBe(true);
  });

  it('keeps * within a segment and lets ** cross segments', () => {
    expect(compileGlob('/subscriptions/*/vaults').test('/subscriptions/a/b/vaults')).toBe(false);
    expect(compileGlob('/subscriptions/**/vaults').test('/subscriptions/a/b/vaults')).toBe(true);
    expect(compileGlob('**').test('')).toBe(true);
    expect(compileGlob('kv-?').test('kv-/')).toBe(false);
  });
});
