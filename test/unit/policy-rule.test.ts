import { RE2JSSyntaxException } from 're2js';
import { describe, expect, it } from 'vitest';
import { RuleValidationError } from '../../src/domain/errors.js';
import { parseRule } from '../../src/domain/policy/rule.js';

const VAULT_SUBSCRIPTION = '3F2A9C4E-8B1D-4E6F-A5C7-2D9E0B4F7A13';
const REQUESTER_SUBSCRIPTION = '9d0c6b2e-4a7f-4e3b-b1c8-6f2a5d9e0c47';
const PARTNER_TENANT = 'E4B9D2A7-1C6F-4F3E-9A8B-7D0C2E5F1A36';

/** A rule using every field, as an API body would carry it. */
function fullRule(): Record<string, unknown> {
  return {
    name: 'payments-partner.shadow_v2',
    description: 'Partner tenant endpoints to the payments vaults, change ticket required',
    priority: 250,
    enabled: false,
    mode: 'shadow',
    action: 'approve',
    conditions: {
      vault: {
        resourceId: '/subscriptions/*/resourceGroups/rg-secrets/providers/Microsoft.KeyVault/vaults/kv-*',
        subscriptions: [VAULT_SUBSCRIPTION],
        resourceGroups: ['rg-secrets', 'RG-Secrets-DR'],
        name: 'kv-pay??nts',
      },
      requesterTenant: ['home', PARTNER_TENANT, 'not-visible'],
      requesterSubscriptions: [REQUESTER_SUBSCRIPTION],
      privateEndpointName: 'pe-payments-*',
      requestMessage: '^CHG\\d{6}\\b',
    },
  };
}

function minimalRule(): Record<string, unknown> {
  return { name: 'review-everything', priority: 1000, action: 'review' };
}

/** The error parseRule raises for `input`; fails the test when it accepts it. */
function refusalOf(input: unknown): RuleValidationError {
  try {
    parseRule(input);
  } catch (error) {
    if (error instanceof RuleValidationError) return error;
    throw error;
  }
  throw new Error('expected parseRule to refuse the input');
}

function withConditions(conditions: unknown): Record<string, unknown> {
  return { ...minimalRule(), conditions };
}

describe('parseRule: accepted rules', () => {
  it('keeps every field of a full valid rule, with GUIDs and tenant selectors in lower case', () => {
    // Prepare
    const input = fullRule();

    // Act
    const rule = parseRule(input);

    // Assess
    expect(rule).toEqual({
      name: 'payments-partner.shadow_v2',
      description: 'Partner tenant endpoints to the payments vaults, change ticket required',
      priority: 250,
      enabled: false,
      mode: 'shadow',
      action: 'approve',
      conditions: {
        vault: {
          resourceId: '/subscriptions/*/resourceGroups/rg-secrets/providers/Microsoft.KeyVault/vaults/kv-*',
          subscriptions: [VAULT_SUBSCRIPTION.toLowerCase()],
          resourceGroups: ['rg-secrets', 'RG-Secrets-DR'],
          name: 'kv-pay??nts',
        },
        requesterTenant: ['home', PARTNER_TENANT.toLowerCase(), 'not-visible'],
        requesterSubscriptions: [REQUESTER_SUBSCRIPTION],
        privateEndpointName: 'pe-payments-*',
        requestMessage: '^CHG\\d{6}\\b',
      },
    });
  });

  it('defaults enabled to true, mode to enforce and conditions to none', () => {
    // Prepare
    const input = minimalRule();

    // Act
    const rule = parseRule(input);

    // Assess
    expect(rule).toEqual({ name: 'review-everything', priority: 1000, enabled: true, mode: 'enforce', action: 'review', conditions: {} });
    expect('description' in rule).toBe(false);
  });

  it.each([0, 1_000_000])('accepts priority %d at the edge of the allowed range', (priority) => {
    // Prepare
    const input = { ...minimalRule(), priority };

    // Act
    const rule = parseRule(input);

    // Assess
    expect(rule.priority).toBe(priority);
  });

  it('accepts a 64-character name', () => {
    // Prepare
    const name = `a${'b'.repeat(63)}`;

    // Act
    const rule = parseRule({ ...minimalRule(), name });

    // Assess
    expect(rule.name).toBe(name);
  });
});

describe('parseRule: the resource condition', () => {
  it('keeps the types as canonical ARM types, whether written as keys or ARM types in any casing, once each', () => {
    // Act
    const parsed = parseRule(withConditions({ resource: { types: ['storage', 'MICROSOFT.SQL/SERVERS', 'Microsoft.Storage/storageAccounts'], name: 'st*', resourceGroups: ['rg-data'] } }));

    // Assess
    expect(parsed.conditions.resource).toEqual({ types: ['Microsoft.Storage/storageAccounts', 'Microsoft.Sql/servers'], name: 'st*', resourceGroups: ['rg-data'] });
  });

  it('keeps a rule written with the vault condition as it was', () => {
    // Act
    const parsed = parseRule(withConditions({ vault: { name: 'kv-*', resourceGroups: ['rg-secrets'] } }));

    // Assess
    expect(parsed.conditions).toEqual({ vault: { name: 'kv-*', resourceGroups: ['rg-secrets'] } });
  });
});

describe('parseRule: refused rules name the offending field', () => {
  it.each<{ case: string; input: unknown; field: string }>([
    { case: 'a rule that is not an object', input: null, field: 'rule' },
    { case: 'a rule given as a list', input: [minimalRule()], field: 'rule' },
    { case: 'an unknown top-level field', input: { ...minimalRule(), colour: 'red' }, field: 'colour' },
    { case: 'a misspelt top-level field', input: { ...minimalRule(), condition: {} }, field: 'condition' },
    { case: 'a missing name', input: { priority: 1, action: 'approve' }, field: 'name' },
    { case: 'an empty name', input: { ...minimalRule(), name: '' }, field: 'name' },
    { case: 'a name starting with "-"', input: { ...minimalRule(), name: '-approve-all' }, field: 'name' },
    { case: 'a name with a space', input: { ...minimalRule(), name: 'approve all' }, field: 'name' },
    { case: 'a 65-character name', input: { ...minimalRule(), name: 'a'.repeat(65) }, field: 'name' },
    { case: 'a missing priority', input: { name: 'x', action: 'approve' }, field: 'priority' },
    { case: 'a negative priority', input: { ...minimalRule(), priority: -1 }, field: 'priority' },
    { case: 'a fractional priority', input: { ...minimalRule(), priority: 1.5 }, field: 'priority' },
    { case: 'a priority given as text', input: { ...minimalRule(), priority: '10' }, field: 'priority' },
    { case: 'a priority above 1000000', input: { ...minimalRule(), priority: 1_000_001 }, field: 'priority' },
    { case: 'enabled given as text', input: { ...minimalRule(), enabled: 'yes' }, field: 'enabled' },
    { case: 'an unknown mode', input: { ...minimalRule(), mode: 'audit' }, field: 'mode' },
    { case: 'an unknown action', input: { ...minimalRule(), action: 'allow' }, field: 'action' },
    { case: 'a missing action', input: { name: 'x', priority: 1 }, field: 'action' },
    { case: 'an empty description', input: { ...minimalRule(), description: ' ' }, field: 'description' },
    { case: 'conditions given as text', input: withConditions('tenant=home'), field: 'conditions' },
    { case: 'conditions given as a list', input: withConditions([{ requesterTenant: ['home'] }]), field: 'conditions' },
    { case: 'conditions given as null', input: withConditions(null), field: 'conditions' },
    { case: 'an unknown condition field', input: withConditions({ foo: 'bar' }), field: 'conditions.foo' },
    { case: 'vault given as text', input: withConditions({ vault: 'kv-payments' }), field: 'conditions.vault' },
    { case: 'an unknown vault field', input: withConditions({ vault: { location: 'westeurope' } }), field: 'conditions.vault.location' },
    { case: 'an empty vault name glob', input: withConditions({ vault: { name: '' } }), field: 'conditions.vault.name' },
    { case: 'a vault resource ID glob longer than 512 characters', input: withConditions({ vault: { resourceId: `/${'a'.repeat(512)}` } }), field: 'conditions.vault.resourceId' },
    { case: 'resource given as text', input: withConditions({ resource: 'stcontosodata' }), field: 'conditions.resource' },
    { case: 'an unknown resource field', input: withConditions({ resource: { kind: 'storage' } }), field: 'conditions.resource.kind' },
    { case: 'an unregistered resource type', input: withConditions({ resource: { types: ['storage', 'Microsoft.Compute/disks'] } }), field: 'conditions.resource.types[1]' },
    { case: 'an empty resource type list', input: withConditions({ resource: { types: [] } }), field: 'conditions.resource.types' },
    { case: 'a non-GUID resource subscription', input: withConditions({ resource: { subscriptions: ['sub-data'] } }), field: 'conditions.resource.subscriptions[0]' },
    { case: 'an invalid request message regex', input: withConditions({ requestMessage: '(CHG\\d+' }), field: 'conditions.requestMessage' },
    { case: 'a request message regex longer than 256 characters', input: withConditions({ requestMessage: 'a'.repeat(257) }), field: 'conditions.requestMessage' },
    {
      case: 'a non-GUID requester subscription',
      input: withConditions({ requesterSubscriptions: [REQUESTER_SUBSCRIPTION, 'payments-prod'] }),
      field: 'conditions.requesterSubscriptions[1]',
    },
    { case: 'a non-GUID vault subscription', input: withConditions({ vault: { subscriptions: ['sub-payments'] } }), field: 'conditions.vault.subscriptions[0]' },
    { case: 'an unknown tenant selector', input: withConditions({ requesterTenant: ['external'] }), field: 'conditions.requesterTenant[0]' },
    { case: 'a tenant selector in the wrong case', input: withConditions({ requesterTenant: ['home', 'Other'] }), field: 'conditions.requesterTenant[1]' },
    { case: 'a non-text tenant selector', input: withConditions({ requesterTenant: [42] }), field: 'conditions.requesterTenant[0]' },
    { case: 'an empty requester tenant list', input: withConditions({ requesterTenant: [] }), field: 'conditions.requesterTenant' },
    { case: 'an empty requester subscription list', input: withConditions({ requesterSubscriptions: [] }), field: 'conditions.requesterSubscriptions' },
    { case: 'an empty vault subscription list', input: withConditions({ vault: { subscriptions: [] } }), field: 'conditions.vault.subscriptions' },
    { case: 'an empty resource group list', input: withConditions({ vault: { resourceGroups: [] } }), field: 'conditions.vault.resourceGroups' },
    { case: 'a requester tenant given as text, not a list', input: withConditions({ requesterTenant: 'home' }), field: 'conditions.requesterTenant' },
    {
      case: 'a list longer than 200 entries',
      input: withConditions({ vault: { resourceGroups: Array.from({ length: 201 }, (_, i) => `rg-${i}`) } }),
      field: 'conditions.vault.resourceGroups',
    },
  ])('refuses $case with field $field', ({ input, field }) => {
    // Prepare: the input of the row.

    // Act
    const error = refusalOf(input);

    // Assess
    expect(error.field).toBe(field);
    expect(error.name).toBe('RuleValidationError');
    expect(error.message.startsWith(`${field}: `)).toBe(true);
  });

  it('keeps the RE2 parser error as the cause of a bad requestMessage', () => {
    // Prepare
    const input = withConditions({ requestMessage: '[unclosed' });

    // Act
    const error = refusalOf(input);

    // Assess
    expect(error.cause).toBeInstanceOf(RE2JSSyntaxException);
    expect(error.message).toContain('is not valid RE2 syntax');
  });
});

describe('parseRule: review settings', () => {
  const base = { name: 'partners', priority: 50, action: 'review' };

  it('accepts a review rule with its own conversation, approvers and timing', () => {
    const rule = parseRule({
      ...base,
      review: { conversation: '19:partners@thread.tacv2', approvers: ['ADA00000-0000-4000-8000-0000000000A1'], remindAfterHours: 4, expireAfterDays: 3, timeoutAction: 'reject' },
    });
    expect(rule.review).toEqual({
      conversation: '19:partners@thread.tacv2',
      approvers: ['ada00000-0000-4000-8000-0000000000a1'],
      remindAfterHours: 4,
      expireAfterDays: 3,
      timeoutAction: 'reject',
    });
  });

  it.each([
    [{ ...base, action: 'approve', review: {} }, 'review'],
    [{ ...base, review: { approverGroups: ['ada00000-0000-4000-8000-0000000000a1'] } }, 'review.approverGroups'],
    [{ ...base, review: { approvers: ['ada@contoso.com'] } }, 'review.approvers[0]'],
    [{ ...base, review: { remindAfterHours: -1 } }, 'review.remindAfterHours'],
    [{ ...base, review: { expireAfterDays: 'soon' } }, 'review.expireAfterDays'],
    [{ ...base, review: { timeoutAction: 'approve' } }, 'review.timeoutAction'],
    [{ ...base, review: { channel: 'x' } }, 'review.channel'],
  ])('refuses bad review settings and names the field (%#)', (input, field) => {
    expect(() => parseRule(input)).toThrow(expect.objectContaining({ name: 'RuleValidationError', field }));
  });
});

describe('parseRule: review.requiredApprovals', () => {
  const review = (requiredApprovals: unknown) => ({ name: 'quorum', priority: 5, action: 'review', review: { requiredApprovals } });

  it.each([1, 2, 10])('accepts %i different approvers', (required) => {
    expect(parseRule(review(required)).review).toEqual({ requiredApprovals: required });
  });

  it.each([0, 11, 2.5, '2', null, -1])('refuses %s, naming the field and the range', (required) => {
    const error = refusalOf(review(required));
    expect(error.field).toBe('review.requiredApprovals');
    expect(error.message).toMatch(/whole number from 1 to 10/);
  });
});
