import { InvalidInputError } from '../domain/errors.js';
import { DECIDED_BY, OUT_OF_BAND, type DecidedBy, type InventoryPage, type InventoryQuery, type OutOfBandVerdict } from '../domain/inventory.js';
import { isGuid, parseResourceId, shown } from '../domain/resource-id.js';
import { findResourceType, RESOURCE_TYPES } from '../domain/resource-types.js';
import type { InventoryPort } from './ports.js';

/**
 * Reading the connection inventory in pages (GET /api/connections, `linkgate connections`).
 * Filters arrive as query parameters:
 *   state                  Pending, Approved, Rejected or Disconnected (any casing), or any other
 *                          status text Azure reports, up to 40 characters
 *   type                   a registered type's key or ARM type
 *   resource               a registered resource's ID
 *   requesterTenant        a tenant GUID, `unknown` or `not-visible`
 *   requesterSubscription  a subscription GUID
 *   decidedBy              linkgate, elsewhere or none
 *   outOfBand              flagged or ignored
 *   pageSize               1 to 1000 (default 100)
 *   continuationToken      from the previous page, with the same filters
 * A parameter that cannot be understood is an InvalidInputError naming it and what it takes; a
 * page the store cannot serve (a foreign continuation token) an AuditQueryError.
 */
export async function readInventory(deps: { readonly inventory: InventoryPort }, params: URLSearchParams): Promise<InventoryPage> {
  return deps.inventory.query(parseInventoryQuery(params));
}

export const INVENTORY_PARAMETERS = ['state', 'type', 'resource', 'requesterTenant', 'requesterSubscription', 'decidedBy', 'outOfBand', 'pageSize', 'continuationToken'] as const;

const STATES = ['Pending', 'Approved', 'Rejected', 'Disconnected'] as const;
const MAX_STATE_CHARS = 40;
const MAX_TOKEN_CHARS = 8_192;
const TENANT_WORDS = ['unknown', 'not-visible'] as const;

export function parseInventoryQuery(params: URLSearchParams): InventoryQuery {
  const known: readonly string[] = INVENTORY_PARAMETERS;
  const seen = new Set<string>();
  for (const key of params.keys()) {
    if (!known.includes(key)) throw new InvalidInputError(`Unknown query parameter ${shown(key, 60)}. Known: ${known.join(', ')}`, key);
    if (seen.has(key)) throw new InvalidInputError(`Give '${key}' once`, key);
    seen.add(key);
  }
  const get = (name: (typeof INVENTORY_PARAMETERS)[number]) => params.get(name)?.trim() || undefined;

  const stateText = get('state');
  let status: string | undefined;
  if (stateText !== undefined) {
    // eslint-disable-next-line no-control-regex
    if (stateText.length > MAX_STATE_CHARS || /[\u0000-\u001f\u007f-\u009f]/u.test(stateText)) {
      throw new InvalidInputError(`state must be one of ${STATES.join(', ')}, or another status text of at most ${MAX_STATE_CHARS} printable characters`, 'state');
    }
    status = STATES.find((s) => s.toLowerCase() === stateText.toLowerCase()) ?? stateText;
  }

  const typeText = get('type');
  const type = typeText ? findResourceType(typeText) : undefined;
  if (typeText && !type) {
    throw new InvalidInputError(`type ${shown(typeText, 100)} is not a registered resource type (known: ${RESOURCE_TYPES.map((t) => t.key).join(', ')}, or their ARM types)`, 'type');
  }

  const resourceText = get('resource');
  let resourceKey: string | undefined;
  if (resourceText) {
    try {
      resourceKey = parseResourceId(resourceText).key;
    } catch (error) {
      if (!(error instanceof InvalidInputError)) throw error;
      throw new InvalidInputError(`resource: ${error.message}`, 'resource', { cause: error });
    }
  }

  const tenantText = get('requesterTenant');
  let requesterTenantId: string | undefined;
  if (tenantText !== undefined) {
    const word = TENANT_WORDS.find((w) => w === tenantText.toLowerCase());
    if (!word && !isGuid(tenantText)) throw new InvalidInputError(`requesterTenant must be a tenant GUID, ${TENANT_WORDS.join(' or ')}`, 'requesterTenant');
    requesterTenantId = word ?? tenantText.toLowerCase();
  }

  const subscriptionText = get('requesterSubscription');
  if (subscriptionText !== undefined && !isGuid(subscriptionText)) throw new InvalidInputError('requesterSubscription must be a subscription GUID', 'requesterSubscription');

  const decidedBy = oneOf(get('decidedBy'), DECIDED_BY, 'decidedBy');
  const outOfBand = oneOf(get('outOfBand'), OUT_OF_BAND, 'outOfBand');

  const pageSizeText = get('pageSize');
  const pageSize = pageSizeText === undefined ? undefined : /^\d{1,4}$/.test(pageSizeText) ? Number(pageSizeText) : Number.NaN;
  if (pageSize !== undefined && (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000)) {
    throw new InvalidInputError('pageSize must be a whole number from 1 to 1000', 'pageSize');
  }

  const token = get('continuationToken');
  if (token !== undefined && token.length > MAX_TOKEN_CHARS) {
    throw new InvalidInputError('continuationToken is longer than any Linkgate issues; pass the one the previous page answered, or none', 'continuationToken');
  }

  return {
    ...(status !== undefined ? { status } : {}),
    ...(type ? { type } : {}),
    ...(resourceKey ? { resourceKey } : {}),
    ...(requesterTenantId ? { requesterTenantId } : {}),
    ...(subscriptionText ? { requesterSubscriptionId: subscriptionText.toLowerCase() } : {}),
    ...(decidedBy ? { decidedBy: decidedBy as DecidedBy } : {}),
    ...(outOfBand ? { outOfBand: outOfBand as OutOfBandVerdict } : {}),
    ...(pageSize !== undefined ? { pageSize } : {}),
    ...(token ? { continuationToken: token } : {}),
  };
}

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], name: string): T | undefined {
  if (value === undefined) return undefined;
  const found = allowed.find((a) => a === value.toLowerCase());
  if (!found) throw new InvalidInputError(`${name} must be one of ${allowed.join(', ')}`, name);
  return found;
}
