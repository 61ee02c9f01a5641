import { randomUUID } from 'node:crypto';
import { ArmError, badRequest, notFound } from './arm-error.js';
import { KEY_VAULT_TYPE, requireFixture, type ResourceFixture } from './resource-fixtures.js';
import { connectionId, idKey, newEtag, resourceId, vaultId } from './resource-ids.js';
import type {
  ConnectionProvisioningState,
  ConnectionResource,
  ConnectionStatus,
  EmulatorSubscription,
  VaultResource,
} from './types.js';

/** Key Vault caps the connection state description at 140 characters. */
export const MAX_DESCRIPTION_LENGTH = 140;

/** Where a resource is and who owns it: what every type has in common. */
export interface ResourceSpec {
  type: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  tenantId: string;
  tags?: Record<string, string>;
}

export interface VaultSpec extends Omit<ResourceSpec, 'type'> {
  skuName?: 'standard' | 'premium';
  enableRbacAuthorization?: boolean;
  publicNetworkAccess?: 'Enabled' | 'Disabled';
}

/** Any Private Link resource of a type the emulator has a fixture for. */
export interface StoredResource extends Required<ResourceSpec> {
  id: string;
}

export interface StoredVault extends Required<VaultSpec>, StoredResource {}

export interface StoredConnection {
  id: string;
  resourceKey: string;
  resourceType: string;
  name: string;
  location: string;
  privateEndpointId: string;
  status: ConnectionStatus;
  description: string;
  provisioningState: ConnectionProvisioningState | string;
  etag: string;
  latestOperation?: string;
}

/** An `Azure-AsyncOperation` target: it reports InProgress until the connection's provisioning completes. */
export interface AsyncOperation {
  name: string;
  /** The connection the operation changes. */
  connectionId: string;
  subscriptionId: string;
  location: string;
  status: 'InProgress' | 'Succeeded';
  startTime: Date;
  endTime?: Date;
}

export interface StoreOptions {
  provisioningDelayMs: number;
  now: () => Date;
}

/** In-memory ARM state: subscriptions, Private Link resources of every fixture type, their private endpoint connections and running operations. */
export class ResourceStore {
  private readonly subscriptions = new Map<string, EmulatorSubscription>();
  private readonly resources = new Map<string, StoredResource>();
  private readonly connections = new Map<string, StoredConnection>();
  /** Connections by resource key, in creation order, so a resource's connections are found without a scan. */
  private readonly connectionsByResource = new Map<string, Map<string, StoredConnection>>();
  /** Resources by lower-case `type/name`, since vault names are global and requests name resources without their group. */
  private readonly resourcesByName = new Map<string, Map<string, StoredResource>>();
  private readonly operations = new Map<string, AsyncOperation>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private changes = 0;
  /** The store revision at which each resource, or one of its connections, last changed. */
  private readonly resourceChanges = new Map<string, number>();

  constructor(private readonly options: StoreOptions) {}

  /** Grows with every change to subscriptions, resources or connections, so readers can tell a stale copy. */
  get revision(): number {
    return this.changes;
  }

  addSubscription(subscription: EmulatorSubscription): void {
    this.subscriptions.set(idKey(subscription.subscriptionId), { ...subscription });
    this.changes += 1;
  }

  listSubscriptions(): EmulatorSubscription[] {
    return [...this.subscriptions.values()];
  }

  /** Every resource of every type by its key, in creation order, with the revision it last changed at. */
  resourceEntries(): { key: string; resource: StoredResource; revision: number }[] {
    return [...this.resources].map(([key, resource]) => ({ key, resource, revision: this.resourceChanges.get(key) ?? 0 }));
  }

  private changed(resourceKey: string): void {
    this.changes += 1;
    this.resourceChanges.set(resourceKey, this.changes);
  }

  getSubscription(subscriptionId: string): EmulatorSubscription | undefined {
    return this.subscriptions.get(idKey(subscriptionId));
  }

  /** The tenant a resource's events are attributed to: its subscription's tenant, else the resource's own. */
  tenantOfVault(resource: StoredResource): string {
    return this.getSubscription(resource.subscriptionId)?.tenantId ?? resource.tenantId;
  }

  /** Creates or replaces a resource of a type other than Key Vault (vaults go through putVault). */
  putResource(spec: ResourceSpec): { resource: StoredResource; created: boolean } {
    const fixture = requireFixture(spec.type);
    if (fixture.type === KEY_VAULT_TYPE) {
      const { vault, created } = this.putVault(spec);
      return { resource: vault, created };
    }
    if (!fixture.namePattern.test(spec.name)) {
      throw badRequest('InvalidResourceName', `The name '${spec.name}' is invalid for ${fixture.type}. ${fixture.nameRule}`);
    }
    const id = resourceId(spec.subscriptionId, spec.resourceGroup, fixture.type, spec.name);
    const existing = this.resources.get(idKey(id));
    const resource = storedResource(fixture.type, id, spec, existing);
    this.setResource(resource);
    return { resource, created: existing === undefined };
  }

  private setResource(resource: StoredResource): void {
    const key = idKey(resource.id);
    this.resources.set(key, resource);
    const byName = nameKey(resource.type, resource.name);
    const named = this.resourcesByName.get(byName) ?? new Map<string, StoredResource>();
    named.set(key, resource);
    this.resourcesByName.set(byName, named);
    this.changed(key);
  }

  getResource(type: string, subscriptionId: string, resourceGroup: string, name: string): StoredResource | undefined {
    return this.resources.get(idKey(resourceId(subscriptionId, resourceGroup, requireFixture(type).type, name)));
  }

  getResourceByKey(key: string): StoredResource | undefined {
    return this.resources.get(key);
  }

  findResourceByName(type: string, name: string): StoredResource[] {
    return [...(this.resourcesByName.get(nameKey(requireFixture(type).type, name))?.values() ?? [])];
  }

  listResources(type: string, subscriptionId: string, resourceGroup?: string): StoredResource[] {
    const typeKey = requireFixture(type).type.toLowerCase();
    return [...this.resources.values()].filter(
      (r) =>
        r.type.toLowerCase() === typeKey &&
        idKey(r.subscriptionId) === idKey(subscriptionId) &&
        (resourceGroup === undefined || idKey(r.resourceGroup) === idKey(resourceGroup)),
    );
  }

  /** Deleting a resource takes its connections with it. */
  deleteResource(resource: StoredResource): void {
    for (const connection of this.listConnections(idKey(resource.id))) {
      this.connections.delete(idKey(connection.id));
    }
    this.connectionsByResource.delete(idKey(resource.id));
    this.resources.delete(idKey(resource.id));
    this.resourcesByName.get(nameKey(resource.type, resource.name))?.delete(idKey(resource.id));
    this.changed(idKey(resource.id));
  }

  /** Creates or replaces a vault. Vault names are global in Azure (they form the vault URI), hence the clash check. */
  putVault(spec: VaultSpec): { vault: StoredVault; created: boolean } {
    validateVaultName(spec.name);
    const id = vaultId(spec.subscriptionId, spec.resourceGroup, spec.name);
    const existing = this.resources.get(idKey(id)) as StoredVault | undefined;
    const clash = this.findVaultByName(spec.name);
    if (clash && idKey(clash.id) !== idKey(id)) {
      throw new ArmError(409, 'VaultAlreadyExists', `The vault name '${spec.name}' is already in use.`);
    }
    const vault: StoredVault = {
      ...storedResource(KEY_VAULT_TYPE, id, spec, existing),
      skuName: spec.skuName ?? 'standard',
      enableRbacAuthorization: spec.enableRbacAuthorization ?? true,
      publicNetworkAccess: spec.publicNetworkAccess ?? 'Disabled',
    };
    this.setResource(vault);
    return { vault, created: existing === undefined };
  }

  getVault(subscriptionId: string, resourceGroup: string, name: string): StoredVault | undefined {
    return this.resources.get(idKey(vaultId(subscriptionId, resourceGroup, name))) as StoredVault | undefined;
  }

  getVaultByKey(key: string): StoredVault | undefined {
    const resource = this.resources.get(key);
    return resource?.type === KEY_VAULT_TYPE ? (resource as StoredVault) : undefined;
  }

  findVaultByName(name: string): StoredVault | undefined {
    return this.findResourceByName(KEY_VAULT_TYPE, name)[0] as StoredVault | undefined;
  }

  listVaults(subscriptionId: string, resourceGroup?: string): StoredVault[] {
    return this.listResources(KEY_VAULT_TYPE, subscriptionId, resourceGroup) as StoredVault[];
  }

  /** Deleting a vault takes its connections with it. */
  deleteVault(vault: StoredVault): void {
    this.deleteResource(vault);
  }

  /**
   * A new connection, Pending unless `status` says otherwise (seeding connections that were decided before
   * anyone watched); its provisioning is complete either way.
   */
  addConnection(
    vault: StoredResource,
    input: { name: string; privateEndpointId: string; description: string; status?: ConnectionStatus },
  ): StoredConnection {
    validateDescription(input.description);
    const id = connectionId(vault.id, input.name);
    const key = idKey(id);
    if (this.connections.has(key)) {
      throw new ArmError(409, 'Conflict', `The private endpoint connection '${input.name}' already exists.`);
    }
    const connection: StoredConnection = {
      id,
      resourceKey: idKey(vault.id),
      resourceType: vault.type,
      name: input.name,
      location: vault.location,
      privateEndpointId: input.privateEndpointId,
      status: input.status ?? 'Pending',
      description: input.description,
      // A new request shows Succeeded, as the providers do; a seeded decision shows the state it settled in.
      provisioningState: input.status === undefined ? 'Succeeded' : requireFixture(vault.type).applied,
      etag: newEtag(),
    };
    this.connections.set(key, connection);
    const ofResource = this.connectionsByResource.get(connection.resourceKey) ?? new Map<string, StoredConnection>();
    ofResource.set(key, connection);
    this.connectionsByResource.set(connection.resourceKey, ofResource);
    this.changed(connection.resourceKey);
    return connection;
  }

  getConnection(id: string): StoredConnection | undefined {
    return this.connections.get(idKey(id));
  }

  listConnections(resourceKey?: string): StoredConnection[] {
    if (resourceKey === undefined) return [...this.connections.values()];
    return [...(this.connectionsByResource.get(resourceKey)?.values() ?? [])];
  }

  /**
   * Applies a state change the way the type's provider does: the connection goes to the fixture's applying
   * state (Key Vault: `Updating`; SQL: `Approving` or `Rejecting`) at once and to its applied state after the
   * provisioning delay, with a fresh etag at each step; a synchronous provider (`put: ok`) applies it at once.
   * Returns the operation that tracks it.
   */
  changeConnectionState(
    connection: StoredConnection,
    change: { status: ConnectionStatus; description?: string },
  ): AsyncOperation {
    assertTransitionAllowed(connection, change.status);
    if (change.description !== undefined) {
      validateDescription(change.description);
      connection.description = change.description;
    }
    connection.status = change.status;
    const fixture = requireFixture(connection.resourceType);
    connection.provisioningState = fixture.applying(change.status);
    connection.etag = newEtag();
    this.changed(connection.resourceKey);
    const operation = this.startOperation(connection, fixture.put === 'ok' ? 0 : this.options.provisioningDelayMs);
    if (fixture.put === 'ok') this.completeOperation(operation, connection);
    connection.latestOperation = operation.name;
    return operation;
  }

  removeConnection(connection: StoredConnection): void {
    this.connections.delete(idKey(connection.id));
    this.connectionsByResource.get(connection.resourceKey)?.delete(idKey(connection.id));
    this.changed(connection.resourceKey);
  }

  getOperation(name: string): AsyncOperation | undefined {
    return this.operations.get(idKey(name));
  }

  dispose(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  vaultToWire(vault: StoredVault): VaultResource {
    const items = this.listConnections(idKey(vault.id)).map((connection) => {
      const { id, etag, properties } = this.connectionToWire(connection) as ConnectionResource & { etag: string };
      return { id, etag, properties };
    });
    return {
      id: vault.id,
      name: vault.name,
      type: 'Microsoft.KeyVault/vaults',
      location: vault.location,
      tags: { ...vault.tags },
      properties: {
        tenantId: vault.tenantId,
        sku: { family: 'A', name: vault.skuName },
        accessPolicies: [],
        vaultUri: `https://${vault.name.toLowerCase()}.vault.azure.net/`,
        enabledForDeployment: false,
        enabledForDiskEncryption: false,
        enabledForTemplateDeployment: false,
        enableSoftDelete: true,
        softDeleteRetentionInDays: 90,
        enableRbacAuthorization: vault.enableRbacAuthorization,
        publicNetworkAccess: vault.publicNetworkAccess,
        provisioningState: 'Succeeded',
        ...(items.length > 0 ? { privateEndpointConnections: items } : {}),
      },
    };
  }

  /** Any resource as its provider's GET answers it: its own properties plus the connections it holds. */
  resourceToWire(resource: StoredResource): Record<string, unknown> {
    if (resource.type === KEY_VAULT_TYPE) return this.vaultToWire(resource as StoredVault) as unknown as Record<string, unknown>;
    const fixture = requireFixture(resource.type);
    const items = this.listConnections(idKey(resource.id)).map((connection) => {
      const { id, properties } = this.connectionToWire(connection);
      return { id, properties };
    });
    return {
      id: resource.id,
      name: resource.name,
      type: resource.type,
      location: resource.location,
      tags: { ...resource.tags },
      properties: { ...fixture.properties(resource), ...(items.length > 0 ? { privateEndpointConnections: items } : {}) },
    };
  }

  connectionToWire(connection: StoredConnection, provisioningState?: ConnectionProvisioningState): ConnectionResource {
    const fixture: ResourceFixture = requireFixture(connection.resourceType);
    return {
      id: connection.id,
      name: connection.name,
      type: `${fixture.type}/privateEndpointConnections`,
      ...(fixture.etag ? { etag: connection.etag } : {}),
      location: connection.location,
      properties: {
        privateEndpoint: { id: connection.privateEndpointId },
        privateLinkServiceConnectionState: {
          status: connection.status,
          description: connection.description,
          actionsRequired: 'None',
        },
        provisioningState: provisioningState ?? connection.provisioningState,
      },
    };
  }

  private startOperation(connection: StoredConnection, delayMs: number): AsyncOperation {
    const vault = this.resources.get(connection.resourceKey);
    const operation: AsyncOperation = {
      name: randomUUID(),
      connectionId: connection.id,
      subscriptionId: vault?.subscriptionId ?? '',
      location: connection.location,
      status: 'InProgress',
      startTime: this.options.now(),
    };
    this.operations.set(idKey(operation.name), operation);
    if (delayMs === 0) return operation;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.completeOperation(operation, connection);
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
    return operation;
  }

  private completeOperation(operation: AsyncOperation, connection: StoredConnection): void {
    operation.status = 'Succeeded';
    operation.endTime = this.options.now();
    const current = this.connections.get(idKey(connection.id));
    if (current === connection && connection.latestOperation === operation.name) {
      connection.provisioningState = requireFixture(connection.resourceType).applied;
      connection.etag = newEtag();
      this.changed(connection.resourceKey);
    }
  }
}

function nameKey(type: string, name: string): string {
  return `${type.toLowerCase()}/${name.toLowerCase()}`;
}

export function validateVaultName(name: string): void {
  if (!requireFixture(KEY_VAULT_TYPE).namePattern.test(name)) {
    throw badRequest(
      'VaultNameNotValid',
      `The vault name '${name}' is invalid. A vault's name must be between 3-24 alphanumeric characters. ` +
        'The name must begin with a letter, end with a letter or digit, and not contain consecutive hyphens.',
    );
  }
}

export function validateDescription(description: string): void {
  if (description.length > MAX_DESCRIPTION_LENGTH) {
    throw badRequest(
      'InvalidPrivateLinkServiceConnectionStateDescription',
      `privateLinkServiceConnectionState.description is ${description.length} characters long; ` +
        `at most ${MAX_DESCRIPTION_LENGTH} are allowed.`,
    );
  }
}

/** A rejected or disconnected connection cannot be approved again; the requester has to create a new one. */
function assertTransitionAllowed(connection: StoredConnection, next: ConnectionStatus): void {
  const terminal = connection.status === 'Rejected' || connection.status === 'Disconnected';
  if (terminal && next === 'Approved') {
    throw badRequest(
      'PrivateEndpointConnectionStateTransitionNotAllowed',
      `The private endpoint connection '${connection.name}' is ${connection.status} and cannot be changed to ` +
        `Approved. The private endpoint must be re-created to request access again.`,
    );
  }
}

export function connectionNotFound(name: string): ArmError {
  return notFound(
    'PrivateEndpointConnectionNotFound',
    `Private endpoint connection '${name}' could not be found.`,
  );
}

/** The fields every stored resource has; a replaced resource keeps the spelling it was created with. */
function storedResource(type: string, id: string, spec: Omit<ResourceSpec, 'type'>, existing: StoredResource | undefined): StoredResource {
  return {
    id: existing?.id ?? id,
    type,
    subscriptionId: existing?.subscriptionId ?? spec.subscriptionId,
    resourceGroup: existing?.resourceGroup ?? spec.resourceGroup,
    name: existing?.name ?? spec.name,
    location: spec.location,
    tenantId: spec.tenantId,
    tags: { ...(spec.tags ?? {}) },
  };
}
