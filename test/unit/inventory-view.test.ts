import { describe, expect, it } from 'vitest';
import type { InventoryPort } from '../../src/app/ports.js';
import { parseInventoryQuery, readInventory } from '../../src/app/inventory-view.js';
import { InvalidInputError } from '../../src/domain/errors.js';
import type { InventoryQuery } from '../../src/domain/inventory.js';
import { findResourceType } from '../../src/domain/resource-types.js';

const SUB = '11111111-1111-4111-8111-111111111111';
const TENANT = 'AAAAAAAA-0000-4000-8000-00000000000A';
const VAULT = `/subscriptions/${SUB}/resourceGroups/rg-kv/providers/Microsoft.KeyVault/vaults/kv-payments`;

function parse(query: string): InventoryQuery {
  return parseInventoryQuery(new URLSearchParams(query));
}

function refusal(query: string): InvalidInputError {
  try {
    parse(query);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return error as InvalidInputError;
  }
  throw new Error(`'${query}' was accepted`);
}

describe('parseInventoryQuery', () => {
  it('reads nothing as no filter', () => {
    expect(parse('')).toEqual({});
    expect(parse('state=&type=%20')).toEqual({});
  });

  it('reads every filter', () => {
    const params = new URLSearchParams({
      state: 'approved',
      type: 'Microsoft.KeyVault/vaults',
      resource: VAULT.toUpperCase().replace('/SUBSCRIPTIONS/', '/subscriptions/'),
      requesterTenant: TENANT,
      requesterSubscription: SUB.toUpperCase(),
      decidedBy: 'Elsewhere',
      outOfBand: 'FLAGGED',
      pageSize: '25',
      continuationToken: 'abc',
    });
    expect(parseInventoryQuery(params)).toEqual({
      status: 'Approved',
      type: findResourceType('keyvault'),
      resourceKey: VAULT.toLowerCase(),
      requesterTenantId: TENANT.toLowerCase(),
      requesterSubscriptionId: SUB,
      decidedBy: 'elsewhere',
      outOfBand: 'flagged',
      pageSize: 25,
      continuationToken: 'abc',
    });
  });

  it.each([
    ['Pending', 'Pending'],
    ['DISCONNECTED', 'Disconnected'],
    ['rejected', 'Rejected'],
    ['Timeout', 'Timeout'],
    ['x'.repeat(40), 'x'.repeat(40)],
  ])('takes state %s as %s', (text, status) => {
    expect(parse(`state=${text}`).status).toBe(status);
  });

  it.each(['unknown', 'NOT-VISIBLE'])('takes requesterTenant %s', (word) => {
    expect(parse(`requesterTenant=${word}`).requesterTenantId).toBe(word.toLowerCase());
  });

  it('takes a type by key', () => {
    expect(parse('type=storage').type?.key).toBe('storage');
  });

  it.each([
    ['colour=red', 'colour', /Unknown query parameter 'colour'. Known: state, type, resource/],
    ['state=a&state=b', 'state', /Give 'state' once/],
    [`state=${'x'.repeat(41)}`, 'state', /state must be one of Pending, Approved, Rejected, Disconnected, or another status text of at most 40/],
    ['state=a%0Ab', 'state', /state must be one of/],
    ['type=Microsoft.Contoso/widgets', 'type', /type 'Microsoft.Contoso\/widgets' is not a registered resource type \(known: keyvault/],
    ['resource=kv-payments', 'resource', /^resource: 'kv-payments' is not the resource ID of a registered Private Link resource type/],
    [`resource=${VAULT}/privateEndpointConnections/pe-1`, 'resource', /^resource: .* is not the resource ID/],
    ['requesterTenant=contoso', 'requesterTenant', /requesterTenant must be a tenant GUID, unknown or not-visible/],
    ['requesterSubscription=sub-1', 'requesterSubscription', /requesterSubscription must be a subscription GUID/],
    ['decidedBy=rule', 'decidedBy', /decidedBy must be one of linkgate, elsewhere, none/],
    ['outOfBand=yes', 'outOfBand', /outOfBand must be one of flagged, ignored/],
    ['pageSize=0', 'pageSize', /pageSize must be a whole number from 1 to 1000/],
    ['pageSize=1001', 'pageSize', /pageSize must be a whole number from 1 to 1000/],
    ['pageSize=2.5', 'pageSize', /pageSize/],
    ['pageSize=1e2', 'pageSize', /pageSize/],
    ['pageSize=ten', 'pageSize', /pageSize/],
    [`continuationToken=${'a'.repeat(8193)}`, 'continuationToken', /continuationToken is longer than any Linkgate issues/],
  ])('refuses %s, naming %s', (query, field, message) => {
    const error = refusal(query);
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
  });
});

describe('readInventory', () => {
  it('asks the inventory for the parsed query and answers its page', async () => {
    const asked: InventoryQuery[] = [];
    const inventory: InventoryPort = {
      listResource: async () => [],
      index: async () => new Map(),
      indexOf: async () => new Map(),
      claim: async () => true,
      claimMany: async (claims) => claims.map(() => true),
      write: async () => {},
      query: async (q) => {
        asked.push(q);
        return { entries: [], continuationToken: 'next' };
      },
    };
    expect(await readInventory({ inventory }, new URLSearchParams('state=pending&pageSize=5'))).toEqual({ entries: [], continuationToken: 'next' });
    expect(asked).toEqual([{ status: 'Pending', pageSize: 5 }]);
  });
});
