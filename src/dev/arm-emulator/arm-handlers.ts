import type { IncomingHttpHeaders } from 'node:http';
import { ArmError, badRequest, notFound } from './arm-error.js';
import { buildResourceEvent, operationsFor, type ResourceEvent, type ResourceEventSpec } from './events.js';
import { headerValue, isRecord } from './http-io.js';
import type { CallerIdentity } from './identity.js';
import { pageOf, type PageRequest } from './paging.js';
import { etagMatches, idKey, isGuid } from './resource-ids.js';
import type { RouteParams, Route } from './router.js';
import { KEY_VAULT_TYPE, RESOURCE_FIXTURES, requireFixture, type ResourceFixture } from './resource-fixtures.js';
import { connectionNotFound, type AsyncOperation, type ResourceStore, type StoredConnection, type StoredResource } from './store.js';
import { CONNECTION_STATUSES, type ConnectionStatus, type EmulatorSubscription } from './types.js';

export const KEY_VAULT_API_VERSIONS = requireFixture(KEY_VAULT_TYPE).apiVersions;
export const SUBSCRIPTION_API_VERSIONS = ['2022-12-01', '2021-01-01', '2020-01-01', '2016-06-01'] as const;

export interface ArmRequest {
  method: string;
  /** Path as sent (original casing), without the query. */
  path: string;
  query: URLSearchParams;
  params: RouteParams;
  apiVersion: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  caller: CallerIdentity;
  correlationId: string;
  clientRequestId: string;
}

export interface ArmResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type ArmHandler = (req: ArmRequest) => ArmResult;

export interface ArmContext {
  store: ResourceStore;
  pageSize: number;
  baseUrl: () => string;
  now: () => Date;
  /** Hands events to the publisher without waiting: ARM answers before Event Grid delivers. */
  publish: (events: ResourceEvent[]) => void;
}

const SUBSCRIPTION = ['subscriptions', ':subscriptionId'];
const RESOURCE_GROUP = [...SUBSCRIPTION, 'resourceGroups', ':resourceGroup'];

export function createArmRoutes(ctx: ArmContext): Route<ArmHandler>[] {
  const routes: Route<ArmHandler>[] = [
    {
      pattern: SUBSCRIPTION,
      resourceType: 'Microsoft.Resources/subscriptions',
      apiVersions: SUBSCRIPTION_API_VERSIONS,
      methods: { GET: (req) => getSubscription(ctx, req) },
    },
  ];
  const namespaces = new Map<string, Set<string>>();
  for (const fixture of RESOURCE_FIXTURES) {
    const [namespace = '', ...typeSegments] = fixture.type.split('/');
    const versions = namespaces.get(namespace) ?? new Set<string>();
    fixture.apiVersions.forEach((v) => versions.add(v));
    namespaces.set(namespace, versions);
    const inGroup = [...RESOURCE_GROUP, 'providers', namespace, ...typeSegments];
    const resource = [...inGroup, ':resourceName'];
    const connections = [...resource, 'privateEndpointConnections'];
    const connectionType = `${fixture.type}/privateEndpointConnections`;
    const isVault = fixture.type === KEY_VAULT_TYPE;
    routes.push(
      {
        pattern: [...SUBSCRIPTION, 'providers', namespace, ...typeSegments],
        resourceType: fixture.type,
        apiVersions: fixture.apiVersions,
        methods: { GET: (req) => listResources(ctx, fixture, req) },
      },
      { pattern: inGroup, resourceType: fixture.type, apiVersions: fixture.apiVersions, methods: { GET: (req) => listResources(ctx, fixture, req) } },
      {
        pattern: resource,
        resourceType: fixture.type,
        apiVersions: fixture.apiVersions,
        methods: {
          GET: (req) => ({ status: 200, body: ctx.store.resourceToWire(requireResource(ctx, fixture, req)) }),
          // Only vaults can be created through ARM here; other types are created through the control surface.
          ...(isVault ? { PUT: (req: ArmRequest) => putVault(ctx, req), DELETE: (req: ArmRequest) => deleteVault(ctx, req) } : {}),
        },
      },
      {
        pattern: connections,
        resourceType: connectionType,
        apiVersions: fixture.apiVersions,
        methods: { GET: (req) => listConnections(ctx, fixture, req) },
      },
      {
        pattern: [...connections, ':connectionName'],
        resourceType: connectionType,
        apiVersions: fixture.apiVersions,
        methods: {
          GET: (req) => ({ status: 200, body: ctx.store.connectionToWire(requireConnection(ctx, fixture, req)) }),
          PUT: (req) => putConnection(ctx, fixture, req),
          DELETE: (req) => deleteConnection(ctx, fixture, req),
        },
      },
    );
  }
  for (const [namespace, versions] of namespaces) {
    // The two ways ARM lets a client follow a change (docs: "Track asynchronous Azure
    // operations"): Azure-AsyncOperation answers 200 with a status body; Location answers 202
    // while the change runs and 200 with the resource once it is done.
    routes.push(
      {
        pattern: [...SUBSCRIPTION, 'providers', namespace, 'locations', ':location', 'asyncOperations', ':operationId'],
        resourceType: `${namespace}/locations/asyncOperations`,
        apiVersions: [...versions],
        methods: { GET: (req) => getOperationStatus(ctx, req) },
      },
      {
        pattern: [...SUBSCRIPTION, 'providers', namespace, 'locations', ':location', 'operationResults', ':operationId'],
        resourceType: `${namespace}/locations/operationResults`,
        apiVersions: [...versions],
        methods: { GET: (req) => getOperationResult(ctx, req) },
      },
    );
  }
  return routes;
}

/** Subscription visibility applies to everything under `/subscriptions/{id}`, as RBAC does in ARM. */
export function assertSubscriptionAccessible(
  subscription: EmulatorSubscription | undefined,
  subscriptionId: string,
  caller: CallerIdentity,
  action: string,
): void {
  if (!subscription || subscription.visibility === 'missing') {
    throw notFound('SubscriptionNotFound', `The subscription '${subscriptionId}' could not be found.`);
  }
  if (subscription.visibility === 'forbidden') {
    throw new ArmError(
      403,
      'AuthorizationFailed',
      `The client '${caller.name}' with object id '${caller.objectId}' does not have authorization to perform ` +
        `action '${action}' over scope '/subscriptions/${subscriptionId}' or the scope is invalid. ` +
        'If access was recently granted, please refresh your credentials.',
    );
  }
}

function getSubscription(ctx: ArmContext, req: ArmRequest): ArmResult {
  const subscription = ctx.store.getSubscription(param(req, 'subscriptionId'));
  if (!subscription) throw notFound('SubscriptionNotFound', `The subscription could not be found.`);
  return {
    status: 200,
    body: {
      id: `/subscriptions/${subscription.subscriptionId}`,
      authorizationSource: 'RoleBased',
      managedByTenants: [],
      subscriptionId: subscription.subscriptionId,
      tenantId: subscription.tenantId,
      displayName: subscription.displayName,
      state: 'Enabled',
      subscriptionPolicies: {
        locationPlacementId: 'Public_2014-09-01',
        quotaId: 'PayAsYouGo_2014-09-01',
        spendingLimit: 'Off',
      },
    },
  };
}

function listResources(ctx: ArmContext, fixture: ResourceFixture, req: ArmRequest): ArmResult {
  const resources = ctx.store.listResources(fixture.type, param(req, 'subscriptionId'), req.params['resourceGroup']);
  const wire = resources.map((resource) => ctx.store.resourceToWire(resource));
  return { status: 200, body: pageOf(wire, pageRequest(ctx, req)) };
}

function putVault(ctx: ArmContext, req: ArmRequest): ArmResult {
  const spec = parseVaultBody(req.body);
  const { vault, created } = ctx.store.putVault({
    subscriptionId: param(req, 'subscriptionId'),
    resourceGroup: param(req, 'resourceGroup'),
    name: param(req, 'resourceName'),
    ...spec,
  });
  return { status: created ? 201 : 200, body: ctx.store.vaultToWire(vault) };
}

function deleteVault(ctx: ArmContext, req: ArmRequest): ArmResult {
  const vault = findResource(ctx, requireFixture(KEY_VAULT_TYPE), req);
  if (!vault) return { status: 204 };
  ctx.store.deleteResource(vault);
  return { status: 200 };
}

function listConnections(ctx: ArmContext, fixture: ResourceFixture, req: ArmRequest): ArmResult {
  const resource = requireResource(ctx, fixture, req);
  const wire = ctx.store.listConnections(idKey(resource.id)).map((c) => ctx.store.connectionToWire(c));
  return { status: 200, body: pageOf(wire, pageRequest(ctx, req)) };
}

/**
 * Approve/reject through ARM. Validation runs before the precondition check; the answer is the one the
 * type's provider gives (see ResourceFixture.put): Key Vault 200 with the resource in `Updating` plus an
 * `Azure-AsyncOperation` URL, Storage 200 already applied, SQL 202 with a Location and no body, and so on.
 */
function putConnection(ctx: ArmContext, fixture: ResourceFixture, req: ArmRequest): ArmResult {
  const resource = requireResource(ctx, fixture, req);
  const connection = requireConnection(ctx, fixture, req);
  const update = parseConnectionUpdate(req.body);
  assertPrecondition(connection, headerValue(req.headers['if-match']), update.etag);
  const operation = ctx.store.changeConnectionState(connection, update);
  ctx.publish([connectionEvent(ctx, req, resource, connection, 'Microsoft.Resources.ResourceWriteSuccess', operationsFor(fixture).connectionWrite)]);
  const [namespace] = fixture.type.split('/');
  const operationUrl = (kind: 'asyncOperations' | 'operationResults') =>
    `${ctx.baseUrl()}/subscriptions/${resource.subscriptionId}/providers/${namespace}/locations/` +
    `${encodeURIComponent(operation.location)}/${kind}/${operation.name}?api-version=${req.apiVersion}`;
  const body = ctx.store.connectionToWire(connection);
  const asyncHeaders = { 'Azure-AsyncOperation': operationUrl('asyncOperations'), 'Retry-After': '1' };
  const locationHeaders = { Location: operationUrl('operationResults'), 'Retry-After': '1' };
  switch (fixture.put) {
    case 'ok':
      return { status: 200, body };
    case 'ok-async-header':
      return { status: 200, body, headers: asyncHeaders };
    case 'created-async-header':
      return { status: 201, body, headers: asyncHeaders };
    case 'accepted-body-location':
      return { status: 202, body, headers: locationHeaders };
    case 'accepted-location':
      return { status: 202, headers: locationHeaders };
  }
}

/** Synchronous delete: 200 with the resource (now `Deleting`) when it existed, 204 when it did not. */
function deleteConnection(ctx: ArmContext, fixture: ResourceFixture, req: ArmRequest): ArmResult {
  const resource = requireResource(ctx, fixture, req);
  const connection = findConnection(ctx, resource, req);
  if (!connection) return { status: 204 };
  ctx.store.removeConnection(connection);
  ctx.publish([connectionEvent(ctx, req, resource, connection, 'Microsoft.Resources.ResourceDeleteSuccess', operationsFor(fixture).connectionDelete)]);
  return { status: 200, body: ctx.store.connectionToWire(connection, 'Deleting') };
}

function requireOperation(ctx: ArmContext, req: ArmRequest): AsyncOperation {
  const operation = ctx.store.getOperation(param(req, 'operationId'));
  if (!operation || operation.subscriptionId.toLowerCase() !== param(req, 'subscriptionId').toLowerCase()) {
    throw notFound('OperationNotFound', `The operation '${param(req, 'operationId')}' could not be found.`);
  }
  return operation;
}

/** Location: 202 with the same Location and Retry-After while running; then 200 with the connection, or 204 if it is gone. */
function getOperationResult(ctx: ArmContext, req: ArmRequest): ArmResult {
  const operation = requireOperation(ctx, req);
  if (operation.status === 'InProgress') {
    const search = req.query.toString();
    return { status: 202, headers: { Location: `${ctx.baseUrl()}${req.path}${search ? `?${search}` : ''}`, 'Retry-After': '1' } };
  }
  const connection = ctx.store.getConnection(operation.connectionId);
  return connection ? { status: 200, body: ctx.store.connectionToWire(connection) } : { status: 204 };
}

/** Azure-AsyncOperation: 200 with the operation's status. */
function getOperationStatus(ctx: ArmContext, req: ArmRequest): ArmResult {
  const operation = requireOperation(ctx, req);
  return {
    status: 200,
    body: {
      id: req.path,
      name: operation.name,
      status: operation.status,
      startTime: operation.startTime.toISOString(),
      ...(operation.endTime ? { endTime: operation.endTime.toISOString() } : {}),
    },
  };
}

function connectionEvent(
  ctx: ArmContext,
  req: ArmRequest,
  vault: StoredResource,
  connection: StoredConnection,
  eventType: ResourceEventSpec['eventType'],
  operationName: string,
): ResourceEvent {
  const search = req.query.toString();
  return buildResourceEvent(
    {
      eventType,
      operationName,
      resourceId: connection.id,
      subscriptionId: vault.subscriptionId,
      tenantId: ctx.store.tenantOfVault(vault),
      resourceProvider: vault.type.split('/')[0] ?? '',
      caller: req.caller,
      roleAssignmentScope: `/subscriptions/${vault.subscriptionId}`,
      httpMethod: req.method,
      httpUrl: `${ctx.baseUrl()}${req.path}${search ? `?${search}` : ''}`,
      correlationId: req.correlationId,
      clientRequestId: req.clientRequestId,
    },
    ctx.now(),
  );
}

function findResource(ctx: ArmContext, fixture: ResourceFixture, req: ArmRequest): StoredResource | undefined {
  return ctx.store.getResource(fixture.type, param(req, 'subscriptionId'), param(req, 'resourceGroup'), param(req, 'resourceName'));
}

function requireResource(ctx: ArmContext, fixture: ResourceFixture, req: ArmRequest): StoredResource {
  const resource = findResource(ctx, fixture, req);
  if (resource) return resource;
  throw notFound(
    'ResourceNotFound',
    `The Resource '${fixture.type}/${param(req, 'resourceName')}' under resource group ` +
      `'${param(req, 'resourceGroup')}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}

function findConnection(ctx: ArmContext, resource: StoredResource, req: ArmRequest): StoredConnection | undefined {
  return ctx.store.getConnection(`${resource.id}/privateEndpointConnections/${param(req, 'connectionName')}`);
}

function requireConnection(ctx: ArmContext, fixture: ResourceFixture, req: ArmRequest): StoredConnection {
  const connection = findConnection(ctx, requireResource(ctx, fixture, req), req);
  if (connection) return connection;
  throw connectionNotFound(param(req, 'connectionName'));
}

interface ConnectionUpdate {
  status: ConnectionStatus;
  description?: string;
  etag?: string;
}

/** Reads the PrivateEndpointConnection PUT body; only the connection state is writable. */
export function parseConnectionUpdate(body: unknown): ConnectionUpdate {
  const state = isRecord(body) && isRecord(body['properties']) ? body['properties']['privateLinkServiceConnectionState'] : undefined;
  if (!isRecord(body) || !isRecord(state)) {
    throw badRequest(
      'InvalidRequestContent',
      'The request body must be a JSON object with properties.privateLinkServiceConnectionState.',
    );
  }
  const status = parseStatus(state['status']);
  const description = state['description'];
  if (description !== undefined && description !== null && typeof description !== 'string') {
    throw badRequest('InvalidRequestContent', 'properties.privateLinkServiceConnectionState.description must be a string.');
  }
  const etag = body['etag'];
  if (etag !== undefined && etag !== null && typeof etag !== 'string') {
    throw badRequest('InvalidRequestContent', 'etag must be a string.');
  }
  return {
    status,
    ...(typeof description === 'string' ? { description } : {}),
    ...(typeof etag === 'string' ? { etag } : {}),
  };
}

/** Status values compare case-insensitively, as ARM enums do, and are stored in their canonical spelling. */
export function parseStatus(value: unknown): ConnectionStatus {
  const match = CONNECTION_STATUSES.find((status) => typeof value === 'string' && status.toLowerCase() === value.toLowerCase());
  if (match) return match;
  throw badRequest(
    'InvalidPrivateLinkServiceConnectionStatus',
    `properties.privateLinkServiceConnectionState.status '${String(value)}' is not valid. ` +
      `Allowed values: ${CONNECTION_STATUSES.join(', ')}.`,
  );
}

/** If-Match header and a body etag both act as preconditions; `*` matches any existing resource. */
function assertPrecondition(connection: StoredConnection, ifMatch: string | undefined, bodyEtag: string | undefined): void {
  for (const candidate of [ifMatch, bodyEtag]) {
    if (candidate !== undefined && candidate !== '' && !etagMatches(connection.etag, candidate)) {
      throw new ArmError(
        412,
        'PreconditionFailed',
        `The etag '${candidate}' does not match the current etag of private endpoint connection '${connection.name}'. ` +
          'Read the resource again and retry with its current etag.',
      );
    }
  }
}

interface VaultBody {
  location: string;
  tenantId: string;
  skuName: 'standard' | 'premium';
  tags: Record<string, string>;
  enableRbacAuthorization?: boolean;
  publicNetworkAccess?: 'Enabled' | 'Disabled';
}

function parseVaultBody(body: unknown): VaultBody {
  if (!isRecord(body)) throw badRequest('InvalidRequestContent', 'The request body must be a JSON object.');
  const location = body['location'];
  if (typeof location !== 'string' || location.trim() === '') {
    throw badRequest('LocationRequired', 'The location property is required for this definition.');
  }
  const properties = isRecord(body['properties']) ? body['properties'] : {};
  const tenantId = properties['tenantId'];
  if (!isGuid(tenantId)) throw badRequest('BadRequest', 'properties.tenantId is required and must be a GUID.');
  const sku = isRecord(properties['sku']) ? properties['sku'] : {};
  const skuName = typeof sku['name'] === 'string' ? sku['name'].toLowerCase() : '';
  if (skuName !== 'standard' && skuName !== 'premium') {
    throw badRequest('BadRequest', "properties.sku.name is required and must be 'standard' or 'premium'.");
  }
  const rbac = properties['enableRbacAuthorization'];
  const publicAccess = properties['publicNetworkAccess'];
  return {
    location,
    tenantId,
    skuName,
    tags: parseTags(body['tags']),
    ...(typeof rbac === 'boolean' ? { enableRbacAuthorization: rbac } : {}),
    ...(publicAccess === 'Enabled' || publicAccess === 'Disabled' ? { publicNetworkAccess: publicAccess } : {}),
  };
}

function parseTags(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value) || Object.values(value).some((tag) => typeof tag !== 'string')) {
    throw badRequest('InvalidRequestContent', 'tags must be an object of string values.');
  }
  return value as Record<string, string>;
}

function parseTop(value: string | null): number | undefined {
  if (value === null) return undefined;
  const top = Number(value);
  if (!Number.isInteger(top) || top < 1) throw badRequest('InvalidParameter', `$top must be a positive integer, got '${value}'.`);
  return top;
}

/** `$top` (vault lists) caps the page size and is carried into `nextLink` so later pages keep it. */
function pageRequest(ctx: ArmContext, req: ArmRequest): PageRequest {
  const top = parseTop(req.query.get('$top'));
  return {
    listUrl: `${ctx.baseUrl()}${req.path}`,
    apiVersion: req.apiVersion,
    skipToken: req.query.get('$skipToken'),
    pageSize: top === undefined ? ctx.pageSize : Math.min(top, ctx.pageSize),
    ...(top === undefined ? {} : { extraQuery: `$top=${top}` }),
  };
}

function param(req: ArmRequest, name: string): string {
  return req.params[name] ?? '';
}
