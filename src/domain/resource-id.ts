import { InvalidInputError } from './errors.js';

/**
 * Azure resource IDs are case-insensitive, and real Event Grid payloads mix
 * `/resourcegroups/` and `/resourceGroups/` (see shared AZURE-FACTS, "Casing").
 * IDs are parsed once at the boundary into these records: `id` is a canonical
 * spelling fit for display and ARM calls, `key` is its lower-case form for comparison
 * and storage keys.
 */
export interface VaultRef {
  readonly id: string;
  readonly key: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
}

export interface ConnectionRef {
  readonly vault: VaultRef;
  readonly name: string;
  readonly id: string;
  readonly key: string;
}

export interface PrivateEndpointRef {
  readonly id: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
}

const VAULT_PATTERN =
  /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/providers\/microsoft\.keyvault\/vaults\/([^/]+)(?:\/(.*))?$/i;
const PRIVATE_ENDPOINT_PATTERN =
  /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/providers\/microsoft\.network\/privateendpoints\/([^/]+)\/?$/i;
const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: string): boolean {
  return GUID_PATTERN.test(value);
}

export function vaultRef(subscriptionId: string, resourceGroup: string, name: string): VaultRef {
  const sub = subscriptionId.toLowerCase();
  const id = `/subscriptions/${sub}/resourceGroups/${resourceGroup}/providers/Microsoft.KeyVault/vaults/${name}`;
  return { id, key: id.toLowerCase(), subscriptionId: sub, resourceGroup, name };
}

/** The vault that a resource URI names or lives under, or undefined when it is not a Key Vault resource. */
export function vaultOf(resourceUri: string): VaultRef | undefined {
  const match = VAULT_PATTERN.exec(trimTrailingSlash(resourceUri));
  if (!match) return undefined;
  const [, sub, rg, name] = match;
  if (!sub || !rg || !name) return undefined;
  return vaultRef(sub, rg, name);
}

export function parseVaultId(resourceId: string): VaultRef {
  const vault = vaultOf(resourceId);
  if (!vault || vault.key !== trimTrailingSlash(resourceId).toLowerCase()) {
    throw new InvalidInputError(`'${resourceId}' is not a Key Vault resource ID (/subscriptions/…/resourceGroups/…/providers/Microsoft.KeyVault/vaults/NAME)`, 'vaultId');
  }
  return vault;
}

export function connectionRef(vault: VaultRef, name: string): ConnectionRef {
  const id = `${vault.id}/privateEndpointConnections/${name}`;
  return { vault, name, id, key: id.toLowerCase() };
}

export function parseConnectionId(resourceId: string): ConnectionRef {
  const trimmed = trimTrailingSlash(resourceId);
  const vault = vaultOf(trimmed);
  const rest = vault ? trimmed.slice(vault.id.length + 1) : '';
  const match = /^privateendpointconnections\/([^/]+)$/i.exec(rest);
  if (!vault || !match?.[1]) {
    throw new InvalidInputError(`'${resourceId}' is not a Key Vault private endpoint connection ID`, 'connectionId');
  }
  return connectionRef(vault, match[1]);
}

/** The requester's private endpoint; its subscription is path segment 2 of the ID. */
export function parsePrivateEndpointId(resourceId: string): PrivateEndpointRef {
  const match = PRIVATE_ENDPOINT_PATTERN.exec(resourceId.trim());
  const [, sub, rg, name] = match ?? [];
  if (!sub || !rg || !name) {
    throw new InvalidInputError(`'${resourceId}' is not a private endpoint resource ID`, 'privateEndpoint.id');
  }
  return {
    id: `/subscriptions/${sub.toLowerCase()}/resourceGroups/${rg}/providers/Microsoft.Network/privateEndpoints/${name}`,
    subscriptionId: sub.toLowerCase(),
    resourceGroup: rg,
    name,
  };
}

function trimTrailingSlash(value: string): string {
  return value.trim().replace(/\/+$/, '');
}
