import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getServices } from '../src/composition.js';
import { RuleValidationError } from '../src/domain/errors.js';
import { parseRule } from '../src/domain/policy/rule.js';
import type { HttpFunctionSpec } from './registry.js';

/**
 * GET /api/rules, PUT /api/rules/{name}, DELETE /api/rules/{name}.
 * A rule is validated when it is written; one that cannot be understood is refused with a
 * message naming the field, and nothing is stored.
 */
export async function rulesApiHandler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const { rules, audit } = getServices();
  const name = request.params.name;
  if (request.method === 'GET') {
    const stored = await rules.list();
    return {
      jsonBody: {
        rules: stored.filter((r) => r.ok).map((r) => (r.ok ? r.rule : undefined)),
        unreadable: stored.filter((r) => !r.ok).map((r) => (r.ok ? undefined : { name: r.name, error: r.error })),
      },
    };
  }
  if (!name) return { status: 400, jsonBody: { error: 'The rule name is missing from the path: /api/rules/{name}' } };
  if (request.method === 'DELETE') {
    const deleted = await rules.delete(name);
    if (deleted) await auditRuleChange(audit, name, 'deleted');
    return deleted ? { status: 204 } : { status: 404, jsonBody: { error: `No rule named '${name}'` } };
  }
  let body: unknown;
  try {
    body = JSON.parse(await request.text());
  } catch (error) {
    return { status: 400, jsonBody: { error: `The body is not JSON: ${(error as Error).message}. Nothing was stored.` } };
  }
  try {
    const withName = typeof body === 'object' && body !== null && !Array.isArray(body) ? { name, ...body } : body;
    const rule = parseRule(withName);
    if (rule.name.toLowerCase() !== name.toLowerCase()) {
      throw new RuleValidationError('name', `'${rule.name}' differs from the name in the path ('${name}')`);
    }
    await rules.put(rule);
    await auditRuleChange(audit, rule.name, 'written', rule);
    context.log(`Rule '${rule.name}' written`);
    return { status: 200, jsonBody: rule };
  } catch (error) {
    if (error instanceof RuleValidationError) {
      return { status: 400, jsonBody: { error: `Rule refused: ${error.message}. Nothing was stored.`, field: error.field } };
    }
    throw error;
  }
}

async function auditRuleChange(audit: ReturnType<typeof getServices>['audit'], name: string, change: string, rule?: unknown) {
  await audit.append({
    kind: 'human',
    outcome: 'skipped',
    actor: { type: 'system', id: 'rules-api' },
    summary: `Rule '${name}' ${change}.`,
    ruleName: name,
    ...(rule ? { detail: { rule } } : {}),
  });
}

export const rulesApi: HttpFunctionSpec = {
  kind: 'http',
  name: 'rules',
  route: 'rules/{name?}',
  methods: ['GET', 'PUT', 'DELETE'],
  authLevel: 'function',
  handler: rulesApiHandler,
};
