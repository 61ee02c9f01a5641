import { getServices } from '../src/composition.js';
import { adminRoute } from './admin-http.js';
import type { HttpFunctionSpec } from './registry.js';

/**
 * GET /api/audit (Audit.Read) — the audit trail, newest first, in pages (filters: src/app/audit-trail.ts).
 * A filter or page that cannot be served answers 400 with what to fix.
 */
export const auditApiHandler = adminRoute(
  () => ['Audit.Read'],
  () => 'GET /api/audit',
  async (request) => {
    const page = await getServices().auditTrail.read(request.query);
    return {
      status: 200,
      jsonBody: {
        entries: page.entries,
        ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}),
      },
    };
  },
);

export const auditApi: HttpFunctionSpec = {
  kind: 'http',
  name: 'audit',
  route: 'audit',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: auditApiHandler,
};
