import { KeyVaultManagementClient, type PrivateEndpointConnection as ArmConnectionModel } from '@azure/arm-keyvault';
import { RestError } from '@azure/core-rest-pipeline';
import type { CallOptions, ConnectionsPort, SetStatusResult, StatusChange } from '../../app/ports.js';
import { toConnectionStatus, type PrivateEndpointConnection } from '../../domain/connection.js';
import { InvalidInputError } from '../../domain/errors.js';
import { connectionRef, parsePrivateEndpointId, vaultOf, type ConnectionRef, type PrivateEndpointRef, type VaultRef } from '../../domain/resource-id.js';
import { armClientOptions, type ArmConnection } from './arm-client-options.js';

/**
 * Key Vault private endpoint connections through @azure/arm-keyvault v5.
 * The v5 client is bound to one subscription, so one client is kept per subscription.
 */
export class KeyVaultConnections implements ConnectionsPort {
  private readonly clients = new Map<string, KeyVaultManagementClient>();

  constructor(private readonly arm: ArmConnection) {}

  async list(vault: VaultRef): Promise<PrivateEndpointConnection[] | undefined> {
    const client = this.client(vault.subscriptionId);
    const found: PrivateEndpointConnection[] = [];
    try {
      for await (const item of client.privateEndpointConnections.listByResource(vault.resourceGroup, vault.name)) {
        found.push(toDomain(vault, item));
      }
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw error;
    }
    return found;
  }

  async get(ref: ConnectionRef, options: CallOptions = {}): Promise<PrivateEndpointConnection | undefined> {
    const { vault } = ref;
    let status: number | undefined;
    try {
      const item = await this.client(vault.subscriptionId).privateEndpointConnections.get(vault.resourceGroup, vault.name, ref.name, {
        ...(options.signal ? { abortSignal: options.signal } : {}),
        onResponse: (raw) => {
          status = raw.status;
        },
      });
      // A 204 means "no such connection". The v5 deserializer throws a TypeError on the empty
      // body; where it does not, it yields an object without an id.
      if (status === 204 || !item?.id) return undefined;
      return toDomain(vault, item);
    } catch (error) {
      if (status === 204 || isStatus(error, 404)) return undefined;
      throw error;
    }
  }

  async setStatus(ref: ConnectionRef, change: StatusChange, options: CallOptions = {}): Promise<SetStatusResult> {
    const { vault } = ref;
    try {
      const item = await this.client(vault.subscriptionId).privateEndpointConnections.put(
        vault.resourceGroup,
        vault.name,
        ref.name,
        {
          ...(change.etag ? { etag: change.etag } : {}),
          privateLinkServiceConnectionState: { status: change.status, description: change.description },
        },
        options.signal ? { abortSignal: options.signal } : {},
      );
      return { kind: 'accepted', connection: item?.id ? toDomain(vault, item) : undefined };
    } catch (error) {
      if (isStatus(error, 404)) return { kind: 'gone' };
      if (isStatus(error, 409) || isStatus(error, 412)) return { kind: 'conflict', message: errorMessage(error) };
      if (isStatus(error, 400)) return { kind: 'refused', message: errorMessage(error) };
      throw error;
    }
  }

  async listVaults(subscriptionId: string): Promise<VaultRef[]> {
    const vaults: VaultRef[] = [];
    for await (const vault of this.client(subscriptionId).vaults.listBySubscription()) {
      const ref = vault.id ? vaultOf(vault.id) : undefined;
      if (ref && ref.key === vault.id?.toLowerCase()) vaults.push(ref);
    }
    return vaults;
  }

  private client(subscriptionId: string): KeyVaultManagementClient {
    let client = this.clients.get(subscriptionId);
    if (!client) {
      client = new KeyVaultManagementClient(this.arm.credential, subscriptionId, armClientOptions(this.arm));
      this.clients.set(subscriptionId, client);
    }
    return client;
  }
}

/** Translates the SDK model (flattened in v5) into the domain's connection. */
export function toDomain(vault: VaultRef, item: ArmConnectionModel): PrivateEndpointConnection {
  const name = item.name ?? item.id?.split('/').pop();
  if (!name) throw new InvalidInputError('A private endpoint connection came back without a name or id', 'name');
  const rawStatus = item.privateLinkServiceConnectionState?.status;
  const rawEndpoint = item.privateEndpoint?.id;
  return {
    ref: connectionRef(vault, name),
    rawStatus,
    status: toConnectionStatus(rawStatus),
    description: item.privateLinkServiceConnectionState?.description,
    provisioningState: item.provisioningState,
    etag: item.etag,
    privateEndpoint: rawEndpoint ? tryParseEndpoint(rawEndpoint) : undefined,
    rawPrivateEndpointId: rawEndpoint,
  };
}

function tryParseEndpoint(id: string): PrivateEndpointRef | undefined {
  try {
    return parsePrivateEndpointId(id);
  } catch {
    return undefined;
  }
}

export function isStatus(error: unknown, status: number): boolean {
  return error instanceof RestError ? error.statusCode === status : (error as { statusCode?: number } | null)?.statusCode === status;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
