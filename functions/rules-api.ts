import { getServices } from '../src/composition.js';
import { checkRuleName } from '../src/app/rule-admin.js';
import { adminRoute, jsonBody } from './admin-http.js';
import type { HttpFunctionSpec } from './registry.js';

/**
 * GET /api/rules (Audit.Read or Rules.Write), PUT /api/rules/{name} and DELETE /api/rules/{name}
 * (Rules.Write); src/app/rule-admin.ts. A PUT answers 200 with the rule when it took effect, or
 * 202 with a proposal when a second person must confirm it (four-eyes). A rule that cannot be
 * understood, or a name that cannot name a rule, is refused with 400 before anything is read.
 */
export const rulesApiHandler = adminRoute(
  (request) => (request.method === 'GET' ? ['Audit.Read', 'Rules.Write'] : ['Rules.Write']),
  (request) => `${request.method} /api/rules${request.params.name ? `/${request.params.name.slice(0, 80)}` : ''}`,
  async (request, context, principal) => {
    const { ruleAdmin } = getServices();
    if (request.method === 'GET') return { jsonBody: await ruleAdmin.list() };
    const name = checkRuleName(request.params.name);
    if (request.method === 'DELETE') {
      return (await ruleAdmin.delete(principal, name)) ? { status: 204 } : { status: 404, jsonBody: { error: `No rule named '${name}'` } };
    }
    const result = await ruleAdmin.write(principal, name, await jsonBody(request));
    if (result.kind === 'proposed') {
      context.log(`Rule '${result.proposal.ruleName}' change proposed by ${principal.name} (${result.proposal.id})`);
      return {
        status: 202,
        jsonBody: {
          status: 'proposed',
          message: `This change needs a second person with Rules.Write because ${result.proposal.reason}. Until confirmed, nothing changed. Confirm with: linkgate proposals confirm ${result.proposal.id}`,
          proposal: result.proposal,
        },
      };
    }
    context.log(`Rule '${result.rule.name}' written by ${principal.name}`);
    return { status: 200, jsonBody: { status: result.unchanged ? 'unchanged' : 'applied', reason: result.reason, rule: result.rule } };
  },
);

export const rulesApi: HttpFunctionSpec = {
  kind: 'http',
  name: 'rules',
  route: 'rules/{name?}',
  methods: ['GET', 'PUT', 'DELETE'],
  authLevel: 'anonymous',
  handler: rulesApiHandler,
};

