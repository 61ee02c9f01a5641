import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getServices } from '../src/composition.js';
import { AuditQueryError, InvalidInputError } from '../src/domain/errors.js';
import type { HttpFunctionSpec } from './registry.js';

/**
 * GET /api/audit — the audit trail, newest first, in pages (filters: src/app/audit-trail.ts).
 * A filter or page that cannot be served answers 400 with what to fix.
 */
export async function auditApiHandler(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const page = await getServices().auditTrail.read(request.query);
    return {
      status: 200,
      jsonBody: {
        entries: page.entries,
        ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}),
      },
    };
  } catch (error) {
    if (error instanceof InvalidInputError || error instanceof AuditQueryError) return badRequest(error.message);
    context.error(`Audit query failed: ${(error as Error).message}`);
    throw error;
  }
}

function badRequest(message: string): HttpResponseInit {
  return { status: 400, jsonBody: { error: message } };
}

export const auditApi: HttpFunctionSpec = {
  kind: 'http',
  name: 'audit',
  route: 'audit',
  methods: ['GET'],
  authLevel: 'function',
  handler: auditApiHandler,
};
