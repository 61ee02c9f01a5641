import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { acceptedOperations, parseResourceEvent } from '../../src/adapters/eventgrid/resource-event.js';
import { handleResourceEvent } from '../../src/app/event-intake.js';
import { decide, type RequestFacts, type RequesterTenant, type StoredRule } from '../../src/domain/policy/engine.js';
import { parseRule, RULE_ACTIONS } from '../../src/domain/policy/rule.js';
import { brokenEvent, mutatedEvent } from '../fixtures/event-arbitraries.js';
import { DENIED_SUB, DENIED_TENANT, HOME_SUB, HOME_TENANT, OTHER_SUB, OTHER_TENANT, VAULT, VAULT_SUB, harness } from './fakes.js';

/**
 * Properties of intake (the real parseResourceEvent, the workflow on in-memory fakes) and of the
 * policy engine, over mutated Event Grid and CloudEvents payloads and random rule tables. The
 * seed is fixed so a failure reproduces; fast-check prints the counterexample and its path.
 */
const SEED = 20_261_202;
const vaultEvents = { subscriptionId: VAULT_SUB, resourceGroup: 'rg-secrets', vaultName: 'kv-payments', childName: 'pe-1' };
const OPERATIONS = acceptedOperations();

const glob = fc.constantFrom('*', 'kv-*', 'kv-pay??nts', '**', '/subscriptions/*/resourceGroups/rg-secrets/**', 'pe-*', 'st*', '[', '');
const pattern = fc.oneof(
  fc.constantFrom('^CHG-\\d+', 'please', '(?=x)', '(a)\\1', '^(a+)+$', `${'\\w{0,140}'.repeat(8)}!`, '(\\w{0,140}){8}!', '[', '(?i)PLEASE', ''),
  fc.string({ maxLength: 30 }),
);
const tenants = fc.array(fc.constantFrom('home', 'other', 'not-visible', HOME_TENANT, OTHER_TENANT, DENIED_TENANT, 'HOME', 'nobody'), { maxLength: 3 });
const subscriptions = fc.array(fc.constantFrom(HOME_SUB, OTHER_SUB, DENIED_SUB, VAULT_SUB, 'not-a-guid'), { maxLength: 3 });

/** A rule as an API body or a hand-edited row might carry it: valid or not. */
const ruleInput = fc.record(
  {
    priority: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constantFrom(-1, 1.5, '10')),
    enabled: fc.oneof(fc.boolean(), fc.constant('yes')),
    mode: fc.constantFrom('enforce', 'shadow', 'later'),
    action: fc.constantFrom(...RULE_ACTIONS, 'allow'),
    conditions: fc.record(
      {
        vault: fc.record({ name: glob, resourceGroups: fc.constant(['rg-secrets']) }, { requiredKeys: [] }),
        resource: fc.record({ types: fc.constantFrom(['keyvault'], ['storage'], ['redis']), name: glob, resourceId: glob }, { requiredKeys: [] }),
        requesterTenant: tenants,
        requesterSubscriptions: subscriptions,
        privateEndpointName: glob,
        requestMessage: pattern,
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ['priority', 'action'] },
);

/** A rule table as the store hands it over: unique names, each row understood or not. */
const ruleTable = fc.array(ruleInput, { maxLength: 6 }).map((inputs) =>
  inputs.map((input, index): StoredRule => {
    const name = `rule-${index}`;
    try {
      return { ok: true, rule: parseRule({ name, ...input }) };
    } catch (error) {
      return { ok: false, name, error: (error as Error).message };
    }
  }),
);

const requesterTenant: fc.Arbitrary<RequesterTenant> = fc.oneof(
  fc.constantFrom(HOME_TENANT, OTHER_TENANT, DENIED_TENANT).map((tenantId): RequesterTenant => ({ kind: 'visible', tenantId })),
  fc.constant<RequesterTenant>({ kind: 'not-visible' }),
  fc.constant<RequesterTenant>({ kind: 'unknown' }),
);

const facts: fc.Arbitrary<RequestFacts> = fc.record({
  resource: fc.constant(VAULT),
  connectionName: fc.constant('pe-1.abc'),
  privateEndpoint: fc.option(fc.constantFrom(HOME_SUB, OTHER_SUB).map((sub) => ({ id: `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe-1`, subscriptionId: sub, resourceGroup: 'rg', name: 'pe-1' })), { nil: undefined }),
  requesterTenant,
  requestMessage: fc.option(fc.oneof(fc.string({ maxLength: 160 }), fc.constant('CHG-42 please'), fc.constant('a'.repeat(140))), { nil: undefined }),
});

/** One delivered event through intake on fresh fakes; what it did, in comparable form. */
async function deliver(event: unknown, rules: StoredRule[] | undefined) {
  const h = harness();
  if (rules) h.rules.stored = rules;
  h.connections.add('pe-1', HOME_SUB, 'CHG-42 please');
  const result = await handleResourceEvent({ parse: (raw) => parseResourceEvent(raw), audit: h.audit, workflow: h.workflow }, event);
  return { result, puts: h.connections.puts.map((p) => `${p.change.status} ${p.id}`), audit: h.audit.kinds() };
}

describe('intake properties, over mutated Event Grid and CloudEvents payloads', () => {
  it('never throws, never writes to ARM for input it cannot act on, and does the same twice', async () => {
    await fc.assert(
      fc.asyncProperty(mutatedEvent(vaultEvents), fc.option(ruleTable, { nil: undefined }), async (event, rules) => {
        // Act
        const first = await deliver(event, rules);
        const second = await deliver(event, rules);

        // Assess
        expect(['unrelated', 'invalid', 'handled']).toContain(first.result.kind);
        if (first.result.kind !== 'handled') expect(first.puts).toEqual([]);
        if (first.result.kind === 'handled') {
          const operation = (event as { data?: { operationName?: unknown } }).data?.operationName;
          expect(typeof operation === 'string' && OPERATIONS.has(operation.toLowerCase())).toBe(true);
        }
        if (rules?.some((r) => !r.ok)) expect(first.puts).toEqual([]);
        expect(second).toEqual(first);
      }),
      { numRuns: 150, seed: SEED },
    );
  });

  it('acts on nothing once an event is broken (bad segments, non-GUID subscriptions, near-miss operations, wrong types, deep nesting)', async () => {
    await fc.assert(
      fc.asyncProperty(brokenEvent(vaultEvents), async (event) => {
        // Act
        const { result, puts, audit } = await deliver(event, undefined);

        // Assess
        expect(result.kind).not.toBe('handled');
        expect(puts).toEqual([]);
        if (result.kind === 'invalid') expect(audit).toEqual(['error:invalid']);
      }),
      { numRuns: 150, seed: SEED + 1 },
    );
  });
});

describe('policy engine properties, over random rule tables', () => {
  it('decides without throwing, the same way twice and whatever the table order, and fails closed', () => {
    fc.assert(
      fc.property(ruleTable, facts, fc.integer(), (rules, request, shift) => {
        // Act
        const decision = decide(rules, request, HOME_TENANT);
        const again = decide(rules, request, HOME_TENANT);
        const rotated = decide([...rules.slice(shift % (rules.length || 1)), ...rules.slice(0, shift % (rules.length || 1))], request, HOME_TENANT);

        // Assess
        expect(RULE_ACTIONS).toContain(decision.action);
        expect(again).toEqual(decision);
        expect(rotated.action).toBe(decision.action);
        expect(rotated.ruleName).toBe(decision.ruleName);
        const automatic = decision.action === 'approve' || decision.action === 'reject';
        if (rules.some((r) => !r.ok) || request.requesterTenant.kind === 'unknown') expect(automatic).toBe(false);
        if (automatic) {
          const winner = rules.find((r) => r.ok && r.rule.name === decision.ruleName);
          expect(winner?.ok && winner.rule).toMatchObject({ enabled: true, mode: 'enforce', action: decision.action });
          expect(decision.evaluations.find((e) => e.rule === decision.ruleName)?.conditions.every((c) => c.held)).toBe(true);
        }
      }),
      { numRuns: 400, seed: SEED + 2 },
    );
  });
});
