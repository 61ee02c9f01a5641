import { getServices } from '../src/composition.js';
import { InvalidInputError } from '../src/domain/errors.js';
import { adminRoute, jsonBody, stringField } from './admin-http.js';
import type { HttpFunctionSpec } from './registry.js';

/**
 * Four-eyes rule changes (src/app/rule-admin.ts):
 *   GET  /api/rule-proposals                      (Audit.Read or Rules.Write) every proposal, newest first
 *   POST /api/rule-proposals/{id}/confirm         (Rules.Write, not the proposer) applies it
 *   POST /api/rule-proposals/{id}/decline         (Rules.Write) { "comment": "why" }; the proposer withdraws
 */
export const ruleProposalsApiHandler = adminRoute(
  (request) => (request.method === 'GET' ? ['Audit.Read', 'Rules.Write'] : ['Rules.Write']),
  (request) => `${request.method} /api/rule-proposals${request.params.id ? `/${request.params.id.slice(0, 40)}/${(request.params.action ?? '').slice(0, 20)}` : ''}`,
  async (request, _context, principal) => {
    const { ruleAdmin } = getServices();
    if (request.method === 'GET') {
      if (request.params.id) throw new InvalidInputError('GET takes no proposal ID: GET /api/rule-proposals lists them all.');
      return { jsonBody: { proposals: await ruleAdmin.proposals() } };
    }
    const id = request.params.id;
    const action = request.params.action;
    if (!id || (action !== 'confirm' && action !== 'decline')) {
      throw new InvalidInputError('POST /api/rule-proposals/{id}/confirm or /api/rule-proposals/{id}/decline');
    }
    if (action === 'confirm') {
      const { proposal, rule } = await ruleAdmin.confirm(principal, id);
      return { status: 200, jsonBody: { status: 'applied', proposal, rule } };
    }
    const body = await jsonBody(request, true);
    return { status: 200, jsonBody: { proposal: await ruleAdmin.decline(principal, id, stringField(body, 'comment') ?? '') } };
  },
);

export const ruleProposalsApi: HttpFunctionSpec = {
  kind: 'http',
  name: 'ruleProposals',
  route: 'rule-proposals',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: ruleProposalsApiHandler,
};

export const ruleProposalActionApi: HttpFunctionSpec = {
  kind: 'http',
  name: 'ruleProposalAction',
  route: 'rule-proposals/{id}/{action}',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: ruleProposalsApiHandler,
};
