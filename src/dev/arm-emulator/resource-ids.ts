import { createHash, randomUUID } from 'node:crypto';

/** Resource IDs keep the casing they were created with; lookups compare them case-insensitively, as ARM does. */
export function idKey(id: string): string {
  return id.toLowerCase();
}

export function vaultId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.KeyVault/vaults/${name}`;
}

export function resourceId(subscriptionId: string, resourceGroup: string, type: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/${type}/${name}`;
}

export function connectionId(vaultResourceId: string, name: string): string {
  return `${vaultResourceId}/privateEndpointConnections/${name}`;
}

export function connectionProxyId(vaultResourceId: string, name: string): string {
  return `${vaultResourceId}/privateEndpointConnectionProxies/${name}`;
}

export function privateEndpointId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/Microsoft.Network/privateEndpoints/${name}`;
}

/** Resource events often spell the segment `resourcegroups`; consumers must cope, so the emulator does it too. */
export function eventResourceUri(id: string): string {
  return id.replace(/\/resourceGroups\//i, '/resourcegroups/');
}

/** A GUID-shaped value that is the same for the same seed, so fake identities stay stable across runs. */
export function stableGuid(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex');
  const variant = ((parseInt(hex.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export function newEtag(): string {
  return `"${randomUUID()}"`;
}

/** ETags compare without quotes or a weak prefix, since clients echo them back in either form. */
export function etagMatches(current: string, candidate: string): boolean {
  const normalise = (tag: string): string => tag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  return candidate.trim() === '*' || normalise(current) === normalise(candidate);
}

const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: unknown): value is string {
  return typeof value === 'string' && GUID_PATTERN.test(value);
}
