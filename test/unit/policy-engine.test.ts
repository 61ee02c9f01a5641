import { describe, expect, it } from 'vitest';
import { decide, type RequestFacts, type RequesterTenant, type StoredRule } from '../../src/domain/policy/engine.js';
import { compileGlob } from '../../src/domain/policy/glob.js';
import { parseRule } from '../../src/domain/policy/rule.js';
import { parsePrivateEndpointId, parseResourceId } from '../../src/domain/resource-id.js';
import { KEY_VAULT, RESOURCE_TYPES, type ResourceType } from '../../src/domain/resource-types.js';

const HOME_TENANT = 'c1d5e8a2-7f3b-4a9c-8e6d-0b2f4a6c8e1d';
const PARTNER_TENANT = 'e4b9d2a7-1c6f-4f3e-9a8b-7d0c2e5f1a36';
const DENY_LISTED_TENANT = '7a3f1c9e-5b2d-4e8a-b6c0-9d4e2f7a1b58';
const VAULT_SUBSCRIPTION = '3f2a9c4e-8b1d-4e6f-a5c7-2d9e0b4f7a13';
const REQUESTER_SUBSCRIPTION = '9d0c6b2e-4a7f-4e3b-b1c8-6f2a5d9e0c47';

const VAULT = parseResourceId(`/subscriptions/${VAULT_SUBSCRIPTION}/resourceGroups/rg-secrets/providers/Microsoft.KeyVault/vaults/kv-payments`);
const PRIVATE_ENDPOINT = parsePrivateEndpointId(
  `/subscriptions/${REQUESTER_SUBSCRIPTION}/resourceGroups/rg-payments-api/providers/Microsoft.Network/privateEndpoints/pe-payments-api`,
);

function facts(overrides: Partial<RequestFacts> = {}): RequestFacts {
  return {
    resource: VAULT,
    connectionName: 'pe-payments-api.9b2d4f6a-1c3e-4a5b-8d7f-0e2c4a6b8d1f',
    privateEndpoint: PRIVATE_ENDPOINT,
    requesterTenant: { kind: 'visible', tenantId: HOME_TENANT },
    requestMessage: 'CHG004211: payments API needs the signing keys',
    ...overrides,
  };
}

function tenant(tenantId: string): RequesterTenant {
  return { kind: 'visible', tenantId };
}

/** A rule as the rules API would have stored it. */
function rule(input: Record<string, unknown>): StoredRule {
  return { ok: true, rule: parseRule(input) };
}

const denyListedTenants = rule({ name: 'deny-listed-tenants', priority: 10, action: 'reject', conditions: { requesterTenant: [DENY_LISTED_TENANT.toUpperCase()] } });
const homeTenant = rule({ name: 'home-tenant', priority: 100, action: 'approve', conditions: { requesterTenant: ['home'] } });
const STANDARD_RULES = [homeTenant, denyListedTenants];

/** The decision of a single rule with one condition, for checking one condition kind. */
function heldBy(conditions: Record<string, unknown>, requestFacts: RequestFacts = facts()): { held: boolean; actual: string; expected: string } {
  const decision = decide([rule({ name: 'probe', priority: 1, action: 'ignore', conditions })], requestFacts, HOME_TENANT);
  const condition = decision.evaluations[0]?.conditions[0];
  if (!condition) throw new Error('the probe rule reported no condition');
  return { held: condition.held, actual: condition.actual, expected: condition.expected };
}

describe('decide: requester tenant', () => {
  it('approves a request from the home tenant through the home-tenant rule', () => {
    // Prepare
    const request = facts({ requesterTenant: tenant(HOME_TENANT) });

    // Act
    const decision = decide(STANDARD_RULES, request, HOME_TENANT);

    // Assess
    expect(decision.action).toBe('approve');
    expect(decision.ruleName).toBe('home-tenant');
    expect(decision.summary).toMatch(/^Rule 'home-tenant' \(priority 100\) matched key vault kv-payments: approve\. Because requesterTenant .* \(home\) is one of \[home\]\.$/);
  });

  it('rejects a request from a deny-listed tenant GUID, whatever the case of the GUID in the rule', () => {
    // Prepare
    const request = facts({ requesterTenant: tenant(DENY_LISTED_TENANT) });

    // Act
    const decision = decide(STANDARD_RULES, request, HOME_TENANT);

    // Assess
    expect(decision.action).toBe('reject');
    expect(decision.ruleName).toBe('deny-listed-tenants');
  });

  it('sends a request from another visible tenant to review by default', () => {
    // Prepare
    const request = facts({ requesterTenant: tenant(PARTNER_TENANT) });

    // Act
    const decision = decide(STANDARD_RULES, request, HOME_TENANT);

    // Assess
    expect(decision.action).toBe('review');
    expect(decision.ruleName).toBeUndefined();
    expect(decision.summary).toBe('No rule matched key vault kv-payments: review by default.');
  });

  it('matches a home tenant ID reported in upper case to the home selector', () => {
    // Prepare
    const request = facts({ requesterTenant: tenant(HOME_TENANT.toUpperCase()) });

    // Act
    const decision = decide(STANDARD_RULES, request, HOME_TENANT);

    // Assess
    expect(decision.action).toBe('approve');
  });

  it('matches a not-visible requester only to the not-visible selector, never to home or other', () => {
    // Prepare
    const rules = [
      rule({ name: 'home', priority: 10, action: 'approve', conditions: { requesterTenant: ['home'] } }),
      rule({ name: 'other', priority: 20, action: 'reject', conditions: { requesterTenant: ['other'] } }),
      rule({ name: 'not-visible', priority: 30, action: 'ignore', conditions: { requesterTenant: ['not-visible'] } }),
    ];

    // Act
    const decision = decide(rules, facts({ requesterTenant: { kind: 'not-visible' } }), HOME_TENANT);

    // Assess
    expect(decision.action).toBe('ignore');
    expect(decision.ruleName).toBe('not-visible');
    expect(decision.evaluations.map((e) => [e.rule, e.result])).toEqual([
      ['home', 'no-match'],
      ['other', 'no-match'],
      ['not-visible', 'matched'],
    ]);
  });

  it('matches the other selector to a visible foreign tenant but not to the home tenant', () => {
    // Prepare
    const other = { requesterTenant: ['other'] };

    // Act
    const foreign = heldBy(other, facts({ requesterTenant: tenant(PARTNER_TENANT) }));
    const home = heldBy(other, facts({ requesterTenant: tenant(HOME_TENANT) }));

    // Assess
    expect(foreign.held).toBe(true);
    expect(home.held).toBe(false);
  });

  it('matches no tenant selector when the requester is unknown', () => {
    // Prepare
    const everySelector = { requesterTenant: ['home', 'other', 'not-visible', HOME_TENANT] };

    // Act
    const result = heldBy(everySelector, facts({ requesterTenant: { kind: 'unknown' }, privateEndpoint: undefined }));

    // Assess
    expect(result).toEqual({ held: false, actual: 'unknown', expected: `one of [home, other, not-visible, ${HOME_TENANT}]` });
  });
});

describe('decide: order of rules', () => {
  it('runs the lower priority first, whatever the order the rules are given in', () => {
    // Prepare
    const rules = [
      rule({ name: 'late-reject', priority: 50, action: 'reject', conditions: { vault: { name: 'kv-*' } } }),
      rule({ name: 'early-approve', priority: 20, action: 'approve', conditions: { vault: { name: 'kv-*' } } }),
    ];

    // Act
    const decision = decide(rules, facts(), HOME_TENANT);

    // Assess
    expect(decision.ruleName).toBe('early-approve');
    expect(decision.evaluations.map((e) => e.rule)).toEqual(['early-approve']);
  });

  it('breaks a priority tie by rule name', () => {
    // Prepare
    const rules = [
      rule({ name: 'bravo', priority: 20, action: 'reject', conditions: { vault: { name: 'kv-*' } } }),
      rule({ name: 'alpha', priority: 20, action: 'approve', conditions: { vault: { name: 'kv-*' } } }),
    ];

    // Act
    const decision = decide(rules, facts(), HOME_TENANT);

    // Assess
    expect(decision.ruleName).toBe('alpha');
  });

  it('skips a disabled rule and lists it as disabled', () => {
    // Prepare
    const rules = [
      rule({ name: 'approve-all-disabled', priority: 1, enabled: false, action: 'approve', conditions: {} }),
      rule({ name: 'reject-partner', priority: 5, action: 'reject', conditions: { requesterTenant: ['other'] } }),
    ];

    // Act
    const decision = decide(rules, facts({ requesterTenant: tenant(PARTNER_TENANT) }), HOME_TENANT);

    // Assess
    expect(decision.ruleName).toBe('reject-partner');
    expect(decision.evaluations[0]).toEqual({
      rule: 'approve-all-disabled',
      priority: 1,
      mode: 'enforce',
      action: 'approve',
      result: 'disabled',
      conditions: [],
    });
  });
});

describe('decide: shadow rules', () => {
  const shadowReject = rule({ name: 'try-reject-partners', priority: 5, mode: 'shadow', action: 'reject', conditions: { requesterTenant: ['other'] } });
  const enforceApprove = rule({ name: 'approve-payments-vaults', priority: 50, action: 'approve', conditions: { vault: { name: 'kv-payments' } } });

  it('records a matching shadow rule and lets the enforcing rule after it decide', () => {
    // Prepare
    const request = facts({ requesterTenant: tenant(PARTNER_TENANT) });

    // Act
    const decision = decide([enforceApprove, shadowReject], request, HOME_TENANT);

    // Assess
    expect(decision.action).toBe('approve');
    expect(decision.ruleName).toBe('approve-payments-vaults');
    expect(decision.shadowMatches).toEqual([{ rule: 'try-reject-partners', action: 'reject' }]);
    expect(decision.evaluations.map((e) => [e.rule, e.mode, e.result])).toEqual([
      ['try-reject-partners', 'shadow', 'matched'],
      ['approve-payments-vaults', 'enforce', 'matched'],
    ]);
  });

  it('mentions what the shadow rule would have done in the summary', () => {
    // Prepare
    const request = facts({ requesterTenant: tenant(PARTNER_TENANT) });

    // Act
    const decision = decide([enforceApprove, shadowReject], request, HOME_TENANT);

    // Assess
    expect(decision.summary).toMatch(/^Rule 'approve-payments-vaults' \(priority 50\) matched key vault kv-payments: approve\. Because .*\. Shadow: 'try-reject-partners' would reject\.$/);
  });

  it('leaves the default in place when only a shadow rule matches', () => {
    // Prepare
    const request = facts({ requesterTenant: tenant(PARTNER_TENANT) });

    // Act
    const decision = decide([shadowReject], request, HOME_TENANT);

    // Assess
    expect(decision.action).toBe('review');
    expect(decision.ruleName).toBeUndefined();
    expect(decision.summary).toBe("No rule matched key vault kv-payments: review by default. Shadow: 'try-reject-partners' would reject.");
  });

  it('records no shadow match for a shadow rule whose conditions do not hold', () => {
    // Prepare
    const request = facts({ requesterTenant: tenant(HOME_TENANT) });

    // Act
    const decision = decide([enforceApprove, shadowReject], request, HOME_TENANT);

    // Assess
    expect(decision.shadowMatches).toEqual([]);
    expect(decision.summary).not.toContain('Shadow');
  });
});

describe('decide: explanation', () => {
  it('shows each condition of a non-matching rule with held, expected and actual', () => {
    // Prepare
    const rules = [rule({ name: 'home-payments', priority: 10, action: 'approve', conditions: { vault: { name: 'kv-*' }, requesterTenant: ['home'] } })];

    // Act
    const decision = decide(rules, facts({ requesterTenant: tenant(PARTNER_TENANT) }), HOME_TENANT);

    // Assess
    expect(decision.evaluations).toEqual([
      {
        rule: 'home-payments',
        priority: 10,
        mode: 'enforce',
        action: 'approve',
        result: 'no-match',
        conditions: [
          { field: 'vault.name', held: true, expected: 'kv-*', actual: 'kv-payments' },
          { field: 'resource.type', held: true, expected: 'one of [Microsoft.KeyVault/vaults]', actual: 'Microsoft.KeyVault/vaults' },
          { field: 'requesterTenant', held: false, expected: 'one of [home]', actual: PARTNER_TENANT },
        ],
      },
    ]);
  });

  it('shows each condition of the matched rule, marking the home tenant as such', () => {
    // Prepare
    const rules = [
      rule({ name: 'home-payments', priority: 10, action: 'approve', conditions: { vault: { resourceGroups: ['rg-secrets'] }, requesterTenant: ['home'] } }),
    ];

    // Act
    const decision = decide(rules, facts(), HOME_TENANT);

    // Assess
    expect(decision.evaluations[0]?.result).toBe('matched');
    expect(decision.evaluations[0]?.conditions).toEqual([
      { field: 'vault.resourceGroups', held: true, expected: 'one of [rg-secrets]', actual: 'rg-secrets' },
      { field: 'resource.type', held: true, expected: 'one of [Microsoft.KeyVault/vaults]', actual: 'Microsoft.KeyVault/vaults' },
      { field: 'requesterTenant', held: true, expected: 'one of [home]', actual: `${HOME_TENANT} (home)` },
    ]);
  });

  it('stops evaluating after the deciding rule', () => {
    // Prepare
    const fallback = rule({ name: 'zz-review-rest', priority: 1000, action: 'review', conditions: {} });

    // Act
    const decision = decide([fallback, ...STANDARD_RULES], facts(), HOME_TENANT);

    // Assess
    expect(decision.evaluations.map((e) => e.rule)).toEqual(['deny-listed-tenants', 'home-tenant']);
  });
});

describe('decide: condition kinds', () => {
  it.each<{ kind: string; conditions: Record<string, unknown> }>([
    { kind: 'vault resource ID glob with one * per segment', conditions: { vault: { resourceId: '/subscriptions/*/resourceGroups/rg-secrets/providers/Microsoft.KeyVault/vaults/kv-*' } } },
    { kind: 'vault resource ID glob with ** across segments', conditions: { vault: { resourceId: '/subscriptions/**/vaults/kv-payments' } } },
    { kind: 'vault resource ID glob in another case', conditions: { vault: { resourceId: `/SUBSCRIPTIONS/${VAULT_SUBSCRIPTION}/resourcegroups/RG-SECRETS/providers/microsoft.keyvault/vaults/KV-PAYMENTS` } } },
    { kind: 'vault subscription written in upper case', conditions: { vault: { subscriptions: [VAULT_SUBSCRIPTION.toUpperCase()] } } },
    { kind: 'vault resource group in another case', conditions: { vault: { resourceGroups: ['rg-other', 'RG-Secrets'] } } },
    { kind: 'vault name glob', conditions: { vault: { name: 'kv-pay*' } } },
    { kind: 'vault name glob with ?', conditions: { vault: { name: 'kv-paym?nts' } } },
    { kind: 'requester subscription', conditions: { requesterSubscriptions: [REQUESTER_SUBSCRIPTION] } },
    { kind: 'private endpoint name glob', conditions: { privateEndpointName: 'pe-payments-*' } },
    { kind: 'request message regex, case-insensitive', conditions: { requestMessage: '^chg\\d{6}:' } },
  ])('$kind holds for the payments request', ({ conditions }) => {
    // Prepare: the standard facts (vault kv-payments in rg-secrets, endpoint pe-payments-api).

    // Act
    const result = heldBy(conditions);

    // Assess
    expect(result.held).toBe(true);
  });

  it.each<{ kind: string; conditions: Record<string, unknown> }>([
    { kind: 'vault resource ID glob whose * would have to cross a /', conditions: { vault: { resourceId: '/subscriptions/*/vaults/kv-payments' } } },
    { kind: 'vault resource ID glob for another resource group', conditions: { vault: { resourceId: '/subscriptions/**/resourceGroups/rg-hr/**' } } },
    { kind: 'vault subscription of another subscription', conditions: { vault: { subscriptions: [REQUESTER_SUBSCRIPTION] } } },
    { kind: 'vault resource group list without rg-secrets', conditions: { vault: { resourceGroups: ['rg-secrets-dr'] } } },
    { kind: 'vault name glob for other vaults', conditions: { vault: { name: 'kv-hr-*' } } },
    { kind: 'requester subscription list with only the vault subscription', conditions: { requesterSubscriptions: [VAULT_SUBSCRIPTION] } },
    { kind: 'private endpoint name glob for other endpoints', conditions: { privateEndpointName: 'pe-hr-*' } },
    { kind: 'request message regex that does not occur', conditions: { requestMessage: 'INC\\d+' } },
  ])('$kind does not hold for the payments request', ({ conditions }) => {
    // Prepare: the standard facts.

    // Act
    const result = heldBy(conditions);

    // Assess
    expect(result.held).toBe(false);
  });

  it('treats an absent request message as the empty string', () => {
    // Prepare
    const request = facts({ requestMessage: undefined });

    // Act
    const result = heldBy({ requestMessage: '^$' }, request);

    // Assess
    expect(result).toEqual({ held: true, expected: '/^$/i', actual: '""' });
  });

  it('does not hold an endpoint condition when the private endpoint is unknown', () => {
    // Prepare
    const request = facts({ privateEndpoint: undefined, requesterTenant: { kind: 'unknown' } });

    // Act
    const subscriptions = heldBy({ requesterSubscriptions: [REQUESTER_SUBSCRIPTION] }, request);
    const name = heldBy({ privateEndpointName: '**' }, request);

    // Assess
    expect(subscriptions).toMatchObject({ held: false, actual: '(unknown)' });
    expect(name).toMatchObject({ held: false, actual: '(unknown)' });
  });

  it('requires every condition of a rule to hold', () => {
    // Prepare
    const rules = [rule({ name: 'payments-from-partner', priority: 1, action: 'approve', conditions: { vault: { name: 'kv-payments' }, requesterTenant: ['other'] } })];

    // Act
    const decision = decide(rules, facts(), HOME_TENANT);

    // Assess
    expect(decision.action).toBe('review');
    expect(decision.evaluations[0]?.conditions.map((c) => c.held)).toEqual([true, true, false]);
  });
});

describe('decide: safety downgrades', () => {
  const brokenRow: StoredRule = { ok: false, name: 'legacy-partner-block', error: 'action: must be one of approve, reject, review, ignore' };

  it('withholds an automatic approve when a stored rule is unreadable, naming it', () => {
    // Prepare
    const rules = [...STANDARD_RULES, brokenRow];

    // Act
    const decision = decide(rules, facts(), HOME_TENANT);

    // Assess
    expect(decision.action).toBe('review');
    expect(decision.summary).toContain("Rule 'home-tenant' said approve, but rule(s) 'legacy-partner-block' could not be read");
  });

  it('withholds an automatic reject when a stored rule is unreadable', () => {
    // Prepare
    const rules = [brokenRow, ...STANDARD_RULES];

    // Act
    const decision = decide(rules, facts({ requesterTenant: tenant(DENY_LISTED_TENANT) }), HOME_TENANT);

    // Assess
    expect(decision.action).toBe('review');
    expect(decision.summary).toContain("Rule 'deny-listed-tenants' said reject");
  });

  it('lists an unreadable rule in the evaluations with its error', () => {
    // Prepare
    const rules = [...STANDARD_RULES, brokenRow];

    // Act
    const decision = decide(rules, facts(), HOME_TENANT);

    // Assess
    expect(decision.evaluations).toContainEqual({
      rule: 'legacy-partner-block',
      priority: undefined,
      mode: undefined,
      action: undefined,
      result: 'unreadable',
      conditions: [],
      error: 'action: must be one of approve, reject, review, ignore',
    });
  });

  it('leaves an ignore decision alone when a stored rule is unreadable', () => {
    // Prepare
    const rules = [rule({ name: 'ignore-payments', priority: 1, action: 'ignore', conditions: { vault: { name: 'kv-payments' } } }), brokenRow];

    // Act
    const decision = decide(rules, facts(), HOME_TENANT);

    // Assess
    expect(decision.action).toBe('ignore');
    expect(decision.summary).toBe("Rule 'ignore-payments' (priority 1) matched key vault kv-payments: ignore. Because vault.name kv-payments matches kv-payments; resource.type Microsoft.KeyVault/vaults is one of [Microsoft.KeyVault/vaults].");
  });

  it('leaves a review decision alone when a stored rule is unreadable', () => {
    // Prepare
    const rules = [rule({ name: 'review-payments', priority: 1, action: 'review', conditions: { vault: { name: 'kv-payments' } } }), brokenRow];

    // Act
    const decision = decide(rules, facts(), HOME_TENANT);

    // Assess
    expect(decision.action).toBe('review');
    expect(decision.summary).toBe("Rule 'review-payments' (priority 1) matched key vault kv-payments: review. Because vault.name kv-payments matches kv-payments; resource.type Microsoft.KeyVault/vaults is one of [Microsoft.KeyVault/vaults].");
  });

  it('leaves the default review alone when only an unreadable rule exists', () => {
    // Prepare
    const rules = [brokenRow];

    // Act
    const decision = decide(rules, facts(), HOME_TENANT);

    // Assess
    expect(decision.action).toBe('review');
    expect(decision.summary).toBe('No rule matched key vault kv-payments: review by default.');
  });

  it('withholds an automatic approve when the requester is unknown', () => {
    // Prepare
    const rules = [rule({ name: 'approve-payments-vault', priority: 1, action: 'approve', conditions: { vault: { name: 'kv-payments' } } })];
    const request = facts({ privateEndpoint: undefined, requesterTenant: { kind: 'unknown' } });

    // Act
    const decision = decide(rules, request, HOME_TENANT);

    // Assess
    expect(decision.action).toBe('review');
    expect(decision.summary).toContain("Rule 'approve-payments-vault' said approve, but the requester's private endpoint ID could not be read");
  });
});

describe('decide: no rules', () => {
  it('sends the request to review with the summary No rule matched', () => {
    // Prepare
    const rules: StoredRule[] = [];

    // Act
    const decision = decide(rules, facts(), HOME_TENANT);

    // Assess
    expect(decision).toEqual({
      action: 'review',
      ruleName: undefined,
      shadowMatches: [],
      summary: 'No rule matched key vault kv-payments: review by default.',
      evaluations: [],
    });
  });
});

describe('compileGlob', () => {
  it('lets * match within one segment only', () => {
    // Prepare
    const glob = compileGlob('/vaults/*');

    // Act
    const within = glob.test('/vaults/kv-payments');
    const across = glob.test('/vaults/kv-payments/privateEndpointConnections/pe-1');

    // Assess
    expect([within, across]).toEqual([true, false]);
  });

  it('lets ** match across segments', () => {
    // Prepare
    const glob = compileGlob('/subscriptions/**/vaults/kv-payments');

    // Act
    const matched = glob.test(`/subscriptions/${VAULT_SUBSCRIPTION}/resourceGroups/rg-secrets/providers/Microsoft.KeyVault/vaults/kv-payments`);

    // Assess
    expect(matched).toBe(true);
  });

  it('lets ? match exactly one character other than /', () => {
    // Prepare
    const glob = compileGlob('kv-?');

    // Act
    const results = ['kv-1', 'kv-12', 'kv-', 'kv-/'].map((name) => glob.test(name));

    // Assess
    expect(results).toEqual([true, false, false, false]);
  });

  it('treats regular expression metacharacters as literal characters', () => {
    // Prepare
    const glob = compileGlob('kv.(pay)+[1]$^|{2}\\');

    // Act
    const literal = glob.test('kv.(pay)+[1]$^|{2}\\');
    const asRegex = glob.test('kvX(pay)paypay1');

    // Assess
    expect([literal, asRegex]).toEqual([true, false]);
  });

  it('matches without regard to case', () => {
    // Prepare
    const glob = compileGlob('/Subscriptions/*/resourceGroups/RG-Secrets');

    // Act
    const matched = glob.test(`/subscriptions/${VAULT_SUBSCRIPTION}/resourcegroups/rg-secrets`);

    // Assess
    expect(matched).toBe(true);
  });

  it('anchors the whole string', () => {
    // Prepare
    const glob = compileGlob('kv-payments');

    // Act
    const results = ['kv-payments', 'kv-payments-dr', 'old-kv-payments'].map((name) => glob.test(name));

    // Assess
    expect(results).toEqual([true, false, false]);
  });
});

describe('decide: the resource condition, for every registered type', () => {
  const idOf = (type: ResourceType, name: string) => `/subscriptions/${VAULT_SUBSCRIPTION}/resourceGroups/rg-Data/providers/${type.type}/${name}`;

  it.each(RESOURCE_TYPES.map((t) => [t.key, t] as const))('matches a %s by type key, ARM type, ID glob, name glob, group and subscription, whatever the casing', (_key, type) => {
    // Prepare: the resource as an event in odd casing would name it (a name every type's rule allows)
    const resource = parseResourceId(idOf(type, 'ResPayments').toUpperCase().replace(VAULT_SUBSCRIPTION.toUpperCase(), VAULT_SUBSCRIPTION));
    const conditions = {
      resource: {
        types: [type.key, type.type.toLowerCase()],
        resourceId: `/subscriptions/*/resourcegroups/rg-data/providers/${type.type.toLowerCase()}/res*`,
        name: 'respay*',
        resourceGroups: ['RG-DATA'],
        subscriptions: [VAULT_SUBSCRIPTION.toUpperCase()],
      },
    };

    // Act
    const decision = decide([rule({ name: 'by-resource', priority: 1, action: 'approve', conditions })], facts({ resource }), HOME_TENANT);

    // Assess
    expect(decision.action).toBe('approve');
    expect(decision.evaluations[0]?.conditions.map((c) => [c.field, c.held])).toEqual([
      ['resource.resourceId', true],
      ['resource.subscriptions', true],
      ['resource.resourceGroups', true],
      ['resource.name', true],
      ['resource.type', true],
    ]);
    expect(decision.summary).toContain(`matched ${type.noun} RESPAYMENTS: approve`);
  });

  it.each(RESOURCE_TYPES.filter((t) => t !== KEY_VAULT).map((t) => [t.key, t] as const))('does not let a vault condition match a %s, and says which type it saw', (_key, type) => {
    // Prepare
    const resource = parseResourceId(idOf(type, 'kvpayments'));

    // Act
    const decision = decide([rule({ name: 'vault-names', priority: 1, action: 'approve', conditions: { vault: { name: 'kv*' } } })], facts({ resource }), HOME_TENANT);

    // Assess
    expect(decision.action).toBe('review');
    expect(decision.evaluations[0]?.conditions).toContainEqual({ field: 'resource.type', held: false, expected: `one of [${KEY_VAULT.type}]`, actual: type.type });
    expect(decision.summary).toBe(`No rule matched ${type.noun} kvpayments: review by default.`);
  });

  it('lets a rule without a resource condition apply to every type', () => {
    // Act
    const actions = RESOURCE_TYPES.map((type) => decide([denyListedTenants], facts({ resource: parseResourceId(idOf(type, 'anyres1')), requesterTenant: tenant(DENY_LISTED_TENANT) }), HOME_TENANT).action);

    // Assess
    expect(actions).toEqual(RESOURCE_TYPES.map(() => 'reject'));
  });

  it('matches a resource condition on types only against the listed types', () => {
    // Prepare
    const sqlOnly = rule({ name: 'sql-only', priority: 1, action: 'reject', conditions: { resource: { types: ['sql'] } } });

    // Act
    const outcomes = RESOURCE_TYPES.map((type) => [type.key, decide([sqlOnly], facts({ resource: parseResourceId(idOf(type, 'xresource1')) }), HOME_TENANT).action]);

    // Assess
    expect(outcomes.filter(([, action]) => action === 'reject')).toEqual([['sql', 'reject']]);
  });
});

describe('decide: break-glass hold on automatic decisions', () => {
  const hold = { by: { objectId: 'ada00000-0000-4000-8000-0000000000a1', name: 'Ada Approver' }, at: new Date('2026-12-02T02:00:00Z'), reason: 'incident 42' };

  it.each([
    ['an approval', facts({ requesterTenant: tenant(HOME_TENANT) }), 'approve'],
    ['a rejection', facts({ requesterTenant: tenant(DENY_LISTED_TENANT) }), 'reject'],
  ])('sends %s to a person while the hold is in place, naming who placed it and why', (_what, request, without) => {
    expect(decide(STANDARD_RULES, request, HOME_TENANT).action).toBe(without);
    const held = decide(STANDARD_RULES, request, HOME_TENANT, hold);
    expect(held.action).toBe('review');
    expect(held.summary).toMatch(/automatic decisions are on hold \(by Ada Approver since 2026-12-02T02:00:00.000Z: incident 42\), so a person decides/);
  });

  it('leaves reviews and ignores as they are', () => {
    const request = facts({ requesterTenant: tenant(PARTNER_TENANT) });
    expect(decide(STANDARD_RULES, request, HOME_TENANT, hold)).toEqual(decide(STANDARD_RULES, request, HOME_TENANT));
  });
});
