import { randomUUID } from 'node:crypto';
import { ArmError, badRequest, notFound } from './arm-error.js';
import { connectionId, idKey, newEtag, vaultId } from './resource-ids.js';
import type {
  ConnectionProvisioningState,
  ConnectionResource,
  ConnectionStatus,
  EmulatorSubscription,
  VaultResource,
} from './types.js';

/** Key Vault caps the connection state description at 140 characters. */
export const MAX_DESCRIPTION_LENGTH = 140;

const VAULT_NAME_PATTERN = /^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/;

export interface VaultSpec {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  tenantId: string;
  tags?: Record<string, string>;
  skuName?: 'standard' | 'premium';
  enableRbacAuthorization?: boolean;
  publicNetworkAccess?: 'Enabled' | 'Disabled';
}

export interface StoredVault extends Required<VaultSpec> {
  id: string;
}

export interface StoredConnection {
  id: string;
  vaultKey: string;
  name: string;
  location: string;
  privateEndpointId: string;
  status: ConnectionStatus;
  description: string;
  provisioningState: ConnectionProvisioningState;
  etag: string;
  latestOperation?: string;
}

/** An `Azure-AsyncOperation` target: it reports InProgress until the connection's provisioning completes. */
export interface AsyncOperation {
  name: string;
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

/** In-memory ARM state: subscriptions, vaults, their private endpoint connections and running operations. */
export class ResourceStore {
  private readonly subscriptions = new Map<string, EmulatorSubscription>();
  private readonly vaults = new Map<string, StoredVault>();
  private readonly connections = new Map<string, StoredConnection>();
  private readonly operations = new Map<string, AsyncOperation>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: StoreOptions) {}

  addSubscription(subscription: EmulatorSubscription): void {
    this.subscriptions.set(idKey(subscription.subscriptionId), { ...subscription });
  }

  getSubscription(subscriptionId: string): EmulatorSubscription | undefined {
    return this.subscriptions.get(idKey(subscriptionId));
  }

  /** The tenant a vault's events are attributed to: its subscription's tenant, else the vault's own. */
  tenantOfVault(vault: StoredVault): string {
    return this.getSubscription(vault.subscriptionId)?.tenantId ?? vault.tenantId;
  }

  /** Creates or replaces a vault. Vault names are global in Azure (they form the vault URI), hence the clash check. */
  putVault(spec: VaultSpec): { vault: StoredVault; created: boolean } {
    validateVaultName(spec.name);
    const id = vaultId(spec.subscriptionId, spec.resourceGroup, spec.name);
    const existing = this.vaults.get(idKey(id));
    const clash = this.findVaultByName(spec.name);
    if (clash && idKey(clash.id) !== idKey(id)) {
      throw new ArmError(409, 'VaultAlreadyExists', `The vault name '${spec.name}' is already in use.`);
    }
    const vault: StoredVault = {
      id: existing?.id ?? id,
      subscriptionId: existing?.subscriptionId ?? spec.subscriptionId,
      resourceGroup: existing?.resourceGroup ?? spec.resourceGroup,
      name: existing?.name ?? spec.name,
      location: spec.location,
      tenantId: spec.tenantId,
      tags: { ...(spec.tags ?? {}) },
      skuName: spec.skuName ?? 'standard',
      enableRbacAuthorization: spec.enableRbacAuthorization ?? true,
      publicNetworkAccess: spec.publicNetworkAccess ?? 'Disabled',
    };
    this.vaults.set(idKey(id), vault);
    return { vault, created: existing === undefined };
  }

  getVault(subscriptionId: string, resourceGroup: string, name: string): StoredVault | undefined {
    return this.vaults.get(idKey(vaultId(subscriptionId, resourceGroup, name)));
  }

  getVaultByKey(key: string): StoredVault | undefined {
    return this.vaults.get(key);
  }

  findVaultByName(name: string): StoredVault | undefined {
    const wanted = name.toLowerCase();
    return [...this.vaults.values()].find((vault) => vault.name.toLowerCase() === wanted);
  }

  listVaults(subscriptionId: string, resourceGroup?: string): StoredVault[] {
    return [...this.vaults.values()].filter(
      (vault) =>
        idKey(vault.subscriptionId) === idKey(subscriptionId) &&
        (resourceGroup === undefined || idKey(vault.resourceGroup) === idKey(resourceGroup)),
    );
  }

  /** Deleting a vault takes its connections with it. */
  deleteVault(vault: StoredVault): void {
    for (const connection of this.listConnections(idKey(vault.id))) {
      this.connections.delete(idKey(connection.id));
    }
    this.vaults.delete(idKey(vault.id));
  }

  addConnection(
    vault: StoredVault,
    input: { name: string; privateEndpointId: string; description: string },
  ): StoredConnection {
    validateDescription(input.description);
    const id = connectionId(vault.id, input.name);
    if (this.connections.has(idKey(id))) {
      throw new ArmError(409, 'Conflict', `The private endpoint connection '${input.name}' already exists.`);
    }
    const connection: StoredConnection = {
      id,
      vaultKey: idKey(vault.id),
      name: input.name,
      location: vault.location,
      privateEndpointId: input.privateEndpointId,
      status: 'Pending',
      description: input.description,
      provisioningState: 'Succeeded',
      etag: newEtag(),
    };
    this.connections.set(idKey(id), connection);
    return connection;
  }

  getConnection(id: string): StoredConnection | undefined {
    return this.connections.get(idKey(id));
  }

  listConnections(vaultKey?: string): StoredConnection[] {
    const all = [...this.connections.values()];
    return vaultKey === undefined ? all : all.filter((connection) => connection.vaultKey === vaultKey);
  }

  /**
   * Applies a state change the way Key Vault does: the resource goes to `Updating` at once and to `Succeeded`
   * after the provisioning delay, with a fresh etag at each step. Returns the operation that tracks it.
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
    connection.provisioningState = 'Updating';
    connection.etag = newEtag();
    const operation = this.startOperation(connection);
    connection.latestOperation = operation.name;
    return operation;
  }

  removeConnection(connection: StoredConnection): void {
    this.connections.delete(idKey(connection.id));
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
      const { id, etag, properties } = this.connectionToWire(connection);
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

  connectionToWire(connection: StoredConnection, provisioningState?: ConnectionProvisioningState): ConnectionResource {
    return {
      id: connection.id,
      name: connection.name,
      type: 'Microsoft.KeyVault/vaults/privateEndpointConnections',
      etag: connection.etag,
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

  private startOperation(connection: StoredConnection): AsyncOperation {
    const vault = this.vaults.get(connection.vaultKey);
    const operation: AsyncOperation = {
      name: randomUUID(),
      subscriptionId: vault?.subscriptionId ?? '',
      location: connection.location,
      status: 'InProgress',
      startTime: this.options.now(),
    };
    this.operations.set(idKey(operation.name), operation);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.completeOperation(operation, connection);
    }, this.options.provisioningDelayMs);
    timer.unref();
    this.timers.add(timer);
    return operation;
  }

  private completeOperation(operation: AsyncOperation, connection: StoredConnection): void {
    operation.status = 'Succeeded';
    operation.endTime = this.options.now();
    const current = this.connections.get(idKey(connection.id));
    if (current === connection && connection.latestOperation === operation.name) {
      connection.provisioningState = 'Succeeded';
      connection.etag = newEtag();
    }
  }
}

export function validateVaultName(name: string): void {
  if (!VAULT_NAME_PATTERN.test(name) || name.includes('--')) {
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
