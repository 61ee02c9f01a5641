import { describe, expect, it } from 'vitest';
import names from '../../src/domain/definitions/resource-names.json';
import { isArmName, isResourceGroupName, isResourceName, MAX_ARM_NAME } from '../../src/domain/resource-names.js';
import { findResourceType, RESOURCE_TYPES } from '../../src/domain/resource-types.js';

describe('resource names: the rules from Azure naming rules and restrictions', () => {
  it('has a rule for registered types only, each with a source', () => {
    // Act & Assess
    for (const [key, entry] of Object.entries(names.types)) {
      expect(findResourceType(key)?.key, key).toBe(key);
      expect(entry.source).toMatch(/^resource-name-rules#/);
    }
  });

  it.each(RESOURCE_TYPES.map((t) => [t.key, t] as const))('accepts the demo-style name res01 for %s', (_key, type) => {
    expect(isResourceName(type, 'res01')).toBe(true);
  });

  it.each<[string, boolean]>([
    ['', false],
    ['.', false],
    ['..', false],
    ['a.b', true],
    ['pe-payments-api.9b2d4f6a-2e1c-4f3b-8a7d-6c5b4a3f2e1d', true],
    ['x'.repeat(MAX_ARM_NAME), true],
    ['x'.repeat(MAX_ARM_NAME + 1), false],
    ...[...'<>*%&:\\?/#'].map((c): [string, boolean] => [`a${c}b`, false]),
    ['a\u0000b', false],
    ['a\u007fb', false],
    ['a\u0085b', false],
    ['naïve', true],
  ])('the ARM-wide rule says %j is %s', (name, ok) => {
    expect(isArmName(name)).toBe(ok);
  });

  it.each<[string, boolean]>([
    ['rg', true],
    ['RG_(prod).eu-1', true],
    ['Zürich', true],
    ['rg.', false],
    ['.', false],
    ['r'.repeat(90), true],
    ['r'.repeat(91), false],
    ['rg#1', false],
    ['rg 1', false],
  ])('the resource group rule says %j is %s', (name, ok) => {
    expect(isResourceGroupName(name)).toBe(ok);
  });
});
