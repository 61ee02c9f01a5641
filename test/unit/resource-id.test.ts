import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/domain/errors.js';
import { KEY_VAULT } from '../../src/domain/resource-types.js';
import { parseConnectionId, parsePrivateEndpointId, parseResourceId, resourceOf } from '../../src/domain/resource-id.js';

const SUBSCRIPTION = '3f2a9c4e-8b1d-4e6f-a5c7-2d9e0b4f7a13';
const REQUESTER_SUBSCRIPTION = '9d0c6b2e-4a7f-4e3b-b1c8-6f2a5d9e0c47';
const VAULT_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-secrets/providers/Microsoft.KeyVault/vaults/kv-payments`;
const VAULT_KEY = VAULT_ID.toLowerCase();

/** What `parse` throws; fails the test when it returns. */
function errorOf(parse: () => unknown): unknown {
  try {
    parse();
  } catch (error) {
    return error;
  }
  throw new Error('expected the input to be refused');
}

describe('resourceOf', () => {
  it('reads subscription, resource group and name from a vault ID', () => {
    // Prepare
    const id = VAULT_ID;

    // Act
    const vault = resourceOf(id);

    // Assess
    expect(vault).toEqual({ type: KEY_VAULT, id: VAULT_ID, key: VAULT_KEY, subscriptionId: SUBSCRIPTION, resourceGroup: 'rg-secrets', name: 'kv-payments' });
  });

  it.each([
    `${VAULT_ID}/privateEndpointConnections/pe-payments-api.9b2d4f6a`,
    `${VAULT_ID}/privateEndpointConnectionProxies/pe-payments-api.3c7a1e9f-proxy`,
    `${VAULT_ID}/privateEndpointConnectionProxies/pe-payments-api.3c7a1e9f-proxy/validate`,
    `${VAULT_ID}/`,
  ])('finds the vault that %s lives under', (resourceUri) => {
    // Act
    const vault = resourceOf(resourceUri);

    // Assess
    expect(vault?.key).toBe(VAULT_KEY);
    expect(vault?.name).toBe('kv-payments');
  });

  it.each([
    `/subscriptions/${SUBSCRIPTION}/resourcegroups/rg-secrets/providers/Microsoft.KeyVault/vaults/kv-payments`,
    `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-secrets/providers/microsoft.keyvault/vaults/kv-payments`,
    `/subscriptions/${SUBSCRIPTION.toUpperCase()}/RESOURCEGROUPS/rg-secrets/PROVIDERS/MICROSOFT.KEYVAULT/VAULTS/kv-payments`,
    `/subscriptions/${SUBSCRIPTION}/resourcegroups/rg-secrets/providers/Microsoft.Keyvault/vaults/kv-payments/privateendpointconnections/pe-1`,
  ])('gives %s the same key and canonical id as the camel-case spelling', (resourceUri) => {
    // Act
    const vault = resourceOf(resourceUri);

    // Assess
    expect(vault?.key).toBe(VAULT_KEY);
    expect(vault?.id).toBe(VAULT_ID);
  });

  it('gives vaults whose names differ only in case the same key', () => {
    // Prepare
    const upper = VAULT_ID.replace('kv-payments', 'KV-Payments');

    // Act
    const vault = resourceOf(upper);

    // Assess
    expect(vault?.key).toBe(VAULT_KEY);
    expect(vault?.name).toBe('KV-Payments');
  });

  it.each([
    `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-data/providers/Microsoft.Compute/disks/disk-payments`,
    `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-secrets/providers/Microsoft.KeyVault/managedHSMs/hsm-payments`,
    `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-secrets`,
    `/subscriptions/${SUBSCRIPTION}`,
    `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-secrets/providers/Microsoft.KeyVault/vaults`,
    `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-secrets/providers/Microsoft.KeyVault/vaults/`,
    `subscriptions/${SUBSCRIPTION}/resourceGroups/rg-secrets/providers/Microsoft.KeyVault/vaults/kv-payments`,
    `/tenant/x/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-secrets/providers/Microsoft.KeyVault/vaults/kv-payments`,
    '',
  ])('finds no vault in %s', (resourceUri) => {
    // Act
    const vault = resourceOf(resourceUri);

    // Assess
    expect(vault).toBeUndefined();
  });
});

describe('parseResourceId', () => {
  it('accepts a vault ID in lower case and returns the canonical spelling', () => {
    // Prepare
    const id = VAULT_KEY;

    // Act
    const vault = parseResourceId(id);

    // Assess
    expect(vault.id).toBe(VAULT_ID);
  });

  it('accepts a vault ID with a trailing slash', () => {
    // Act
    const vault = parseResourceId(`${VAULT_ID}/`);

    // Assess
    expect(vault.key).toBe(VAULT_KEY);
  });

  it.each([
    `${VAULT_ID}/privateEndpointConnections/pe-payments-api.9b2d4f6a`,
    `${VAULT_ID}/privateEndpointConnectionProxies/pe-payments-api.3c7a1e9f-proxy`,
    `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-data/providers/Microsoft.Compute/disks/disk-payments`,
    'kv-payments',
  ])('refuses %s with InvalidInputError on field resourceId', (id) => {
    // Act
    const error = errorOf(() => parseResourceId(id));

    // Assess
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).field).toBe('resourceId');
  });
});

describe('parseConnectionId', () => {
  it('reads the vault and the connection name', () => {
    // Prepare
    const id = `${VAULT_ID}/privateEndpointConnections/pe-payments-api.9b2d4f6a`;

    // Act
    const connection = parseConnectionId(id);

    // Assess
    expect(connection).toEqual({
      resource: expect.objectContaining({ key: VAULT_KEY, type: KEY_VAULT }),
      name: 'pe-payments-api.9b2d4f6a',
      id,
      key: id.toLowerCase(),
    });
  });

  it('gives a lower-case spelling of the connection ID the same key and the canonical id', () => {
    // Prepare
    const canonical = `${VAULT_ID}/privateEndpointConnections/pe-payments-api.9b2d4f6a`;
    const lower = canonical.toLowerCase();

    // Act
    const connection = parseConnectionId(lower);

    // Assess
    expect(connection.key).toBe(lower);
    expect(connection.id).toBe(canonical);
  });

  it.each([
    VAULT_ID,
    `${VAULT_ID}/privateEndpointConnectionProxies/pe-payments-api.3c7a1e9f-proxy`,
    `${VAULT_ID}/privateEndpointConnections/`,
    `${VAULT_ID}/privateEndpointConnections/pe-1/extra`,
    `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-data/providers/Microsoft.RecoveryServices/vaults/rsv1/privateEndpointConnections/pe-1`,
  ])('refuses %s with InvalidInputError on field connectionId', (id) => {
    // Act
    const error = errorOf(() => parseConnectionId(id));

    // Assess
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).field).toBe('connectionId');
  });
});

describe('parsePrivateEndpointId', () => {
  it('takes the requester subscription from path segment 2, in lower case', () => {
    // Prepare
    const id = `/subscriptions/${REQUESTER_SUBSCRIPTION.toUpperCase()}/resourceGroups/rg-payments-api/providers/Microsoft.Network/privateEndpoints/pe-payments-api`;

    // Act
    const endpoint = parsePrivateEndpointId(id);

    // Assess
    expect(endpoint).toEqual({
      id: `/subscriptions/${REQUESTER_SUBSCRIPTION}/resourceGroups/rg-payments-api/providers/Microsoft.Network/privateEndpoints/pe-payments-api`,
      subscriptionId: REQUESTER_SUBSCRIPTION,
      resourceGroup: 'rg-payments-api',
      name: 'pe-payments-api',
    });
  });

  it('accepts lower-case segments and a trailing slash', () => {
    // Prepare
    const id = `/subscriptions/${REQUESTER_SUBSCRIPTION}/resourcegroups/rg-payments-api/providers/microsoft.network/privateendpoints/pe-payments-api/`;

    // Act
    const endpoint = parsePrivateEndpointId(id);

    // Assess
    expect(endpoint.name).toBe('pe-payments-api');
    expect(endpoint.subscriptionId).toBe(REQUESTER_SUBSCRIPTION);
  });

  it.each([
    '',
    'pe-payments-api',
    `/subscriptions/${REQUESTER_SUBSCRIPTION}/resourceGroups/rg-payments-api`,
    `/subscriptions/${REQUESTER_SUBSCRIPTION}/resourceGroups/rg-payments-api/providers/Microsoft.Network/privateEndpoints/`,
    `/subscriptions/${REQUESTER_SUBSCRIPTION}/resourceGroups/rg-payments-api/providers/Microsoft.Network/networkInterfaces/pe-payments-api.nic`,
    `/subscriptions/${REQUESTER_SUBSCRIPTION}/resourceGroups/rg-payments-api/providers/Microsoft.Network/privateEndpoints/pe-payments-api/extra`,
  ])('refuses %j with InvalidInputError on field privateEndpoint.id', (id) => {
    // Act
    const error = errorOf(() => parsePrivateEndpointId(id));

    // Assess
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).field).toBe('privateEndpoint.id');
  });
});

describe('strict boundaries: only IDs ARM could have issued', () => {
  const under = (rest: string) => `/subscriptions/${SUBSCRIPTION}/resourceGroups/${rest}`;

  it.each([
    ['a subscription that is not a GUID', '/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-payments'],
    ['a GUID subscription with a fragment', `/subscriptions/${SUBSCRIPTION}#/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-payments`],
    ['a resource group ending in a period', under('rg-secrets./providers/Microsoft.KeyVault/vaults/kv-payments')],
    ['a resource group of 91 characters', under(`${'r'.repeat(91)}/providers/Microsoft.KeyVault/vaults/kv-payments`)],
    ['a resource group with a space', under('rg secrets/providers/Microsoft.KeyVault/vaults/kv-payments')],
    ['a vault name with consecutive hyphens', under('rg/providers/Microsoft.KeyVault/vaults/kv--payments')],
    ['a vault name starting with a digit', under('rg/providers/Microsoft.KeyVault/vaults/1kv-payments')],
    ['a vault name of 25 characters', under(`rg/providers/Microsoft.KeyVault/vaults/kv${'a'.repeat(23)}`)],
    ['a storage account name with a hyphen', under('rg/providers/Microsoft.Storage/storageAccounts/st-data')],
    ['a Private Link service name with a colon', under('rg/providers/Microsoft.Network/privateLinkServices/pls:1')],
    ['a `..` below the resource', `${VAULT_ID}/privateEndpointConnections/../../../vaults/kv-other`],
    ['a `.` below the resource', `${VAULT_ID}/./privateEndpointConnections/pe-1`],
    ['an empty segment below the resource', `${VAULT_ID}//privateEndpointConnections/pe-1`],
    ['an encoded `..` below the resource', `${VAULT_ID}/privateEndpointConnections/%2e%2e`],
    ['a control character in a connection name', `${VAULT_ID}/privateEndpointConnections/pe\u0000-1`],
    ['a query in a connection name', `${VAULT_ID}/privateEndpointConnections/pe-1?api-version=x`],
  ])('refuses %s', (_label, uri) => {
    // Act & Assess
    expect(resourceOf(uri)).toBeUndefined();
  });

  it.each([
    ['Unicode letters, parentheses, underscores and inner periods in a resource group', under('rg_(Zürich).prod/providers/Microsoft.KeyVault/vaults/kv-payments')],
    ['a resource group of 90 characters', under(`${'r'.repeat(90)}/providers/Microsoft.KeyVault/vaults/kv-payments`)],
    ['a vault name of 24 characters, any casing', under(`rg/providers/Microsoft.KeyVault/vaults/KV${'a'.repeat(22)}`)],
    ['a storage account name in upper case (ARM names are case-insensitive)', under('rg/providers/Microsoft.Storage/storageAccounts/STDATA')],
    ['a web app name in Unicode letters', under('rg/providers/Microsoft.Web/sites/café-app')],
  ])('accepts %s', (_label, uri) => {
    // Act & Assess
    expect(resourceOf(uri)).toBeDefined();
  });

  it('says which naming rule a resource ID broke', () => {
    expect(errorOf(() => parseResourceId(under('rg/providers/Microsoft.Storage/storageAccounts/st-data')))).toMatchObject({
      message: expect.stringMatching(/storage account name must be 3-24 lower-case letters and digits/),
    });
    expect(errorOf(() => parseResourceId('/subscriptions/abc/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-a'))).toMatchObject({
      message: expect.stringMatching(/subscription must be a GUID/),
    });
  });

  it('quotes refused input bounded and with control characters visible', () => {
    // Act
    const error = errorOf(() => parseResourceId(`/x\u0007${'y'.repeat(10_000)}`)) as InvalidInputError;

    // Assess
    expect(error.message.length).toBeLessThan(1_000);
    expect(error.message).toContain('\\u0007');
  });

  it.each([
    ['a subscription with a fragment', `/subscriptions/00000000-0000-0000-0000-000000000002#/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe-app`],
    ['a subscription that is not a GUID', '/subscriptions/sub-2/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe-app'],
    ['a resource group ending in a period', `/subscriptions/${REQUESTER_SUBSCRIPTION}/resourceGroups/rg./providers/Microsoft.Network/privateEndpoints/pe-app`],
    ['a `..` endpoint name', `/subscriptions/${REQUESTER_SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/..`],
    ['a control character in the endpoint name', `/subscriptions/${REQUESTER_SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe\u001b`],
  ])('refuses a private endpoint ID with %s', (_label, id) => {
    // Act
    const error = errorOf(() => parsePrivateEndpointId(id));

    // Assess
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toMatchObject({ field: 'privateEndpoint.id' });
  });
});
