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
import { RESOURCE_GRAPH_API_VERSIONS, RESOURCE_GRAPH_PATH, type ResourceGraph } from './resource-graph.js';
import type { ResourceStore } from './store.js';
import type { ArmBudgets } from './throttling.js';
import type { CallRecord } from './types.js';

/** Handles `/_emulator/...`; it answers the request itself. */
export type ControlListener = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;

export interface ServerDeps {
  routes: readonly Route<ArmHandler>[];
  store: ResourceStore;
  faults: FaultQueue;
  calls: CallRecord[];
  control: ControlListener;
  graph: ResourceGraph;
  budgets: ArmBudgets;
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
  /** Resource Graph answers carry its own quota headers, not ARM's budgets. */
  isGraph: boolean;
  /** Set once the request has been charged to a bucket. */
  rateLimitHeaders?: Record<string, string>;
}

const CONTROL_PREFIX = '/_emulator';

export function createRequestListener(deps: ServerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  /** Requests that were never charged (an injected fault, no token) still count down an unthrottled budget. */
  const rateLimitHeaders = (meta: RequestMeta): Record<string, string> => {
    if (meta.isGraph) return {};
    return meta.rateLimitHeaders ?? deps.budgets.count(requestKind(meta.method), budgetScope(meta.url));
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
  if (meta.isGraph) return serveGraph(deps, meta, token);
  const throttled = chargeArm(deps, meta, token);
  if (throttled) return throttled;
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

/** Resource Graph: its own api-versions, POST only, and its own quota instead of ARM's buckets. */
function serveGraph(deps: ServerDeps, meta: RequestMeta, token: string): ArmResult {
  requireApiVersion(meta.url, RESOURCE_GRAPH_API_VERSIONS);
  if (meta.method !== 'POST') {
    throw new ArmError(405, 'MethodNotAllowed', `The requested resource does not support http method '${meta.method}'. Allowed: POST.`, { Allow: 'POST' });
  }
  const caller = identityFromBearer(token, deps.defaultTenantId);
  return deps.graph.handle({ rawBody: meta.rawBody, caller, correlationId: meta.correlationId });
}

/**
 * Takes a token from the caller's read or write bucket for the subscription in the path (or the tenant);
 * an empty bucket is a 429 the way ARM gives it.
 */
function chargeArm(deps: ServerDeps, meta: RequestMeta, token: string): ArmResult | undefined {
  const kind = requestKind(meta.method);
  const scope = budgetScope(meta.url);
  const caller = identityFromBearer(token, deps.defaultTenantId);
  const charge = deps.budgets.charge(kind, caller.objectId, scope, deps.now().getTime());
  meta.rateLimitHeaders = charge.headers;
  if (charge.retryAfterSeconds === undefined) return undefined;
  const seconds = charge.retryAfterSeconds;
  return {
    status: 429,
    headers: { 'Retry-After': String(seconds) },
    body: {
      error: {
        code: 'SubscriptionRequestsThrottled',
        message:
          `Number of '${kind}' requests for subscription '${scope}' actor '${caller.objectId}' exceeded. ` +
          `Please try after '${seconds}' seconds after additional tokens are available.`,
      },
    },
  };
}

function requestKind(method: string): 'read' | 'write' {
  return method === 'GET' || method === 'HEAD' ? 'read' : 'write';
}

/** The subscription a request is charged to, or `tenant` for requests outside any subscription. */
function budgetScope(url: URL): string {
  const segments = pathSegments(url.pathname);
  return segments[0]?.toLowerCase() === 'subscriptions' && segments[1] ? segments[1] : 'tenant';
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
    isGraph: url.pathname.replace(/\/+$/, '').toLowerCase() === RESOURCE_GRAPH_PATH,
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
