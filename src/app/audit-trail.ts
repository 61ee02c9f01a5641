import { AUDIT_OUTCOMES, type AuditOutcome, type AuditPage, type AuditQuery } from '../domain/audit.js';
import { InvalidInputError } from '../domain/errors.js';
import { parseConnectionId, parseResourceId } from '../domain/resource-id.js';
import { findResourceType, KEY_VAULT, RESOURCE_TYPES } from '../domain/resource-types.js';
import type { AuditReader } from './ports.js';

/**
 * Reading the audit trail, newest first, in pages. Filters arrive as query parameters:
 * resource (any registered resource's ID; `vault` is the older name and takes a Key Vault ID),
 * type (a registered type's key or ARM type), connection (a connection ID), subscription
 * (requester's), actor, outcome, from/to (ISO 8601), pageSize, continuationToken.
 * A filter that cannot be understood is an InvalidInputError; a page the store cannot serve
 * (a foreign continuation token) an AuditQueryError. Both name what to fix.
 */
export async function readAuditTrail(deps: { readonly audit: AuditReader }, params: URLSearchParams): Promise<AuditPage> {
  return deps.audit.query(parseAuditQuery(params));
}

export function parseAuditQuery(params: URLSearchParams): AuditQuery {
  const known = ['resource', 'vault', 'type', 'connection', 'subscription', 'actor', 'outcome', 'from', 'to', 'pageSize', 'continuationToken'];
  for (const key of params.keys()) {
    if (!known.includes(key)) throw new InvalidInputError(`Unknown query parameter '${key}'. Known: ${known.join(', ')}`, key);
  }
  const get = (name: string) => params.get(name)?.trim() || undefined;
  const vault = get('vault');
  const resourceText = get('resource');
  if (vault && resourceText) throw new InvalidInputError("Give either 'resource' or 'vault' (its older name), not both", 'resource');
  const resource = resourceText ? parseResourceId(resourceText) : vault ? parseResourceId(vault) : undefined;
  if (vault && resource?.type !== KEY_VAULT) throw new InvalidInputError(`'vault' takes a Key Vault ID; use 'resource' for a ${resource?.type.displayName}`, 'vault');
  const typeText = get('type');
  const type = typeText ? findResourceType(typeText) : undefined;
  if (typeText && !type) {
    throw new InvalidInputError(`type '${typeText}' is not a registered resource type (known: ${RESOURCE_TYPES.map((t) => t.key).join(', ')})`, 'type');
  }
  const connection = get('connection');
  const subscription = get('subscription');
  const outcome = get('outcome');
  if (outcome && !AUDIT_OUTCOMES.includes(outcome as AuditOutcome)) {
    throw new InvalidInputError(`outcome must be one of ${AUDIT_OUTCOMES.join(', ')}`, 'outcome');
  }
  if (subscription && !/^[0-9a-f-]{36}$/i.test(subscription)) throw new InvalidInputError('subscription must be a subscription GUID', 'subscription');
  const connectionRef = connection ? parseConnectionId(connection) : undefined;
  const pageSizeText = get('pageSize');
  const pageSize = pageSizeText === undefined ? undefined : Number(pageSizeText);
  if (pageSize !== undefined && (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000)) {
    throw new InvalidInputError('pageSize must be a whole number from 1 to 1000', 'pageSize');
  }
  const from = date(get('from'), 'from');
  const to = date(get('to'), 'to');
  if (from && to && from >= to) throw new InvalidInputError('from must be earlier than to', 'from');
  const actor = get('actor');
  const token = get('continuationToken');
  return {
    ...(resource ? { resourceId: resource.key } : connectionRef ? { resourceId: connectionRef.resource.key } : {}),
    ...(type ? { resourceType: type.type } : {}),
    ...(connectionRef ? { connectionId: connectionRef.key } : {}),
    ...(subscription ? { requesterSubscriptionId: subscription.toLowerCase() } : {}),
    ...(actor ? { actor } : {}),
    ...(outcome ? { outcome: outcome as AuditOutcome } : {}),
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
    ...(pageSize ? { pageSize } : {}),
    ...(token ? { continuationToken: token } : {}),
  };
}

function date(value: string | undefined, field: string): Date | undefined {
  if (value === undefined) return undefined;
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(value)) {
    throw new InvalidInputError(`${field} must be an ISO 8601 date or time, such as 2026-11-30 or 2026-11-30T09:00:00Z`, field);
  }
  return parsed;
}
