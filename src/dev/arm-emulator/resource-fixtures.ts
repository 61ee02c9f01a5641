import type { ConnectionStatus } from './types.js';

/**
 * How the emulator plays each Private Link resource type: its accepted API versions, its name
 * rule, what the approve or reject PUT answers and which provisioning states a change passes
 * through. Each entry follows the provider's REST specification (the same files the registry in
 * src/domain/definitions/resource-types.json cites); the emulator keeps its own copy so that a
 * registry entry that disagrees with the provider is caught by the integration tests rather than
 * agreed with. Adding a type: one entry here, one in the registry.
 */
export interface ResourceFixture {
  /** Canonical ARM type. */
  readonly type: string;
  /** Short name the control surface and `linkgate simulate request --type` accept. */
  readonly key: string;
  /** Newest first. */
  readonly apiVersions: readonly string[];
  readonly namePattern: RegExp;
  readonly nameRule: string;
  /**
   * What the PUT answers:
   * - `ok-async-header`: 200 with the connection and an Azure-AsyncOperation header (Key Vault);
   * - `ok`: 200 with the connection, already applied (Storage, Private Link service);
   * - `accepted-location`: 202 with a Location header and no body (SQL, Cosmos DB, PostgreSQL);
   * - `accepted-body-location`: 202 with the connection and a Location header (App Service);
   * - `created-async-header`: 201 with the connection and an Azure-AsyncOperation header (Container Registry).
   */
  readonly put: 'ok-async-header' | 'ok' | 'accepted-location' | 'accepted-body-location' | 'created-async-header';
  /** provisioningState while a change is applied, and once it is. */
  readonly applying: (status: ConnectionStatus) => string;
  readonly applied: string;
  /** Whether connections carry an etag (only Key Vault and Network do). */
  readonly etag: boolean;
  /** Whether a request raises privateEndpointConnectionProxies/validate/action before the proxy write. */
  readonly proxyValidate: boolean;
  /**
   * Whether Resource Graph reports the resource's `properties.privateEndpointConnections`. Resource Graph
   * indexes each type at an API version of its own choosing; where that version predates the connections
   * property, the resource is listed but a query over its connections finds none.
   */
  readonly graphReportsConnections: boolean;
  /** The resource's own properties beside privateEndpointConnections. */
  readonly properties: (resource: { name: string; location: string; tenantId: string }) => Record<string, unknown>;
}

const GENERIC_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/i;

export const RESOURCE_FIXTURES: readonly ResourceFixture[] = [
  {
    type: 'Microsoft.KeyVault/vaults',
    key: 'keyvault',
    apiVersions: ['2026-02-01', '2025-05-01', '2024-11-01', '2023-07-01', '2022-07-01'],
    namePattern: /^[a-zA-Z](?!.*--)[a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/,
    nameRule: "A vault's name must be between 3-24 alphanumeric characters, begin with a letter, end with a letter or digit, and not contain consecutive hyphens.",
    put: 'ok-async-header',
    applying: () => 'Updating',
    applied: 'Succeeded',
    etag: true,
    proxyValidate: true,
    graphReportsConnections: true,
    properties: () => ({}),
  },
  {
    type: 'Microsoft.Storage/storageAccounts',
    key: 'storage',
    apiVersions: ['2025-08-01', '2025-06-01', '2025-01-01', '2024-01-01', '2023-05-01'],
    namePattern: /^[a-z0-9]{3,24}$/,
    nameRule: 'Storage account names must be between 3 and 24 characters in length and use numbers and lower-case letters only.',
    put: 'ok',
    applying: () => 'Succeeded',
    applied: 'Succeeded',
    etag: false,
    proxyValidate: false,
    graphReportsConnections: true,
    properties: ({ name, location }) => ({
      primaryEndpoints: { blob: `https://${name}.blob.core.windows.net/` },
      primaryLocation: location,
      publicNetworkAccess: 'Disabled',
      provisioningState: 'Succeeded',
    }),
  },
  {
    type: 'Microsoft.Sql/servers',
    key: 'sql',
    apiVersions: ['2025-01-01', '2023-08-01', '2021-11-01'],
    namePattern: /^[a-z0-9][a-z0-9-]{0,61}[a-z0-9]$/,
    nameRule: 'Server names must be 1 to 63 lower-case letters, digits or hyphens, and may not begin or end with a hyphen.',
    put: 'accepted-location',
    applying: (status) => (status === 'Approved' ? 'Approving' : status === 'Rejected' ? 'Rejecting' : 'Approving'),
    applied: 'Ready',
    etag: false,
    proxyValidate: true,
    graphReportsConnections: true,
    properties: ({ name }) => ({ fullyQualifiedDomainName: `${name}.database.windows.net`, state: 'Ready', publicNetworkAccess: 'Disabled' }),
  },
  {
    type: 'Microsoft.DocumentDB/databaseAccounts',
    key: 'cosmosdb',
    apiVersions: ['2026-03-15', '2025-10-15', '2025-04-15'],
    namePattern: /^[a-z0-9][a-z0-9-]{1,42}$/,
    nameRule: 'Account names must be 3 to 44 lower-case letters, digits or hyphens, starting with a letter or digit.',
    put: 'accepted-location',
    applying: () => 'Updating',
    applied: 'Succeeded',
    etag: false,
    proxyValidate: true,
    graphReportsConnections: true,
    properties: ({ name }) => ({ documentEndpoint: `https://${name}.documents.azure.com:443/`, provisioningState: 'Succeeded' }),
  },
  {
    type: 'Microsoft.Web/sites',
    key: 'webapp',
    apiVersions: ['2025-05-01', '2024-11-01', '2024-04-01'],
    namePattern: /^[a-z0-9][a-z0-9-]{0,58}[a-z0-9]$/i,
    nameRule: 'Site names must be 2 to 60 letters, digits or hyphens, and may not begin or end with a hyphen.',
    put: 'accepted-body-location',
    applying: () => 'Updating',
    applied: 'Succeeded',
    etag: false,
    proxyValidate: true,
    graphReportsConnections: true,
    properties: ({ name }) => ({ defaultHostName: `${name}.azurewebsites.net`, state: 'Running' }),
  },
  {
    type: 'Microsoft.ContainerRegistry/registries',
    key: 'acr',
    apiVersions: ['2025-11-01', '2025-04-01', '2023-07-01'],
    namePattern: /^[a-zA-Z0-9]{5,50}$/,
    nameRule: 'Registry names must be 5 to 50 alphanumeric characters.',
    put: 'created-async-header',
    applying: () => 'Updating',
    applied: 'Succeeded',
    etag: false,
    proxyValidate: true,
    graphReportsConnections: true,
    properties: ({ name }) => ({ loginServer: `${name.toLowerCase()}.azurecr.io`, provisioningState: 'Succeeded' }),
  },
  {
    type: 'Microsoft.DBforPostgreSQL/flexibleServers',
    key: 'postgresql',
    apiVersions: ['2025-08-01', '2024-08-01'],
    namePattern: /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/,
    nameRule: 'Server names must be 3 to 63 lower-case letters, digits or hyphens, and may not begin or end with a hyphen.',
    put: 'accepted-location',
    applying: () => 'Updating',
    applied: 'Succeeded',
    etag: false,
    proxyValidate: true,
    graphReportsConnections: false,
    properties: ({ name }) => ({ fullyQualifiedDomainName: `${name}.postgres.database.azure.com`, state: 'Ready' }),
  },
  {
    type: 'Microsoft.Network/privateLinkServices',
    key: 'privatelinkservice',
    apiVersions: ['2025-07-01', '2025-05-01', '2024-07-01'],
    namePattern: GENERIC_NAME,
    nameRule: 'Names must be 3 to 63 letters, digits or hyphens, starting and ending with a letter or digit.',
    put: 'ok',
    applying: () => 'Succeeded',
    applied: 'Succeeded',
    etag: true,
    proxyValidate: false,
    graphReportsConnections: true,
    properties: ({ name }) => ({ alias: `${name}.00000000-0000-0000-0000-000000000000.westeurope.azure.privatelinkservice`, provisioningState: 'Succeeded' }),
  },
];

export const KEY_VAULT_TYPE = 'Microsoft.KeyVault/vaults';

/** By key (`storage`) or ARM type, any casing. */
export function fixtureFor(name: string): ResourceFixture | undefined {
  const wanted = name.trim().toLowerCase();
  return RESOURCE_FIXTURES.find((f) => f.key === wanted || f.type.toLowerCase() === wanted);
}

export function requireFixture(type: string): ResourceFixture {
  const fixture = fixtureFor(type);
  if (!fixture) throw new Error(`The emulator has no fixture for ${type}`);
  return fixture;
}
