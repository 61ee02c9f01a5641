import { describe, expect, it } from 'vitest';
import { compileGlob } from '../../src/domain/policy/glob.js';
import { parseRule } from '../../src/domain/policy/rule.js';
import { MAX_UNBOUNDED, regexRisk } from '../../src/domain/policy/safe-regex.js';

describe('regexRisk: patterns whose backtracking stays small', () => {
  it.each([
    '^CHG-\\d+',
    'ticket [A-Z]{2,5}-\\d{1,6}',
    '^(nightly|weekly) sync',
    '(partner)? sync .* approved',
    '[(+*)]+ literal specials in a class',
    '\\(escaped\\)+',
    '(?:abc){2,3}',
    '(?<id>\\d{4})',
  ])('accepts %s', (pattern) => {
    expect(regexRisk(pattern)).toBeUndefined();
  });

  it.each([
    ['^(a+)+$', /repeated group/],
    ['(a|aa)*b', /repeated group/],
    ['((ab)*c)+', /repeated group/],
    ['(\\w+\\s?)*$', /repeated group/],
    ['(.*a){2,}', /repeated group/],
    ['(a)\\1', /backreferences/],
    ['(?<x>a)\\k<x>', /backreferences/],
    ['foo(?=bar)', /lookahead/],
    ['(?<!x)y', /lookahead/],
    ['.*a.*b.*c.*d', new RegExp(`at most ${MAX_UNBOUNDED}`)],
  ])('refuses %s', (pattern, reason) => {
    expect(regexRisk(pattern)).toMatch(reason);
  });

  it('refuses such a pattern when a rule is written, naming the field', () => {
    expect(() => parseRule({ name: 'redos', priority: 1, action: 'review', mode: 'shadow', conditions: { requestMessage: '^(a+)+$' } })).toThrow(
      expect.objectContaining({ field: 'conditions.requestMessage' }),
    );
  });
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
