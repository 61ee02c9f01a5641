import { describe, expect, it } from 'vitest';
import registry from '../../src/domain/definitions/resource-types.json';
import { acceptedOperations } from '../../src/adapters/eventgrid/resource-event.js';
import { isProvisioningFinal } from '../../src/domain/connection.js';
import { ConfigError, InvalidInputError } from '../../src/domain/errors.js';
import { connectionRef, parseConnectionId, parseResourceId, resourceOf, resourceRef } from '../../src/domain/resource-id.js';
import { describeResource, findResourceType, KEY_VAULT, parseResourceTypeList, RESOURCE_TYPES } from '../../src/domain/resource-types.js';

const SUBSCRIPTION = '3f2a9c4e-8b1d-4e6f-a5c7-2d9e0b4f7a13';

/** Every casing a real payload may use for the same ID: as registered, lower, upper, and `resourcegroups`. */
function spellings(id: string): string[] {
  return [id, id.toLowerCase(), id.toUpperCase().replace(SUBSCRIPTION.toUpperCase(), SUBSCRIPTION.toUpperCase()), id.replace('/resourceGroups/', '/resourcegroups/')];
}

describe('the resource type registry', () => {
  it('holds the eight types Linkgate started with, each once', () => {
    // Act
    const types = RESOURCE_TYPES.map((t) => t.type);

    // Assess
    expect(types).toEqual(expect.arrayContaining([
      'Microsoft.KeyVault/vaults',
      'Microsoft.Storage/storageAccounts',
      'Microsoft.Sql/servers',
      'Microsoft.DocumentDB/databaseAccounts',
      'Microsoft.Web/sites',
      'Microsoft.ContainerRegistry/registries',
      'Microsoft.DBforPostgreSQL/flexibleServers',
      'Microsoft.Network/privateLinkServices',
    ]));
    expect(new Set(RESOURCE_TYPES.map((t) => t.key)).size).toBe(RESOURCE_TYPES.length);
    expect(new Set(RESOURCE_TYPES.map((t) => t.type.toLowerCase())).size).toBe(RESOURCE_TYPES.length);
  });

  it.each(RESOURCE_TYPES.map((t) => [t.key, t] as const))('%s has a stable API version, its specification and permissions of its own provider', (_key, type) => {
    // Assess
    expect(type.apiVersion).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(type.source).toMatch(new RegExp(`^specification/.+/stable/${type.apiVersion}/.+\\.json$`));
    expect(type.permissions.read.length).toBeGreaterThan(0);
    expect(type.permissions.approve.length).toBeGreaterThan(0);
    for (const action of [...type.permissions.read, ...type.permissions.approve, ...type.events]) {
      expect(action.toLowerCase().startsWith(`${type.type.toLowerCase()}/`)).toBe(true);
    }
    expect(type.permissions.approve.some((a) => /\/privateEndpointConnections\/write$/i.test(a))).toBe(true);
    expect(type.events.some((e) => /\/privateEndpointConnections\/write$/i.test(e))).toBe(true);
  });

  it('finds a type by key or by ARM type in any casing', () => {
    // Act & Assess
    expect(findResourceType('storage')?.type).toBe('Microsoft.Storage/storageAccounts');
    expect(findResourceType('microsoft.storage/STORAGEACCOUNTS')?.key).toBe('storage');
    expect(findResourceType('Microsoft.Compute/disks')).toBeUndefined();
  });

  it('says what a resource is in a sentence', () => {
    // Act & Assess
    expect(describeResource(findResourceType('storage')!, 'stcontosodata')).toBe('storage account stcontosodata');
  });

  it('reads the watched types from a setting, all of them by default, refusing unknown names', () => {
    // Act
    const all = parseResourceTypeList(undefined, 'LINKGATE_RESOURCE_TYPES');
    const some = parseResourceTypeList(' keyvault, Microsoft.Sql/servers ,keyvault', 'LINKGATE_RESOURCE_TYPES');

    // Assess
    expect(all).toBe(RESOURCE_TYPES);
    expect(parseResourceTypeList('all', 'X')).toBe(RESOURCE_TYPES);
    expect(some.map((t) => t.key)).toEqual(['keyvault', 'sql']);
    expect(() => parseResourceTypeList('keyvault,disks', 'LINKGATE_RESOURCE_TYPES')).toThrow(ConfigError);
    expect(() => parseResourceTypeList('disks', 'LINKGATE_RESOURCE_TYPES')).toThrow(/'disks' is not a registered resource type \(known: keyvault, storage/);
  });

  it('keeps every event operation to one type, so an event names its type', () => {
    // Act
    const operations = acceptedOperations();

    // Assess
    expect(operations.size).toBe(RESOURCE_TYPES.reduce((n, t) => n + t.events.length, 0));
  });

  it('treats the type-specific provisioning states as still in progress (SQL: Approving, Rejecting, Dropping; Ready is done)', () => {
    // Prepare
    const sql = findResourceType('sql')!;

    // Act & Assess
    expect(['Approving', 'rejecting', 'DROPPING', 'Updating'].map((s) => isProvisioningFinal(s, sql))).toEqual([false, false, false, false]);
    expect(['Ready', 'Failed', 'Succeeded'].map((s) => isProvisioningFinal(s, sql))).toEqual([true, true, true]);
    expect(isProvisioningFinal('Approving', KEY_VAULT)).toBe(true);
  });

  it('has only fields the code reads, so a typo in a new entry fails here', () => {
    // Prepare
    const known = ['key', 'type', 'displayName', 'noun', 'apiVersion', 'source', 'connections', 'transientProvisioningStates', 'permissions', 'events', 'quirks', 'portalBlade'];

    // Assess
    for (const entry of registry.types) expect(Object.keys(entry).sort()).toEqual([...known].sort());
  });
});

describe.each(RESOURCE_TYPES.map((t) => [t.key, t] as const))('the boundary parser for %s', (_key, type) => {
  // A name every registered type's naming rule allows (resource-names.json).
  const id = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-Data/providers/${type.type}/res01`;

  it.each(spellings(id))('gives %s the canonical ID and one key', (spelling) => {
    // Act
    const resource = resourceOf(spelling);

    // Assess
    expect(resource?.type).toBe(type);
    // Names keep the caller's casing (ARM compares them case-insensitively); the rest is canonical.
    expect(resource?.id.startsWith(`/subscriptions/${SUBSCRIPTION}/resourceGroups/`)).toBe(true);
    expect(resource?.id).toContain(`/providers/${type.type}/`);
    expect(resource?.id.toLowerCase()).toBe(id.toLowerCase());
    expect(resource?.key).toBe(id.toLowerCase());
    expect(resource?.subscriptionId).toBe(SUBSCRIPTION);
  });

  it('reads the resource under a connection, a proxy and a validate action', () => {
    // Act
    const found = [
      `${id}/privateEndpointConnections/pe-1.abc`,
      `${id.toLowerCase()}/privateendpointconnectionproxies/pe-1.abc-proxy/validate`,
    ].map((uri) => resourceOf(uri)?.key);

    // Assess
    expect(found).toEqual([id.toLowerCase(), id.toLowerCase()]);
  });

  it('parses a connection ID into the canonical connection', () => {
    // Act
    const connection = parseConnectionId(`${id.toUpperCase().replace(SUBSCRIPTION.toUpperCase(), SUBSCRIPTION)}/PRIVATEENDPOINTCONNECTIONS/pe-1.abc`);

    // Assess
    expect(connection.resource.type).toBe(type);
    expect(connection.id).toBe(`${resourceRef(type, SUBSCRIPTION, 'RG-DATA', 'RES01').id}/privateEndpointConnections/pe-1.abc`);
    expect(connection.key).toBe(`${id}/privateEndpointConnections/pe-1.abc`.toLowerCase());
    expect(connectionRef(connection.resource, 'pe-1.abc').key).toBe(connection.key);
  });

  it('refuses the resource ID with something below it, and `.` or `..` as a name', () => {
    // Act & Assess
    expect(() => parseResourceId(`${id}/privateEndpointConnections/pe-1`)).toThrow(InvalidInputError);
    expect(resourceOf(`/subscriptions/${SUBSCRIPTION}/resourceGroups/rg/providers/${type.type}/..`)).toBeUndefined();
    expect(resourceOf(`/subscriptions/${SUBSCRIPTION}/resourceGroups/./providers/${type.type}/res01`)).toBeUndefined();
    expect(() => parseConnectionId(`${id}/privateEndpointConnections/..`)).toThrow(InvalidInputError);
  });
});

describe('the boundary parser for unregistered types', () => {
  it.each([
    `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Compute/disks/d1`,
    `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts`,
    `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Web/serverFarms/plan1`,
    `/subscriptions/${SUBSCRIPTION}/providers/Microsoft.KeyVault/vaults/kv1`,
  ])('finds no registered resource in %s', (uri) => {
    // Act & Assess
    expect(resourceOf(uri)).toBeUndefined();
  });
});
