import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getServices } from '../src/composition.js';
import { AuditQueryError, AuthenticationError, AuthorizationError, InvalidInputError, ProposalError, RuleValidationError } from '../src/domain/errors.js';
import type { AppRole, Principal } from '../src/domain/principal.js';

/**
 * Every admin route goes through here: the caller's Entra ID token is validated and must carry one
 * of `roles` (src/app/admin-access.ts) before the handler runs. Expected refusals become 4xx with
 * a message that says what to do; anything else is logged and answered 500 without detail.
 *
 * The routes are registered with authLevel `anonymous`: the token is the credential. A function
 * key would add a shared secret that names nobody, and requiring both would only make every
 * caller hold a second secret.
 */
export type AdminHandler = (request: HttpRequest, context: InvocationContext, principal: Principal) => Promise<HttpResponseInit>;

export function adminRoute(roles: (request: HttpRequest) => readonly AppRole[], action: (request: HttpRequest) => string, handler: AdminHandler): HttpHandler {
  return async (request, context) => {
    try {
      const principal = await getServices().access.authorize(request.headers.get('authorization'), roles(request), action(request));
      return await handler(request, context, principal);
    } catch (error) {
      const known = refusal(error);
      if (known) return known;
      context.error(`${action(request)} failed: ${(error as Error).message}`);
      return { status: 500, jsonBody: { error: 'Linkgate failed to answer this request; the error is in its log. Nothing is known to have changed.' } };
    }
  };
}

function refusal(error: unknown): HttpResponseInit | undefined {
  if (error instanceof AuthenticationError) {
    if (error.code === 'not-configured') return { status: 503, jsonBody: { error: error.message } };
    if (error.code === 'keys-unavailable') return { status: 503, headers: { 'Retry-After': '5' }, jsonBody: { error: error.message } };
    // RFC 6750 §3: the challenge names the scheme, and `invalid_token` when one was sent.
    const challenge = error.code === 'missing-token' ? 'Bearer realm="linkgate"' : `Bearer realm="linkgate", error="invalid_token", error_description="${error.message.replace(/["\\]/g, "'")}"`;
    return { status: 401, headers: { 'WWW-Authenticate': challenge }, jsonBody: { error: error.message } };
  }
  if (error instanceof AuthorizationError) return { status: 403, jsonBody: { error: error.message } };
  if (error instanceof RuleValidationError) return { status: 400, jsonBody: { error: `Refused: ${error.message}. Nothing was stored.`, field: error.field } };
  if (error instanceof InvalidInputError || error instanceof AuditQueryError) return { status: 400, jsonBody: { error: error.message } };
  if (error instanceof ProposalError) {
    const status = { 'not-found': 404, 'same-person': 403, expired: 409, 'not-pending': 409, stale: 409 }[error.code];
    return { status, jsonBody: { error: error.message, code: error.code } };
  }
  return undefined;
}

/** A string field of a JSON object body; undefined when the body is no object or the field no string. */
export function stringField(body: unknown, name: string): string | undefined {
  const value = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>)[name] : undefined;
  return typeof value === 'string' ? value : undefined;
}

/** The body as JSON, or an InvalidInputError; an empty body is `{}` where the route allows it. */
export async function jsonBody(request: HttpRequest, allowEmpty = false): Promise<unknown> {
  const text = await request.text();
  if (allowEmpty && text.trim() === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InvalidInputError(`The body is not JSON: ${(error as Error).message}. Nothing was stored.`);
  }
}
