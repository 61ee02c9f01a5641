import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../src/dev/local-stack.js';
import { auth, startTestStack } from './helpers.js';

/**
 * The rules API under random input, through the local stack with a real token: no 5xx, and
 * whatever one person's requests put in force at once, no rule approves or rejects on its own
 * that did not already.
 */
describe('admin APIs: random bodies and names never get a 5xx, and never put a deciding rule in force alone', () => {
  // A stack of its own (and a file of its own: the stack's services are process-wide): the fuzz
  // may delete or disable the demo rules, which the other tests need.
  let fuzzStack: LocalStack;
  beforeAll(async () => {
    fuzzStack = await startTestStack();
  });
  afterAll(async () => {
    await fuzzStack?.close();
  });

  it('answers 200, 202, 400 or 404 to anything a client may send to the rules API', async () => {
    const headers = await auth(fuzzStack, 'ada');
    const deciding = async () => {
      const response = await fetch(`${fuzzStack.functionsUrl}/api/rules`, { headers });
      const { rules } = (await response.json()) as { rules: Array<{ name: string; enabled: boolean; mode: string; action: string; description?: string }> };
      return rules.filter((r) => r.enabled && r.mode === 'enforce' && (r.action === 'approve' || r.action === 'reject')).map((r) => JSON.stringify({ ...r, description: null }));
    };
    const before = await deciding();
    const name = fc.oneof(fc.constantFrom('fuzzed', 'in-tenant', 'deny-listed-tenants', 'a%2Fb', '..', '%00', 'x'.repeat(70)), fc.stringMatching(/^[A-Za-z0-9._%-]{1,20}$/));
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.record({ priority: fc.oneof(fc.integer({ min: -5, max: 5 }), fc.string()), action: fc.constantFrom('approve', 'reject', 'review', 'ignore', 'allow'), mode: fc.constantFrom('enforce', 'shadow', 1), conditions: fc.jsonValue({ maxDepth: 3 }) }, { requiredKeys: [] }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('PUT', 'DELETE'), name, body, async (method, ruleName, ruleBody) => {
        const response = await fetch(`${fuzzStack.functionsUrl}/api/rules/${ruleName}`, { method, headers: { ...headers, 'content-type': 'application/json' }, ...(method === 'PUT' ? { body: JSON.stringify(ruleBody) } : {}) });
        await response.text();
        expect([200, 202, 204, 400, 404]).toContain(response.status);
      }),
      { seed: 20_261_204, numRuns: 60 },
    );
    // Whatever took effect at once, every rule that approves or rejects on its own was one before, unchanged.
    for (const rule of await deciding()) expect(before).toContain(rule);
  });
});

