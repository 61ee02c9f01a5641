import { getServices } from '../src/composition.js';
import { principalDetail } from '../src/domain/principal.js';
import { automationStatus, holdAutomation, releaseAutomation } from '../src/app/automation.js';
import { replayConnection } from '../src/app/replay.js';
import { InvalidInputError } from '../src/domain/errors.js';
import { adminRoute, jsonBody, stringField } from './admin-http.js';
import type { HttpFunctionSpec } from './registry.js';

/**
 * POST /api/sweep (Operate) — runs the sweep now, as the timer does, and answers its report. Its
 * audit summary names the person who asked for it; what it decides goes through the same steps as
 * any hint, so a sweep on demand can never decide differently from one on schedule.
 */
export const sweepApiHandler = adminRoute(
  () => ['Operate'],
  () => 'POST /api/sweep',
  async (_request, context, principal) => {
    const report = await getServices().sweep({ by: principal });
    context.log(`Sweep run by ${principal.name}: ${report.errors.length} error(s)`);
    return { status: 200, jsonBody: { ...report, errors: report.errors.slice(0, 100) } };
  },
);

export const sweepApi: HttpFunctionSpec = {
  kind: 'http',
  name: 'sweepNow',
  route: 'sweep',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: sweepApiHandler,
};

/** GET /api/whoami (any valid token) — who Linkgate takes the caller to be, and the roles it sees. */
export const whoamiApiHandler = adminRoute(
  () => [],
  () => 'GET /api/whoami',
  async (_request, _context, principal) => ({ status: 200, jsonBody: principalDetail(principal) }),
);

export const whoamiApi: HttpFunctionSpec = {
  kind: 'http',
  name: 'whoami',
  route: 'whoami',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: whoamiApiHandler,
};

/**
 * Break-glass (src/app/automation.ts):
 *   GET  /api/automation                 (Audit.Read or Operate) whether rules decide automatically
 *   POST /api/automation/hold            (Operate) { "reason": "…" } every approve/reject goes to a person
 *   POST /api/automation/release         (Operate) { "reason": "…" }
 */
export const automationApiHandler = adminRoute(
  (request) => (request.method === 'GET' ? ['Audit.Read', 'Operate'] : ['Operate']),
  (request) => `${request.method} /api/automation${request.params.action ? `/${request.params.action.slice(0, 20)}` : ''}`,
  async (request, context, principal) => {
    const services = getServices();
    const deps = { rules: services.rules, audit: services.audit, clock: services.clock };
    const action = request.params.action;
    if (request.method === 'GET') {
      if (action) throw new InvalidInputError('GET /api/automation takes no action');
      return { status: 200, jsonBody: await automationStatus(deps) };
    }
    if (action !== 'hold' && action !== 'release') throw new InvalidInputError('POST /api/automation/hold or /api/automation/release, with { "reason": "…" }');
    const body = await jsonBody(request, true);
    const reason = stringField(body, 'reason') ?? '';
    const status = action === 'hold' ? await holdAutomation(deps, principal, reason) : await releaseAutomation(deps, principal, reason);
    context.warn(`Automatic decisions ${status.automatic ? 'released' : 'on hold'} by ${principal.name}`);
    return { status: 200, jsonBody: status };
  },
);

export const automationApi: HttpFunctionSpec = {
  kind: 'http',
  name: 'automation',
  route: 'automation/{action?}',
  methods: ['GET', 'POST'],
  authLevel: 'anonymous',
  handler: automationApiHandler,
};

/**
 * POST /api/connections/replay (Operate) `{ "connectionId": "…" }` — reads the connection's
 * resource again now, as a hint would; a failed connection gets its attempts back first
 * (src/app/replay.ts). An ID that cannot name a connection is a 400.
 */
export const replayApiHandler = adminRoute(
  () => ['Operate'],
  () => 'POST /api/connections/replay',
  async (request, context, principal) => {
    const services = getServices();
    const body = await jsonBody(request);
    const connectionId = stringField(body, 'connectionId');
    if (connectionId === undefined || connectionId.length > 2_000) throw new InvalidInputError('The body must be { "connectionId": "<private endpoint connection resource ID>" }.');
    const result = await replayConnection({ approvals: services.approvals, audit: services.audit, clock: services.clock, workflow: services.workflow }, principal, connectionId);
    context.log(`Replay of ${result.connectionId} by ${principal.name}: ${result.outcome}`);
    return { status: 200, jsonBody: result };
  },
);

export const replayApi: HttpFunctionSpec = {
  kind: 'http',
  name: 'replayConnection',
  route: 'connections/replay',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: replayApiHandler,
};
