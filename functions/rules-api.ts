import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getServices } from '../src/composition.js';
import { RuleValidationError } from '../src/domain/errors.js';
import type { HttpFunctionSpec } from './registry.js';

/**
 * GET /api/rules, PUT /api/rules/{name}, DELETE /api/rules/{name} (src/app/rule-admin.ts).
 * A rule that cannot be understood is refused with a message naming the field, and nothing is stored.
 */
export async function rulesApiHandler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const { ruleAdmin } = getServices();
  const name = request.params.name;
  if (request.method === 'GET') return { jsonBody: await ruleAdmin.list() };
  if (!name) return { status: 400, jsonBody: { error: 'The rule name is missing from the path: /api/rules/{name}' } };
  if (request.method === 'DELETE') {
    return (await ruleAdmin.delete(name)) ? { status: 204 } : { status: 404, jsonBody: { error: `No rule named '${name}'` } };
  }
  let body: unknown;
  try {
    body = JSON.parse(await request.text());
  } catch (error) {
    return { status: 400, jsonBody: { error: `The body is not JSON: ${(error as Error).message}. Nothing was stored.` } };
  }
  try {
    const rule = await ruleAdmin.write(name, body);
    context.log(`Rule '${rule.name}' written`);
    return { status: 200, jsonBody: rule };
  } catch (error) {
    if (error instanceof RuleValidationError) {
      return { status: 400, jsonBody: { error: `Rule refused: ${error.message}. Nothing was stored.`, field: error.field } };
    }
    throw error;
  }
}

export const rulesApi: HttpFunctionSpec = {
  kind: 'http',
  name: 'rules',
  route: 'rules/{name?}',
  methods: ['GET', 'PUT', 'DELETE'],
  authLevel: 'function',
  handler: rulesApiHandler,
};
