/**
 * An HTTPS Azure Resource Manager emulator for the Private Link resource types in resource-fixtures.ts
 * (Key Vault, Storage, SQL, Cosmos DB, App Service, Container Registry, PostgreSQL, Private Link
 * services) and their private endpoint connections, with
 * Event Grid style delivery of the resource events ARM publishes. Real SDK clients talk to it unchanged
 * (endpoint + `tlsOptions.ca`), so Linkgate's ARM code can be exercised without Azure.
 */
export { startArmEmulator, DEFAULT_TENANT_ID } from './emulator.js';
export { KEY_VAULT_API_VERSIONS, SUBSCRIPTION_API_VERSIONS } from './arm-handlers.js';
export type {
  ArmEmulator,
  ArmEmulatorOptions,
  CallRecord,
  ConnectionProvisioningState,
  ConnectionResource,
  ConnectionStatus,
  CreateResourceInput,
  CreateVaultInput,
  DeliveryRecord,
  EmulatorSubscription,
  EventSchema,
  FaultSpec,
  PrivateLinkServiceConnectionState,
  SeedConnectionInput,
  SimulateRequestInput,
  ThrottleStats,
  VaultConnectionItem,
  VaultResource,
} from './types.js';
export { RESOURCE_FIXTURES, fixtureFor, type ResourceFixture } from './resource-fixtures.js';
