import { idKey, type ConnectionRef, type PrivateEndpointRef } from './resource-id.js';
import type { ResourceType } from './resource-types.js';

/** The four states of a private link service connection (the status Azure reports). */
export const CONNECTION_STATUSES = ['Pending', 'Approved', 'Rejected', 'Disconnected'] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];

/** ARM provisioning states that mean "not done yet" for every type; a type's registry entry adds its own (SQL: Approving, Rejecting, Dropping). */
const TRANSIENT_PROVISIONING_STATES = new Set(['creating', 'updating', 'deleting', 'accepted', 'running', 'inprogress']);

export function isProvisioningFinal(state: string | undefined, type?: ResourceType): boolean {
  // An absent provisioningState is treated as final: there is nothing further to wait for.
  if (state === undefined) return true;
  const value = state.toLowerCase();
  return !TRANSIENT_PROVISIONING_STATES.has(value) && !(type?.transientProvisioningStates ?? []).some((s) => s.toLowerCase() === value);
}

/** Azure answers the status in the casing it likes; compare case-insensitively. */
export function toConnectionStatus(value: string | undefined): ConnectionStatus | undefined {
  if (value === undefined) return undefined;
  return CONNECTION_STATUSES.find((s) => s.toLowerCase() === value.toLowerCase());
}

/** A connection as read from ARM, already translated at the boundary. */
export interface PrivateEndpointConnection {
  readonly ref: ConnectionRef;
  /** Raw status string as Azure reported it; `status` is the understood value. */
  readonly rawStatus: string | undefined;
  readonly status: ConnectionStatus | undefined;
  readonly description: string | undefined;
  readonly provisioningState: string | undefined;
  readonly etag: string | undefined;
  /** Undefined when the connection carries no (parseable) private endpoint ID. */
  readonly privateEndpoint: PrivateEndpointRef | undefined;
  readonly rawPrivateEndpointId: string | undefined;
}

/** What the requester typed. Key Vault surfaces the requestMessage as the state's description while Pending. */
export function requestMessageOf(connection: PrivateEndpointConnection): string | undefined {
  return connection.status === 'Pending' ? connection.description : undefined;
}

/** The connection status an approve or a reject sets. */
export function statusFor(action: 'approve' | 'reject'): 'Approved' | 'Rejected' {
  return action === 'approve' ? 'Approved' : 'Rejected';
}

/** The comparison key of the endpoint a connection belongs to, when Azure reported one. */
export function endpointKeyOf(connection: PrivateEndpointConnection): string | undefined {
  return idKey(connection.privateEndpoint?.id ?? connection.rawPrivateEndpointId);
}
