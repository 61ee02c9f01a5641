import { randomBytes, randomUUID } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { badRequest, notFound } from './arm-error.js';
import { createArmRoutes, KEY_VAULT_API_VERSIONS, parseStatus } from './arm-handlers.js';
import { createServerCertificate, type ServerCertificate } from './certificate.js';
import { ResourceGraph } from './resource-graph.js';
import { ArmBudgets, QueryQuota, type ArmThrottlingSettings, type QuotaSettings } from './throttling.js';
import { createControlListener } from './control.js';
import { buildResourceEvent, operationsFor, type ResourceEvent, type ResourceEventSpec } from './events.js';
import { FaultQueue } from './faults.js';
import { AZURE_CLI_APP_ID, AZURE_PORTAL_APP_ID, type CallerIdentity } from './identity.js';
import { optionalString, requireObject, requiredString } from './input.js';
import { fixtureFor, KEY_VAULT_TYPE, RESOURCE_FIXTURES, requireFixture } from './resource-fixtures.js';
import { connectionProxyId, idKey, isGuid, privateEndpointId, stableGuid } from './resource-ids.js';
import { createRequestListener } from './server.js';
import {
  connectionNotFound,
  MAX_DESCRIPTION_LENGTH,
  ResourceStore,
  type ResourceSpec,
  type StoredConnection,
  type StoredResource,
} from './store.js';
import {
  EVENT_SCHEMAS,
  type ArmEmulator,
  type ArmEmulatorOptions,
  type CallRecord,
  type ConnectionResource,
  type ConnectionStatus,
  type CreateResourceInput,
  type CreateVaultInput,
  type DeliveryRecord,
  type EmulatorSubscription,
  type EventSchema,
  type FaultSpec,
  type SeedConnectionInput,
  type SimulateRequestInput,
  type ThrottleStats,
  type VaultResource,
} from './types.js';
import { WebhookPublisher } from './webhook-publisher.js';

/** Tenant used when a subscription or vault is created without one. */
export const DEFAULT_TENANT_ID = '5f2e7c1a-3b4d-4e6f-8a9b-0c1d2e3f4a5b';
const DEFAULT_LOCATION = 'westeurope';
const DEFAULT_REQUESTER_RESOURCE_GROUP = 'rg-requester';
const CURRENT_API_VERSION = KEY_VAULT_API_VERSIONS[0];
/** Private endpoint names: 2-80 characters, letters, digits, `_`, `.`, `-`, starting with a letter or digit. */
const ENDPOINT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$/;
const VISIBILITIES: readonly EmulatorSubscription['visibility'][] = ['visible', 'forbidden', 'missing'];

interface Settings {
  port: number;
  subscriptions: EmulatorSubscription[];
  provisioningDelayMs: number;
  pageSize: number;
  eventSchema: EventSchema;
  now: () => Date;
  resourceGraphLagMs: number;
  resourceGraphQuota: QuotaSettings;
  armThrottling: ArmThrottlingSettings | undefined;
}

/** Resource Graph's default per-user quota (docs: "Guidance for throttled requests in Azure Resource Graph"). */
const DEFAULT_GRAPH_QUOTA: QuotaSettings = { queries: 15, windowMs: 5_000 };

export async function startArmEmulator(opts: ArmEmulatorOptions = {}): Promise<ArmEmulator> {
  const settings = normaliseOptions(opts);
  const emulator = new EmulatorRuntime(settings, await createServerCertificate());
  await emulator.listen(settings.port);
  return emulator;
}

class EmulatorRuntime implements ArmEmulator {
  readonly calls: CallRecord[] = [];
  readonly deliveries: DeliveryRecord[] = [];
  private readonly store: ResourceStore;
  private readonly faults = new FaultQueue();
  private readonly publisher: WebhookPublisher;
  private readonly graph: ResourceGraph;
  private readonly graphQuota: QueryQuota;
  private readonly budgets: ArmBudgets;
  private readonly server: https.Server;
  private seeded = 0;
  private baseUrl = '';
  private closing: Promise<void> | undefined;

  constructor(
    private readonly settings: Settings,
    private readonly certificate: ServerCertificate,
  ) {
    const now = settings.now;
    this.store = new ResourceStore({ provisioningDelayMs: settings.provisioningDelayMs, now });
    settings.subscriptions.forEach((subscription) => this.addSubscription(subscription));
    this.publisher = new WebhookPublisher({
      deliveries: this.deliveries,
      now,
      defaultSchema: settings.eventSchema,
      baseUrl: () => this.baseUrl,
      topic: () => `/subscriptions/${settings.subscriptions[0]?.subscriptionId ?? '00000000-0000-0000-0000-000000000000'}`,
    });
    const routes = createArmRoutes({
      store: this.store,
      pageSize: settings.pageSize,
      baseUrl: () => this.baseUrl,
      now,
      publish: (events) => void this.publisher.publish(events),
    });
    this.graphQuota = new QueryQuota(settings.resourceGraphQuota);
    this.graph = new ResourceGraph({ store: this.store, now, lagMs: settings.resourceGraphLagMs, quota: this.graphQuota });
    this.budgets = new ArmBudgets(settings.armThrottling);
    const listener = createRequestListener({
      routes,
      store: this.store,
      faults: this.faults,
      calls: this.calls,
      control: createControlListener(this),
      graph: this.graph,
      budgets: this.budgets,
      now,
      defaultTenantId: DEFAULT_TENANT_ID,
    });
    this.server = https.createServer({ key: certificate.keyPem, cert: certificate.certPem }, listener);
  }

  get url(): string {
    return this.baseUrl;
  }

  get caPem(): string {
    return this.certificate.certPem;
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        this.baseUrl = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
        resolve();
      });
    });
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  addSubscription(subscription: EmulatorSubscription): void {
    const input = requireObject(subscription, 'The subscription');
    const visibility = input['visibility'] ?? 'visible';
    if (!VISIBILITIES.includes(visibility as EmulatorSubscription['visibility'])) {
      throw badRequest('InvalidInput', `'visibility' must be one of ${VISIBILITIES.join(', ')}.`);
    }
    this.store.addSubscription({
      subscriptionId: requiredString(input, 'subscriptionId'),
      tenantId: requiredString(input, 'tenantId'),
      displayName: optionalString(input, 'displayName') ?? `Subscription ${String(input['subscriptionId'])}`,
      visibility: visibility as EmulatorSubscription['visibility'],
    });
  }

  /** Registers the subscription (visible) when it is not known yet, so a test needs only one call. */
  createVault(vaultInput: CreateVaultInput): VaultResource {
    const { vault } = this.store.putVault(this.placement(requireObject(vaultInput, 'The vault')));
    return this.store.vaultToWire(vault);
  }

  /** Any type the emulator has a fixture for; vaults keep their own createVault with its Key Vault checks. */
  createResource(resourceInput: CreateResourceInput): Record<string, unknown> {
    const input = requireObject(resourceInput, 'The resource');
    const typeName = requiredString(input, 'type');
    const fixture = fixtureFor(typeName);
    if (!fixture) {
      throw badRequest('InvalidResourceType', `'type' '${typeName}' is not one the emulator serves (${RESOURCE_FIXTURES.map((f) => f.key).join(', ')}).`);
    }
    if (fixture.type === KEY_VAULT_TYPE) return this.createVault(resourceInput as unknown as CreateVaultInput) as unknown as Record<string, unknown>;
    const { resource } = this.store.putResource({ type: fixture.type, ...this.placement(input) });
    return this.store.resourceToWire(resource);
  }

  /**
   * Subscription, group, name, location and tenant of a resource to create. Registers the
   * subscription (visible) when it is not known yet, so a test needs only one call.
   */
  private placement(input: Record<string, unknown>): Omit<ResourceSpec, 'type'> {
    const subscriptionId = requiredString(input, 'subscriptionId');
    const tenantId = optionalString(input, 'tenantId');
    if (tenantId !== undefined && !isGuid(tenantId)) throw badRequest('InvalidInput', "'tenantId' must be a GUID.");
    const subscription = this.store.getSubscription(subscriptionId) ?? this.registerSubscription(subscriptionId, tenantId);
    return {
      subscriptionId,
      resourceGroup: requiredString(input, 'resourceGroup'),
      name: requiredString(input, 'name'),
      location: optionalString(input, 'location') ?? DEFAULT_LOCATION,
      tenantId: tenantId ?? subscription.tenantId,
    };
  }

  async simulateRequest(requestInput: SimulateRequestInput): Promise<ConnectionResource> {
    const input = requireObject(requestInput, 'The request');
    const fromSubscription = requiredString(input, 'fromSubscription');
    const message = optionalString(input, 'message') ?? '';
    if (message.length > MAX_DESCRIPTION_LENGTH) {
      throw badRequest(
        'RequestMessageTooLong',
        `'message' is ${message.length} characters long; the provider keeps the request message as the connection ` +
          `description, which allows at most ${MAX_DESCRIPTION_LENGTH}.`,
      );
    }
    const vault = this.resolveResource(input);
    const endpointName = optionalString(input, 'endpointName') ?? `pe-${randomBytes(3).toString('hex')}`;
    if (!ENDPOINT_NAME_PATTERN.test(endpointName)) {
      throw badRequest('InvalidInput', `'endpointName' '${endpointName}' is not a valid private endpoint name.`);
    }
    const endpointGroup = optionalString(input, 'endpointResourceGroup') ?? DEFAULT_REQUESTER_RESOURCE_GROUP;
    const connection = this.store.addConnection(vault, {
      name: `${endpointName}.${randomUUID()}`,
      privateEndpointId: privateEndpointId(fromSubscription, endpointGroup, endpointName),
      description: message,
    });
    const snapshot = this.store.connectionToWire(connection);
    if (input.eventsLost === true) return snapshot;
    await this.publisher.publish(this.requestEvents(vault, connection, this.requester(input, fromSubscription), fromSubscription));
    return snapshot;
  }

  seedConnection(seedInput: SeedConnectionInput): ConnectionResource {
    const input = requireObject(seedInput, 'The connection');
    const resourceIdText = requiredString(input, 'resourceId');
    const resource = this.store.getResourceByKey(idKey(resourceIdText));
    if (!resource) {
      throw notFound('ResourceNotFound', `Resource '${resourceIdText}' was not found. Create it with createVault or createResource first.`);
    }
    const fromSubscription = requiredString(input, 'fromSubscription');
    this.seeded += 1;
    const endpointName = optionalString(input, 'endpointName') ?? `pe-seed-${this.seeded}`;
    if (!ENDPOINT_NAME_PATTERN.test(endpointName)) {
      throw badRequest('InvalidInput', `'endpointName' '${endpointName}' is not a valid private endpoint name.`);
    }
    const connection = this.store.addConnection(resource, {
      name: `${endpointName}.${randomUUID()}`,
      privateEndpointId: privateEndpointId(fromSubscription, DEFAULT_REQUESTER_RESOURCE_GROUP, endpointName),
      description: optionalString(input, 'description') ?? '',
      status: parseStatus(input['status']),
    });
    return this.store.connectionToWire(connection);
  }

  refreshResourceGraph(): void {
    this.graph.refresh();
  }

  throttleStats(): ThrottleStats {
    const arm = this.budgets.counts;
    const graph = this.graphQuota.counts;
    return { throttled: arm.throttled, unhonoured: arm.unhonoured, graphThrottled: graph.throttled, graphUnhonoured: graph.unhonoured };
  }

  async setConnectionStatus(
    connectionId: string,
    status: ConnectionStatus,
    description?: string,
    actorObjectId?: string,
  ): Promise<ConnectionResource> {
    const { vault, connection } = this.requireConnection(connectionId);
    if (description !== undefined && typeof description !== 'string') {
      throw badRequest('InvalidInput', "'description' must be a string when given.");
    }
    this.store.changeConnectionState(connection, {
      status: parseStatus(status),
      ...(description !== undefined ? { description } : {}),
    });
    const snapshot = this.store.connectionToWire(connection);
    const event = this.portalEvent(vault, connection, actorObjectId, 'Microsoft.Resources.ResourceWriteSuccess');
    await this.publisher.publish([event]);
    return snapshot;
  }

  async deleteConnection(connectionId: string): Promise<void> {
    const { vault, connection } = this.requireConnection(connectionId);
    this.store.removeConnection(connection);
    await this.publisher.publish([this.portalEvent(vault, connection, undefined, 'Microsoft.Resources.ResourceDeleteSuccess')]);
  }

  getConnection(connectionId: string): ConnectionResource | undefined {
    const connection = this.store.getConnection(connectionId);
    return connection ? this.store.connectionToWire(connection) : undefined;
  }

  listConnections(vaultId?: string): ConnectionResource[] {
    const key = vaultId === undefined || vaultId === '' ? undefined : idKey(vaultId);
    return this.store.listConnections(key).map((connection) => this.store.connectionToWire(connection));
  }

  async subscribe(webhookUrl: string, opts: { schema?: EventSchema } = {}): Promise<void> {
    if (typeof webhookUrl !== 'string' || webhookUrl === '') {
      throw badRequest('InvalidInput', 'The webhook URL must be a non-empty string.');
    }
    const schema = opts.schema ?? this.settings.eventSchema;
    if (!EVENT_SCHEMAS.includes(schema)) {
      throw badRequest('InvalidInput', `'schema' must be one of ${EVENT_SCHEMAS.join(', ')}.`);
    }
    await this.publisher.subscribe(webhookUrl, schema);
  }

  injectFault(fault: FaultSpec): void {
    this.faults.add(requireObject(fault, 'The fault') as unknown as FaultSpec);
  }

  private async shutdown(): Promise<void> {
    this.store.dispose();
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await Promise.all([serverClosed, this.publisher.close()]);
  }

  private registerSubscription(subscriptionId: string, tenantId: string | undefined): EmulatorSubscription {
    const subscription: EmulatorSubscription = {
      subscriptionId,
      tenantId: tenantId ?? DEFAULT_TENANT_ID,
      displayName: `Subscription ${subscriptionId}`,
      visibility: 'visible',
    };
    this.store.addSubscription(subscription);
    return subscription;
  }

  /**
   * `vault: NAME`, or `type` (a fixture key or ARM type) with `resource: NAME`. The name finds the resource
   * (vault and storage account names are global in Azure; for other types the first match is taken when
   * subscription and group are not given); subscription and group cross-check.
   */
  private resolveResource(input: Record<string, unknown>): StoredResource {
    const vaultName = optionalString(input, 'vault');
    const typeName = optionalString(input, 'type') ?? (vaultName !== undefined ? KEY_VAULT_TYPE : undefined);
    if (typeName === undefined) throw badRequest('InvalidInput', "'vault' is required, or 'type' and 'resource' for a resource of another type.");
    const fixture = fixtureFor(typeName);
    if (!fixture) {
      throw badRequest('InvalidResourceType', `'type' '${typeName}' is not one the emulator serves (${RESOURCE_FIXTURES.map((f) => f.key).join(', ')}).`);
    }
    const name = vaultName ?? requiredString(input, 'resource');
    const subscriptionId = optionalString(input, 'subscriptionId');
    const resourceGroup = optionalString(input, 'resourceGroup');
    const found = this.store
      .findResourceByName(fixture.type, name)
      .filter(
        (r) =>
          (subscriptionId === undefined || idKey(subscriptionId) === idKey(r.subscriptionId)) &&
          (resourceGroup === undefined || idKey(resourceGroup) === idKey(r.resourceGroup)),
      );
    const resource = found[0];
    if (!resource) {
      const where = [subscriptionId && `subscription '${subscriptionId}'`, resourceGroup && `resource group '${resourceGroup}'`]
        .filter(Boolean)
        .join(', ');
      const noun = fixture.type === KEY_VAULT_TYPE ? 'Vault' : `${fixture.type} resource`;
      throw notFound('ResourceNotFound', `${noun} '${name}' was not found${where ? ` in ${where}` : ''}. Create it with ${fixture.type === KEY_VAULT_TYPE ? 'createVault' : 'createResource'} first.`);
    }
    return resource;
  }

  private requireConnection(connectionId: string): { vault: StoredResource; connection: StoredConnection } {
    if (typeof connectionId !== 'string' || connectionId === '') {
      throw badRequest('InvalidInput', "'connectionId' must be a non-empty resource ID.");
    }
    const connection = this.store.getConnection(connectionId);
    const vault = connection && this.store.getResourceByKey(connection.resourceKey);
    if (!connection || !vault) throw connectionNotFound(connectionId);
    return { vault, connection };
  }

  /** The requester works from their own subscription and tenant, which may differ from the vault's. */
  private requester(input: Record<string, unknown>, fromSubscription: string): CallerIdentity {
    const objectId = optionalString(input, 'requesterObjectId') ?? stableGuid(`requester:${fromSubscription}`);
    const tenantId =
      optionalString(input, 'requesterTenantId') ?? this.store.getSubscription(fromSubscription)?.tenantId ?? DEFAULT_TENANT_ID;
    return { objectId, tenantId, name: `requester-${objectId.slice(0, 8)}@emulator.test`, appId: AZURE_CLI_APP_ID };
  }

  /**
   * Creating a private endpoint makes the network provider validate (where the provider has that step),
   * then write, a connection proxy on the resource; the provider reports both, and they arrive together.
   */
  private requestEvents(
    vault: StoredResource,
    connection: StoredConnection,
    caller: CallerIdentity,
    fromSubscription: string,
  ): ResourceEvent[] {
    const proxyId = connectionProxyId(vault.id, connection.name);
    const base = this.eventBase(vault, caller, `/subscriptions/${fromSubscription}`, randomUUID());
    const proxyUrl = `${this.baseUrl}${proxyId}`;
    const fixture = requireFixture(vault.type);
    const operations = operationsFor(fixture);
    const apiVersion = fixture.apiVersions[0] ?? CURRENT_API_VERSION;
    return [
      ...(fixture.proxyValidate
        ? [
            this.event(base, {
              eventType: 'Microsoft.Resources.ResourceActionSuccess',
              operationName: operations.proxyValidate,
              resourceId: proxyId,
              httpMethod: 'POST',
              httpUrl: `${proxyUrl}/validate?api-version=${apiVersion}`,
            }),
          ]
        : []),
      this.event(base, {
        eventType: 'Microsoft.Resources.ResourceWriteSuccess',
        operationName: operations.proxyWrite,
        resourceId: proxyId,
        httpMethod: 'PUT',
        httpUrl: `${proxyUrl}?api-version=${apiVersion}`,
      }),
    ];
  }

  /** What the portal produces when a vault owner approves, rejects or removes a connection. */
  private portalEvent(
    vault: StoredResource,
    connection: StoredConnection,
    actorObjectId: string | undefined,
    eventType: 'Microsoft.Resources.ResourceWriteSuccess' | 'Microsoft.Resources.ResourceDeleteSuccess',
  ): ResourceEvent {
    const objectId = actorObjectId ?? stableGuid('portal-user');
    const actor: CallerIdentity = {
      objectId,
      tenantId: this.store.tenantOfVault(vault),
      name: `user-${objectId.slice(0, 8)}@emulator.test`,
      appId: AZURE_PORTAL_APP_ID,
    };
    const isWrite = eventType === 'Microsoft.Resources.ResourceWriteSuccess';
    return this.event(this.eventBase(vault, actor, `/subscriptions/${vault.subscriptionId}`, randomUUID()), {
      eventType,
      operationName: isWrite ? operationsFor(vault).connectionWrite : operationsFor(vault).connectionDelete,
      resourceId: connection.id,
      httpMethod: isWrite ? 'PUT' : 'DELETE',
      httpUrl: `${this.baseUrl}${connection.id}?api-version=${requireFixture(vault.type).apiVersions[0] ?? CURRENT_API_VERSION}`,
    });
  }

  private eventBase(
    vault: StoredResource,
    caller: CallerIdentity,
    roleAssignmentScope: string,
    correlationId: string,
  ): Omit<ResourceEventSpec, 'eventType' | 'operationName' | 'resourceId' | 'httpMethod' | 'httpUrl' | 'clientRequestId'> {
    return {
      subscriptionId: vault.subscriptionId,
      tenantId: this.store.tenantOfVault(vault),
      resourceProvider: vault.type.split('/')[0] ?? '',
      caller,
      roleAssignmentScope,
      correlationId,
    };
  }

  private event(
    base: ReturnType<EmulatorRuntime['eventBase']>,
    specific: Pick<ResourceEventSpec, 'eventType' | 'operationName' | 'resourceId' | 'httpMethod' | 'httpUrl'>,
  ): ResourceEvent {
    return buildResourceEvent({ ...base, ...specific, clientRequestId: randomUUID() }, this.settings.now());
  }
}

function normaliseOptions(opts: ArmEmulatorOptions): Settings {
  const settings: Settings = {
    port: opts.port ?? 0,
    subscriptions: opts.subscriptions ?? [],
    provisioningDelayMs: opts.provisioningDelayMs ?? 300,
    pageSize: opts.pageSize ?? 10,
    eventSchema: opts.eventSchema ?? 'EventGridSchema',
    now: opts.now ?? (() => new Date()),
    resourceGraphLagMs: opts.resourceGraphLagMs ?? 0,
    resourceGraphQuota: opts.resourceGraphQuota ?? DEFAULT_GRAPH_QUOTA,
    armThrottling: opts.armThrottling,
  };
  if (!Number.isFinite(settings.resourceGraphLagMs) || settings.resourceGraphLagMs < 0) {
    throw new RangeError(`resourceGraphLagMs must be a non-negative number, got ${settings.resourceGraphLagMs}.`);
  }
  if (!Number.isInteger(settings.resourceGraphQuota.queries) || settings.resourceGraphQuota.queries < 1) {
    throw new RangeError(`resourceGraphQuota.queries must be a positive integer, got ${settings.resourceGraphQuota.queries}.`);
  }
  if (!Number.isInteger(settings.port) || settings.port < 0 || settings.port > 65_535) {
    throw new RangeError(`port must be an integer between 0 and 65535, got ${settings.port}.`);
  }
  if (!Number.isFinite(settings.provisioningDelayMs) || settings.provisioningDelayMs < 0) {
    throw new RangeError(`provisioningDelayMs must be a non-negative number, got ${settings.provisioningDelayMs}.`);
  }
  if (!Number.isInteger(settings.pageSize) || settings.pageSize < 1) {
    throw new RangeError(`pageSize must be a positive integer, got ${settings.pageSize}.`);
  }
  if (!EVENT_SCHEMAS.includes(settings.eventSchema)) {
    throw new RangeError(`eventSchema must be one of ${EVENT_SCHEMAS.join(', ')}.`);
  }
  return settings;
}
