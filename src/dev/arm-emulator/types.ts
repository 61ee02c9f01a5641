/**
 * Public shapes of the ARM emulator: its options, its control surface and the JSON it puts on the wire.
 * Wire shapes follow the Microsoft.KeyVault REST spec (api-version 2026-02-01) so code tested against the
 * emulator reads the same fields it will read from Azure.
 */

export type ConnectionStatus = 'Pending' | 'Approved' | 'Rejected' | 'Disconnected';
export const CONNECTION_STATUSES: readonly ConnectionStatus[] = ['Pending', 'Approved', 'Rejected', 'Disconnected'];

export type EventSchema = 'EventGridSchema' | 'CloudEventSchemaV1_0';
export const EVENT_SCHEMAS: readonly EventSchema[] = ['EventGridSchema', 'CloudEventSchemaV1_0'];

/** `forbidden`: GET /subscriptions/{id} answers 403 AuthorizationFailed; `missing`: 404 SubscriptionNotFound. */
export interface EmulatorSubscription {
  subscriptionId: string;
  tenantId: string;
  displayName: string;
  visibility: 'visible' | 'forbidden' | 'missing';
}

export interface ArmEmulatorOptions {
  /** Default 0 (a free port). The host is always 127.0.0.1. */
  port?: number;
  subscriptions?: EmulatorSubscription[];
  /** How long a connection PUT stays `Updating` before it becomes `Succeeded` (default 300). */
  provisioningDelayMs?: number;
  /** Items per list page; further pages are reached through `nextLink` (default 10). */
  pageSize?: number;
  /** Schema used by `subscribe` when none is given (default EventGridSchema). */
  eventSchema?: EventSchema;
  now?: () => Date;
  /**
   * How far Resource Graph lags ARM (default 0: it answers from the live store). With a lag it answers from
   * a copy of the store, taken at start and renewed by the first query after the copy is older than the lag
   * (or by `refreshResourceGraph()`).
   */
  resourceGraphLagMs?: number;
  /** Resource Graph queries each caller may send per window (default 15 per 5 seconds). */
  resourceGraphQuota?: { queries: number; windowMs: number };
  /**
   * ARM's token buckets per principal and subscription (Azure: reads 250 refilled at 25/s, writes 200 at
   * 10/s). A kind left out is not throttled, only counted down in its remaining-requests header.
   */
  armThrottling?: {
    reads?: { capacity: number; refillPerSecond: number };
    writes?: { capacity: number; refillPerSecond: number };
  };
}

/** A connection made before anyone watched: added in its final state, with no events. */
export interface SeedConnectionInput {
  /** The resource (any served type) the connection is on, as created with createVault or createResource. */
  resourceId: string;
  status: ConnectionStatus;
  /** The requester's subscription, where the private endpoint lives. */
  fromSubscription: string;
  /** Default: `pe-` and a counter, unique within the emulator. */
  endpointName?: string;
  description?: string;
}

/** 429s given, and requests that came back before the Retry-After they were given had passed. */
export interface ThrottleStats {
  throttled: number;
  unhonoured: number;
  graphThrottled: number;
  graphUnhonoured: number;
}

/** Key Vault's states; other providers use their own (SQL: Approving, Rejecting, Dropping, Ready). */
export type ConnectionProvisioningState = 'Updating' | 'Succeeded' | 'Deleting' | string;

export interface PrivateLinkServiceConnectionState {
  status: ConnectionStatus;
  description: string;
  actionsRequired: 'None';
}

/** A private endpoint connection as `privateEndpointConnections` GET returns it. */
export interface ConnectionResource {
  id: string;
  name: string;
  /** `{resource type}/privateEndpointConnections`. */
  type: string;
  /** Only Key Vault and Network connections carry one. */
  etag?: string;
  location: string;
  properties: {
    privateEndpoint: { id: string };
    privateLinkServiceConnectionState: PrivateLinkServiceConnectionState;
    provisioningState: ConnectionProvisioningState;
  };
}

/** The trimmed connection copy a vault carries in `properties.privateEndpointConnections`. */
export interface VaultConnectionItem {
  id: string;
  etag: string;
  properties: ConnectionResource['properties'];
}

export interface VaultResource {
  id: string;
  name: string;
  type: 'Microsoft.KeyVault/vaults';
  location: string;
  tags: Record<string, string>;
  properties: {
    tenantId: string;
    sku: { family: 'A'; name: 'standard' | 'premium' };
    accessPolicies: unknown[];
    vaultUri: string;
    enabledForDeployment: boolean;
    enabledForDiskEncryption: boolean;
    enabledForTemplateDeployment: boolean;
    enableSoftDelete: boolean;
    softDeleteRetentionInDays: number;
    enableRbacAuthorization: boolean;
    publicNetworkAccess: 'Enabled' | 'Disabled';
    provisioningState: 'Succeeded';
    /** Absent when the vault has no connections, as Azure leaves it out then. */
    privateEndpointConnections?: VaultConnectionItem[];
  };
}

export interface CreateVaultInput {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location?: string;
  tenantId?: string;
}

/** A Private Link resource of any type the emulator serves (see resource-fixtures.ts). */
export interface CreateResourceInput {
  /** Fixture key (`storage`) or ARM type. */
  type: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location?: string;
  tenantId?: string;
}

export interface SimulateRequestInput {
  /** Narrow the resource lookup; vault names are globally unique, so these only guard against a wrong guess. */
  subscriptionId?: string;
  resourceGroup?: string;
  /** A vault by name; or `type` and `resource` for any served type. */
  vault?: string;
  type?: string;
  resource?: string;
  fromSubscription: string;
  endpointName?: string;
  endpointResourceGroup?: string;
  /** The request message; Key Vault surfaces it as the connection state description (at most 140 chars). */
  message?: string;
  requesterObjectId?: string;
  requesterTenantId?: string;
  /**
   * Raise no events, as when they are lost or never reach the resource's subscription (a request
   * from another subscription): only the sweep finds the connection, and nobody names the requester.
   */
  eventsLost?: boolean;
}

export interface FaultSpec {
  method?: string;
  /** Case-insensitive substring of the request path. */
  pathIncludes?: string;
  status: number;
  retryAfterSeconds?: number;
  /** How many matching requests get this answer (default 1). */
  times?: number;
  /** Answer without any body (e.g. 204 on a GET). */
  emptyBody?: boolean;
  /** JSON body to answer with; without it errors get an ARM error body. */
  body?: unknown;
}

export interface CallRecord {
  method: string;
  /** Path without the query string, as the client sent it. */
  path: string;
  /** Query string including the leading `?`, or ''. */
  query: string;
  status: number;
  at: Date;
  ifMatch?: string;
  body?: unknown;
}

export interface DeliveryRecord {
  url: string;
  status: number;
  eventTypes: string[];
  at: Date;
  error?: string;
}

export interface ArmEmulator {
  /** https://127.0.0.1:PORT */
  readonly url: string;
  /** The self-signed certificate to trust (`tlsOptions.ca`). */
  readonly caPem: string;
  close(): Promise<void>;
  addSubscription(s: EmulatorSubscription): void;
  createVault(input: CreateVaultInput): VaultResource;
  /** A resource of any served type, as its provider's GET answers it. */
  createResource(input: CreateResourceInput): Record<string, unknown>;
  /** Creates a Pending connection as a requester without approval rights would, and publishes its events. */
  simulateRequest(input: SimulateRequestInput): Promise<ConnectionResource>;
  /** What someone using the portal would do; publishes a write event. */
  setConnectionStatus(
    connectionId: string,
    status: ConnectionStatus,
    description?: string,
    actorObjectId?: string,
  ): Promise<ConnectionResource>;
  /** Removes the connection and publishes a delete event. */
  deleteConnection(connectionId: string): Promise<void>;
  /** Case-insensitive lookup by resource ID. */
  getConnection(connectionId: string): ConnectionResource | undefined;
  /** Connections of one resource (any type), or all. */
  listConnections(resourceId?: string): ConnectionResource[];
  /** Performs the Event Grid validation handshake, then delivers events to the webhook. */
  subscribe(webhookUrl: string, opts?: { schema?: EventSchema }): Promise<void>;
  /** The next matching ARM requests get this answer instead of normal handling. */
  injectFault(f: FaultSpec): void;
  /**
   * Adds a connection in the given status with its provisioning complete and publishes no event, in
   * constant time, for seeding many connections at once.
   */
  seedConnection(input: SeedConnectionInput): ConnectionResource;
  /** Lets Resource Graph catch up with ARM now, whatever its lag. */
  refreshResourceGraph(): void;
  /** ARM's bucket throttling and Resource Graph's quota, counted since start. */
  throttleStats(): ThrottleStats;
  /** Every ARM and Resource Graph request served (the `/_emulator/` control surface is not recorded). */
  readonly calls: ReadonlyArray<CallRecord>;
  /** Every webhook delivery attempt, handshakes included. */
  readonly deliveries: ReadonlyArray<DeliveryRecord>;
}
