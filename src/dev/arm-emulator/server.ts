import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ArmError } from './arm-error.js';
import {
  assertSubscriptionAccessible,
  type ArmHandler,
  type ArmRequest,
  type ArmResult,
} from './arm-handlers.js';
import { faultBody, type FaultQueue } from './faults.js';
import { headerValue, parseJsonBody, readBody, writeResponse } from './http-io.js';
import { bearerToken, identityFromBearer, type CallerIdentity } from './identity.js';
import { matchRoute, pathSegments, type Route, type RouteMatch } from './router.js';
import type { ResourceStore } from './store.js';
import type { CallRecord } from './types.js';

/** Handles `/_emulator/...`; it answers the request itself. */
export type ControlListener = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;

export interface ServerDeps {
  routes: readonly Route<ArmHandler>[];
  store: ResourceStore;
  faults: FaultQueue;
  calls: CallRecord[];
  control: ControlListener;
  now: () => Date;
  defaultTenantId: string;
}

interface RequestMeta {
  method: string;
  url: URL;
  requestId: string;
  correlationId: string;
  clientRequestId: string;
  body: unknown;
  rawBody: string;
}

const CONTROL_PREFIX = '/_emulator';
/** ARM's per-subscription budgets; the emulator only counts down, it never throttles on its own. */
const READ_BUDGET = 12_000;
const WRITE_BUDGET = 1_200;

export function createRequestListener(deps: ServerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const budgets = new Map<string, { reads: number; writes: number }>();

  const rateLimitHeaders = (meta: RequestMeta): Record<string, string> => {
    const key = (pathSegments(meta.url.pathname)[1] ?? 'tenant').toLowerCase();
    const budget = budgets.get(key) ?? { reads: READ_BUDGET, writes: WRITE_BUDGET };
    budgets.set(key, budget);
    if (meta.method === 'GET' || meta.method === 'HEAD') {
      budget.reads = Math.max(0, budget.reads - 1);
      return { 'x-ms-ratelimit-remaining-subscription-reads': String(budget.reads) };
    }
    budget.writes = Math.max(0, budget.writes - 1);
    return { 'x-ms-ratelimit-remaining-subscription-writes': String(budget.writes) };
  };

  const respond = (res: ServerResponse, meta: RequestMeta, result: ArmResult): void => {
    const ifMatch = headerValue(res.req.headers['if-match']);
    deps.calls.push({
      method: meta.method,
      path: meta.url.pathname,
      query: meta.url.search,
      status: result.status,
      at: deps.now(),
      ...(ifMatch !== undefined ? { ifMatch } : {}),
      ...(meta.rawBody !== '' ? { body: meta.body } : {}),
    });
    const headers = {
      'Cache-Control': 'no-cache',
      'x-ms-request-id': meta.requestId,
      'x-ms-correlation-request-id': meta.correlationId,
      'x-ms-client-request-id': meta.clientRequestId,
      ...rateLimitHeaders(meta),
      ...result.headers,
    };
    writeResponse(res, result.status, result.body, headers);
  };

  const handleArm = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const meta = requestMeta(req, url);
    try {
      meta.rawBody = await readBody(req);
      meta.body = tryParse(meta.rawBody);
      respond(res, meta, await serveArm(deps, req, meta));
    } catch (error) {
      respond(res, meta, errorResult(error));
    }
  };

  return (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const lower = url.pathname.toLowerCase();
    const isControl = lower === CONTROL_PREFIX || lower.startsWith(`${CONTROL_PREFIX}/`);
    const work = isControl ? deps.control(req, res, url) : handleArm(req, res, url);
    work.catch((error: unknown) => {
      if (!res.headersSent) writeResponse(res, 500, errorResult(error).body);
      else res.destroy();
    });
  };
}

/** Checks in ARM's order: injected faults, authentication, routing, api-version, method, subscription access. */
async function serveArm(deps: ServerDeps, req: IncomingMessage, meta: RequestMeta): Promise<ArmResult> {
  const fault = deps.faults.take(meta.method, meta.url.pathname);
  if (fault) {
    const headers: Record<string, string> =
      fault.retryAfterSeconds !== undefined ? { 'Retry-After': String(fault.retryAfterSeconds) } : {};
    return { status: fault.status, body: faultBody(fault), headers };
  }
  const token = requireBearer(req);
  const match = requireRoute(deps.routes, meta);
  const apiVersion = requireApiVersion(meta.url, match.route.apiVersions);
  const handler = match.route.methods[meta.method];
  if (!handler) throw methodNotAllowed(meta.method, match.route);
  const subscriptionId = match.params['subscriptionId'] ?? '';
  const subscription = deps.store.getSubscription(subscriptionId);
  const caller = identityFromBearer(token, subscription?.tenantId ?? deps.defaultTenantId);
  assertSubscriptionAccessible(subscription, subscriptionId, caller, actionName(match.route.resourceType, meta.method));
  return handler(armRequest(req, meta, match, apiVersion, caller));
}

function armRequest(
  req: IncomingMessage,
  meta: RequestMeta,
  match: RouteMatch<ArmHandler>,
  apiVersion: string,
  caller: CallerIdentity,
): ArmRequest {
  // Validated only where a body matters, so a malformed body on a GET does not fail the GET.
  const body = meta.method === 'PUT' || meta.method === 'PATCH' ? parseJsonBody(meta.rawBody) : meta.body;
  return {
    method: meta.method,
    path: meta.url.pathname,
    query: meta.url.searchParams,
    params: match.params,
    apiVersion,
    headers: req.headers,
    body,
    caller,
    correlationId: meta.correlationId,
    clientRequestId: meta.clientRequestId,
  };
}

function requestMeta(req: IncomingMessage, url: URL): RequestMeta {
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    url,
    requestId: randomUUID(),
    correlationId: headerValue(req.headers['x-ms-correlation-request-id']) ?? randomUUID(),
    clientRequestId: headerValue(req.headers['x-ms-client-request-id']) ?? randomUUID(),
    body: undefined,
    rawBody: '',
  };
}

function requireBearer(req: IncomingMessage): string {
  const token = bearerToken(headerValue(req.headers.authorization));
  if (token) return token;
  const reason = req.headers.authorization ? "has an invalid format" : "is missing";
  throw new ArmError(
    401,
    'AuthenticationFailed',
    `Authentication failed. The 'Authorization' header ${reason}. It must be 'Bearer <token>'.`,
    {
      'WWW-Authenticate':
        'Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", ' +
        `error_description="The authentication failed because the Authorization header ${reason}."`,
    },
  );
}

function requireRoute(routes: readonly Route<ArmHandler>[], meta: RequestMeta): RouteMatch<ArmHandler> {
  const match = matchRoute(routes, pathSegments(meta.url.pathname));
  if (match) return match;
  throw new ArmError(
    404,
    'InvalidResourceType',
    `The resource type could not be found for '${meta.method} ${meta.url.pathname}'. ` +
      'This emulator serves subscriptions, Microsoft.KeyVault/vaults and their privateEndpointConnections.',
  );
}

function requireApiVersion(url: URL, supported: readonly string[]): string {
  const apiVersion = url.searchParams.get('api-version');
  if (apiVersion === null || apiVersion === '') {
    throw new ArmError(
      400,
      'MissingApiVersionParameter',
      "The api-version query parameter (?api-version=) is required for all requests.",
    );
  }
  if (!supported.includes(apiVersion)) {
    throw new ArmError(
      400,
      'InvalidApiVersionParameter',
      `The api-version '${apiVersion}' is invalid. The supported versions are '${supported.join(',')}'.`,
    );
  }
  return apiVersion;
}

function methodNotAllowed(method: string, route: Route<ArmHandler>): ArmError {
  const allowed = Object.keys(route.methods).join(', ');
  return new ArmError(
    405,
    'MethodNotAllowed',
    `The requested resource does not support http method '${method}'. Allowed: ${allowed}.`,
    { Allow: allowed },
  );
}

function actionName(resourceType: string, method: string): string {
  const verb = method === 'DELETE' ? 'delete' : method === 'GET' || method === 'HEAD' ? 'read' : 'write';
  return `${resourceType}/${verb}`;
}

export function errorResult(error: unknown): ArmResult {
  if (error instanceof ArmError) return { status: error.status, body: error.toBody(), headers: { ...error.headers } };
  const message = error instanceof Error ? error.message : String(error);
  return { status: 500, body: { error: { code: 'InternalServerError', message } } };
}

/** Recorded call bodies are JSON when they parse, the raw text otherwise. */
function tryParse(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
