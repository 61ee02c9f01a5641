import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createPipelineFromOptions,
  createPipelineRequest,
  RestError,
  type HttpClient,
  type HttpMethods,
  type Pipeline,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import type { CallOptions, ConnectionsPort, Logger, OperationPoll, OperationRef, OperationStatus, ResourceDirectory, SetStatusResult, StatusChange } from '../../app/ports.js';
import { toConnectionStatus, type PrivateEndpointConnection } from '../../domain/connection.js';
import { InvalidInputError } from '../../domain/errors.js';
import { isArmName } from '../../domain/resource-names.js';
import { connectionRef, idKey, parsePrivateEndpointId, resourceOf, shown, type ConnectionRef, type PrivateEndpointRef, type ResourceRef } from '../../domain/resource-id.js';
import type { ResourceType } from '../../domain/resource-types.js';
import { parseRetryAfter } from '../../shared/http.js';
import { armRetryPolicy } from './arm-retry-policy.js';
import type { ArmConnection } from './arm-client-options.js';

/**
 * Private endpoint connections of every registered resource type through ARM's generic
 * contract, on the Azure core HTTP pipeline with the same credential and retry policy as the
 * SDK clients:
 *
 *   GET  {resourceId}/privateEndpointConnections?api-version=V          list (pages by nextLink)
 *   GET  {resourceId}/privateEndpointConnections/{name}?api-version=V   read
 *   PUT  {resourceId}/privateEndpointConnections/{name}?api-version=V   approve or reject
 *   GET  /subscriptions/{s}/providers/{namespace}/{type}?api-version=V  the sweep's resource list
 *
 * with V the type's API version from the registry. A type whose provider has no list call
 * (`connections.list: parent-properties`) is read from GET {resourceId}, whose
 * properties.privateEndpointConnections carries the same connection objects.
 *
 * One behaviour for every type: 404, and a 200 or 204 without a body, mean gone; 409 and 412
 * mean the connection changed since it was read; 400 is Azure refusing (approving a rejected
 * connection); 429 and 5xx are retried by the pipeline's policy and otherwise thrown; a PUT
 * answered 200, 201 or 202 is accepted, with the URL to follow it by when the answer gives one
 * (Azure-AsyncOperation or Location, and Retry-After: see pollOperation), and the caller follows
 * it or re-reads the connection until provisioning is final.
 */
export class ArmConnections implements ConnectionsPort, ResourceDirectory {
  private readonly pipeline: Pipeline;
  private readonly client: HttpClient;
  private readonly endpoint: URL;
  private readonly credential: ArmConnection['credential'];
  private readonly scope: string;
  private principal: Promise<string | undefined> | undefined;
  private readonly log: Logger | undefined;
  private readonly now: () => number;

  constructor(arm: ArmConnection, httpClient?: HttpClient, options: { readonly log?: Logger; readonly now?: () => number } = {}) {
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.endpoint = new URL(arm.endpoint.replace(/\/+$/, ''));
    const origin = this.endpoint.origin;
    this.pipeline = createPipelineFromOptions({
      retryOptions: { maxRetries: 0 },
      userAgentOptions: { userAgentPrefix: 'linkgate' },
      ...(arm.caPem ? { tlsOptions: { ca: arm.caPem } } : {}),
    });
    // The pipeline's own retry is off (maxRetries 0) in favour of the one policy every ARM call shares.
    this.pipeline.addPolicy(armRetryPolicy(arm.retry));
    // The token audience is the ARM endpoint's own, so the same code serves sovereign clouds.
    this.pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential: arm.credential, scopes: `${origin}/.default` }));
    this.client = httpClient ?? createDefaultHttpClient();
    this.credential = arm.credential;
    this.scope = `${origin}/.default`;
  }

  /**
   * The object ID of the principal Linkgate calls ARM as: the `oid` claim of its own access token
   * (managed identity and workload tokens are JWTs that carry it; Entra documents `oid` as the
   * principal's immutable ID). Read once; undefined when the token carries none, which only means
   * that Linkgate cannot recognise events about its own writes.
   */
  principalObjectId(): Promise<string | undefined> {
    this.principal ??= this.credential.getToken(this.scope).then(
      (token) => oidOf(token?.token),
      () => {
        this.principal = undefined;
        return undefined;
      },
    );
    return this.principal;
  }

  async list(resource: ResourceRef): Promise<PrivateEndpointConnection[] | undefined> {
    if (resource.type.connections.list === 'parent-properties') {
      const parent = await this.send('GET', this.url(resource.id, resource.type));
      if (isGone(parent)) return undefined;
      const items = asRecord(asRecord(parent.body)?.properties)?.privateEndpointConnections;
      return Array.isArray(items) ? items.map((item) => toDomain(resource, item)) : [];
    }
    const found: PrivateEndpointConnection[] = [];
    let next: string | undefined = this.url(`${resource.id}/privateEndpointConnections`, resource.type);
    for (let page = 0; next; page += 1) {
      const answer = await this.send('GET', next);
      if (page === 0 && answer.status === 404) return undefined;
      const body = expectBody(answer, 'a list of private endpoint connections');
      const value = body.value;
      if (!Array.isArray(value)) throw unexpected(answer, 'the list has no value array');
      for (const item of value) found.push(toDomain(resource, item));
      next = this.nextLink(body.nextLink);
    }
    return found;
  }

  async get(ref: ConnectionRef, options: CallOptions = {}): Promise<PrivateEndpointConnection | undefined> {
    const { resource } = ref;
    if (resource.type.connections.list === 'parent-properties') {
      const all = await this.list(resource);
      return all?.find((connection) => connection.ref.key === ref.key);
    }
    const answer = await this.send('GET', this.url(ref.id, resource.type), undefined, options.signal);
    if (isGone(answer)) return undefined;
    return toDomain(resource, expectBody(answer, 'a private endpoint connection'));
  }

  async setStatus(ref: ConnectionRef, change: StatusChange, options: CallOptions = {}): Promise<SetStatusResult> {
    const { type } = ref.resource;
    const body = {
      ...(change.etag ? { etag: change.etag } : {}),
      properties: {
        ...(type.connections.sendsPrivateEndpoint && change.privateEndpointId ? { privateEndpoint: { id: change.privateEndpointId } } : {}),
        privateLinkServiceConnectionState: { status: change.status, description: change.description },
      },
    };
    const answer = await this.send('PUT', this.url(ref.id, type), body, options.signal);
    if (answer.status === 404) return { kind: 'gone' };
    if (answer.status === 409 || answer.status === 412) return { kind: 'conflict', message: errorMessage(answer) };
    if (answer.status === 400) return { kind: 'refused', message: errorMessage(answer) };
    if (answer.status >= 300) throw unexpected(answer, `the ${change.status === 'Approved' ? 'approve' : 'reject'} PUT failed`);
    const item = asRecord(answer.body);
    const operation = this.operationOf(answer, ['azure-asyncoperation', 'location']);
    return { kind: 'accepted', connection: item && typeof item.id === 'string' ? toDomain(ref.resource, item) : undefined, ...(operation ? { operation } : {}) };
  }

  /**
   * One GET of an operation's URL, read as ARM's docs ("Track asynchronous Azure operations")
   * describe it:
   *
   *   Azure-AsyncOperation  200 { status, error? }: Succeeded, Failed and Canceled end it, any
   *                         other status (InProgress, or a provider's own) means it still runs
   *   Location              202 while it runs (perhaps with a new Location and Retry-After);
   *                         200 with the resource, or 204, once it is done; a 4xx with an ARM
   *                         error body is how a failed operation answers
   *
   * A 404 means the operation is not known (any more): done, with the status Unknown, and only
   * the connection can say how it went. Whatever else comes back (another status, a body that is
   * not JSON or has no status) throws, and the caller re-reads the connection: Linkgate never
   * acts on an answer it did not understand.
   */
  async pollOperation(ref: ConnectionRef, operation: OperationRef, options: CallOptions = {}): Promise<OperationPoll> {
    // The bearer token goes with the request: only ARM's own origin, whoever handed out the URL.
    const url = this.sameOrigin(operation.url);
    if (!url) throw new InvalidInputError(`An operation URL on another origin (${originOf(operation.url)}) is not followed`, 'operation');
    const answer = await this.send('GET', url, undefined, options.signal);
    if (answer.status === 404) return { kind: 'done', status: 'Unknown' };
    const retryAfterMs = this.retryAfterOf(answer);
    const waitHint = retryAfterMs === undefined ? {} : { retryAfterMs };
    if (operation.kind === 'async-operation') {
      if (answer.status !== 200) throw unexpected(answer, 'reading the operation status failed');
      const body = asRecord(answer.body);
      const status = typeof body?.status === 'string' ? body.status.trim() : '';
      if (status === '') throw unexpected(answer, 'the operation status has no status');
      const ended = endedStatus(status);
      if (!ended) return { kind: 'running', ...waitHint };
      const message = ended === 'Succeeded' ? undefined : errorMessageOf(body?.error);
      return { kind: 'done', status: ended, ...(message ? { message } : {}) };
    }
    if (answer.status === 202) {
      const next = this.operationOf(answer, ['location']);
      return { kind: 'running', ...waitHint, ...(next ? { operation: next } : {}) };
    }
    if (answer.status === 204) return { kind: 'done', status: 'Succeeded' };
    if (answer.status === 200 || answer.status === 201) {
      const connection = connectionIn(ref, answer.body);
      return { kind: 'done', status: 'Succeeded', ...(connection ? { connection } : {}) };
    }
    // 401, 403 and 429 say something about the caller, not about the operation.
    if (answer.status >= 400 && answer.status < 500 && ![401, 403, 429].includes(answer.status) && errorCode(answer) !== undefined) {
      return { kind: 'done', status: 'Failed', message: errorMessage(answer) };
    }
    throw unexpected(answer, 'reading the operation result failed');
  }

  async listResources(subscriptionId: string, type: ResourceType): Promise<ResourceRef[]> {
    const resources: ResourceRef[] = [];
    let next: string | undefined = this.url(`/subscriptions/${subscriptionId.toLowerCase()}/providers/${type.type}`, type);
    for (let page = 0; next; page += 1) {
      const answer = await this.send('GET', next);
      // A subscription where the provider was never registered answers with the error code
      // MissingSubscriptionRegistration (docs: "Resolve errors for resource provider
      // registration"; the docs name the code, not the status, commonly seen as 409, so any 4xx
      // with that code counts). It holds no resources of the type, which is not a sweep error.
      if (page === 0 && answer.status >= 400 && answer.status < 500 && errorCode(answer) === 'MissingSubscriptionRegistration') return [];
      const body = expectBody(answer, `a list of ${type.type}`);
      if (!Array.isArray(body.value)) throw unexpected(answer, 'the list has no value array');
      for (const item of body.value) {
        const id = asRecord(item)?.id;
        const ref = typeof id === 'string' ? resourceOf(id) : undefined;
        // Only the listed resource itself, never something it happens to contain.
        if (ref && ref.type === type && typeof id === 'string' && ref.key === id.toLowerCase().replace(/\/+$/, '')) resources.push(ref);
      }
      next = this.nextLink(body.nextLink);
    }
    return resources;
  }

  private url(path: string, type: ResourceType): string {
    const encoded = path
      .split('/')
      .map((segment) => encodeURIComponent(segment))
      .join('/');
    return `${this.endpoint.origin}${this.endpoint.pathname.replace(/\/+$/, '')}${encoded}?api-version=${encodeURIComponent(type.apiVersion)}`;
  }

  /** A nextLink is followed only on ARM's own origin: the bearer token goes with it. */
  private nextLink(value: unknown): string | undefined {
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') throw new InvalidInputError('ARM answered a nextLink that is not a string', 'nextLink');
    const link = new URL(value, this.endpoint);
    if (link.origin !== this.endpoint.origin) {
      throw new InvalidInputError(`ARM answered a nextLink on another origin (${link.origin}); it is not followed`, 'nextLink');
    }
    return link.toString();
  }

  /**
   * How to follow a change, from the first of `headers` that the answer carries on ARM's own
   * origin, with the answer's Retry-After. A URL on another origin is passed over (and the next
   * header tried): the bearer token would go with it. The log names only the origin.
   */
  private operationOf(answer: ArmAnswer, headers: readonly ('azure-asyncoperation' | 'location')[]): OperationRef | undefined {
    for (const header of headers) {
      const value = answer.response.headers.get(header)?.trim();
      if (!value) continue;
      const url = this.sameOrigin(value);
      if (!url) {
        this.log?.warn(`ARM answered ${header === 'location' ? 'a Location' : 'an Azure-AsyncOperation'} URL on another origin (${originOf(value)}); it is not followed`);
        continue;
      }
      const retryAfterMs = this.retryAfterOf(answer);
      return { kind: header === 'location' ? 'location' : 'async-operation', url, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
    }
    return undefined;
  }

  /** The URL, resolved against the ARM endpoint, when it is on the endpoint's origin. */
  private sameOrigin(value: string): string | undefined {
    try {
      const url = new URL(value, this.endpoint);
      return url.origin === this.endpoint.origin ? url.toString() : undefined;
    } catch {
      return undefined;
    }
  }

  /** Retry-After in delay-seconds or as an HTTP date (RFC 9110 §10.2.3); undefined when absent or not understood. */
  private retryAfterOf(answer: ArmAnswer): number | undefined {
    return parseRetryAfter(answer.response.headers.get('retry-after'), this.now);
  }

  private async send(method: HttpMethods, url: string, body?: unknown, signal?: AbortSignal): Promise<ArmAnswer> {
    const request = createPipelineRequest({
      url,
      method,
      ...(signal ? { abortSignal: signal } : {}),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    request.headers.set('accept', 'application/json');
    if (body !== undefined) request.headers.set('content-type', 'application/json');
    const response = await this.pipeline.sendRequest(this.client, request);
    return { status: response.status, body: parseJson(response), response };
  }
}

interface ArmAnswer {
  readonly status: number;
  /** Parsed JSON, or undefined when the answer had no body. */
  readonly body: unknown;
  readonly response: PipelineResponse;
}

/** 404, or a success with nothing in it (Key Vault answers a missing connection with 204). */
function isGone(answer: ArmAnswer): boolean {
  return answer.status === 404 || (answer.status >= 200 && answer.status < 300 && asRecord(answer.body)?.id === undefined);
}

function expectBody(answer: ArmAnswer, what: string): Record<string, unknown> {
  if (answer.status >= 300) throw unexpected(answer, `reading ${what} failed`);
  const body = asRecord(answer.body);
  if (!body) throw unexpected(answer, `the answer is not ${what}`);
  return body;
}

function parseJson(response: PipelineResponse): unknown {
  const text = response.bodyAsText;
  if (text === undefined || text === null || text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Never act on an answer that could not be understood: the caller sees an error.
    throw new RestError(`ARM answered HTTP ${response.status} with a body that is not JSON`, {
      statusCode: response.status >= 400 ? response.status : 502,
      request: response.request,
      response,
    });
  }
}

function unexpected(answer: ArmAnswer, what: string): RestError {
  return new RestError(`${what}: HTTP ${answer.status}${answer.status >= 400 ? ` ${errorMessage(answer)}` : ''}`, {
    statusCode: answer.status,
    request: answer.response.request,
    response: answer.response,
  });
}

function errorCode(answer: ArmAnswer): string | undefined {
  const code = asRecord(asRecord(answer.body)?.error)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** ARM error bodies are `{ error: { code, message } }`. */
function errorMessage(answer: ArmAnswer): string {
  return errorMessageOf(asRecord(answer.body)?.error) ?? `HTTP ${answer.status}`;
}

/** The terminal statuses of an Azure-AsyncOperation (any casing); any other status means it still runs. */
function endedStatus(status: string): Exclude<OperationStatus, 'Unknown'> | undefined {
  const value = status.toLowerCase();
  if (value === 'succeeded') return 'Succeeded';
  if (value === 'failed') return 'Failed';
  if (value === 'canceled' || value === 'cancelled') return 'Canceled';
  return undefined;
}

/** An ARM `error: { code, message }` (an error body's, or a failed operation's), as one line. */
function errorMessageOf(error: unknown): string | undefined {
  const record = asRecord(error);
  const parts = [record?.code, record?.message].filter((part): part is string => typeof part === 'string' && part !== '');
  return parts.length > 0 ? parts.join(': ') : undefined;
}

/**
 * The connection in a Location's final 200, when that is what the body is: an object whose `id`
 * is the connection's own. A provider may answer with something else there (an operation
 * result, the parent resource), which is then not read as the connection.
 */
function connectionIn(ref: ConnectionRef, body: unknown): PrivateEndpointConnection | undefined {
  const item = asRecord(body);
  if (typeof item?.id !== 'string' || idKey(item.id.replace(/\/+$/, '')) !== ref.key) return undefined;
  const connection = toDomain(ref.resource, item);
  return connection.ref.key === ref.key ? connection : undefined;
}

/** The origin of a URL for a log line: never its path or query. */
function originOf(value: string): string {
  try {
    return new URL(value).origin;
  } catch {
    return 'a URL that cannot be read';
  }
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/**
 * Translates a connection as ARM puts it on the wire (`properties.privateEndpoint`,
 * `properties.privateLinkServiceConnectionState`, `properties.provisioningState`; the same
 * shape for every type) into the domain's connection. The connection is always placed under the
 * resource that was asked for; its own `id` only supplies the name when `name` is absent.
 */
export function toDomain(resource: ResourceRef, raw: unknown): PrivateEndpointConnection {
  const item = asRecord(raw);
  const id = typeof item?.id === 'string' ? item.id : undefined;
  const name = typeof item?.name === 'string' && item.name !== '' ? item.name.split('/').pop() : id?.split('/').pop();
  if (!item || !name) throw new InvalidInputError(`A private endpoint connection of ${resource.id} came back without a name or id`, 'name');
  // The name goes into the next request's URL and into table keys: it must be one ARM could issue.
  if (!isArmName(name)) throw new InvalidInputError(`A private endpoint connection of ${resource.id} came back with the name ${shown(name)}, which is not an ARM name`, 'name');
  const properties = asRecord(item.properties) ?? {};
  const state = asRecord(properties.privateLinkServiceConnectionState);
  const rawStatus = typeof state?.status === 'string' ? state.status : undefined;
  const endpoint = asRecord(properties.privateEndpoint)?.id;
  const rawEndpoint = typeof endpoint === 'string' ? endpoint : undefined;
  return {
    ref: connectionRef(resource, name),
    rawStatus,
    status: toConnectionStatus(rawStatus),
    description: typeof state?.description === 'string' ? state.description : undefined,
    provisioningState: typeof properties.provisioningState === 'string' ? properties.provisioningState : undefined,
    etag: typeof item.etag === 'string' ? item.etag : undefined,
    privateEndpoint: rawEndpoint ? tryParseEndpoint(rawEndpoint) : undefined,
    rawPrivateEndpointId: rawEndpoint,
  };
}

/**
 * An endpoint ID that is not a resource ID ARM could issue (a non-GUID subscription, say) names
 * no requester: the connection is treated as from an unknown requester (no subscription, tenant
 * unknown), which no tenant or subscription condition matches and which a person decides.
 */
function tryParseEndpoint(id: string): PrivateEndpointRef | undefined {
  try {
    return parsePrivateEndpointId(id);
  } catch {
    return undefined;
  }
}

/** The `oid` claim of a JWT's payload, read without verifying it (the token is Linkgate's own). */
export function oidOf(token: string | undefined): string | undefined {
  const parts = token?.split('.');
  if (parts?.length !== 3 || !parts[1]) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as unknown;
    const oid = asRecord(claims)?.oid;
    return typeof oid === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(oid) ? oid.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

/** An SDK or pipeline error with this HTTP status. */
export function isStatus(error: unknown, status: number): boolean {
  return error instanceof RestError ? error.statusCode === status : (error as { statusCode?: number } | null)?.statusCode === status;
}
