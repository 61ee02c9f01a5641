import { InvalidInputError } from './errors.js';
import { isArmName, isResourceGroupName, isResourceName, RESOURCE_GROUP_RULE, resourceNameRule } from './resource-names.js';
import { RESOURCE_TYPES, type ResourceType } from './resource-types.js';

/**
 * Azure resource IDs are case-insensitive, and real Event Grid payloads mix
 * `/resourcegroups/` and `/resourceGroups/` (see shared AZURE-FACTS, "Casing").
 * IDs are parsed once at the boundary into these records: `id` is the canonical spelling
 * (lower-case subscription, `resourceGroups`, the registry's spelling of the provider and type)
 * used for display and for every ARM call; `key` is its lower-case form for comparison and
 * storage keys.
 *
 * An ID is accepted only when ARM could have issued it: a GUID subscription, a resource group and
 * names that follow ARM's naming rules (resource-names.ts), and no empty, `.` or `..` segment and
 * no control or URL-special character anywhere in it. Anything else is not an ID but input that
 * would change the meaning of a request URL or a table key.
 */
export interface ResourceRef {
  readonly type: ResourceType;
  readonly id: string;
  readonly key: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
}

export interface ConnectionRef {
  readonly resource: ResourceRef;
  readonly name: string;
  readonly id: string;
  readonly key: string;
}

export interface PrivateEndpointRef {
  readonly id: string;
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
}

const PRIVATE_ENDPOINT_PATTERN = /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/providers\/microsoft\.network\/privateendpoints\/([^/]+)\/?$/i;
const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Segments before the provider namespace: '', subscriptions, {s}, resourceGroups, {rg}, providers. */
const NAMESPACE_INDEX = 6;

export function isGuid(value: string): boolean {
  return GUID_PATTERN.test(value);
}

/** A top-level resource of a registered type (the names of nested types are joined by '/'). */
export function resourceRef(type: ResourceType, subscriptionId: string, resourceGroup: string, name: string): ResourceRef {
  const sub = subscriptionId.toLowerCase();
  const names = name.split('/');
  const path = type.typeSegments.map((segment, index) => `${segment}/${names[index] ?? ''}`).join('/');
  const id = `/subscriptions/${sub}/resourceGroups/${resourceGroup}/providers/${type.namespace}/${path}`;
  return { type, id, key: id.toLowerCase(), subscriptionId: sub, resourceGroup, name };
}

/**
 * The registered resource that a resource URI names or lives under (a connection, a proxy, a
 * proxy's validate action), or undefined when it is none of the registered types. When two
 * registered types match (a nested type under another), the longer one wins.
 */
export function resourceOf(resourceUri: string): ResourceRef | undefined {
  const segments = trimTrailingSlash(resourceUri).split('/');
  if (segments[0] !== '' || !same(segments[1], 'subscriptions') || !same(segments[3], 'resourcegroups') || !same(segments[5], 'providers')) {
    return undefined;
  }
  // Every segment, including those below the resource (a connection, a proxy, an action), must be
  // a name ARM could have issued: `..` or an encoded one would point the URL somewhere else.
  if (!segments.slice(1).every(isArmName)) return undefined;
  const [sub, rg] = [segments[2], segments[4]];
  if (!sub || !rg || !isGuid(sub) || !isResourceGroupName(rg)) return undefined;
  let best: { type: ResourceType; names: string[] } | undefined;
  for (const type of RESOURCE_TYPES) {
    if (!same(segments[NAMESPACE_INDEX], type.namespace)) continue;
    const names: string[] = [];
    const last = type.typeSegments.length - 1;
    const matches = type.typeSegments.every((typeSegment, index) => {
      const name = segments[NAMESPACE_INDEX + 1 + index * 2 + 1];
      names.push(name ?? '');
      // The registry's name rule is for the resource itself; a parent's name follows ARM's general rule.
      return same(segments[NAMESPACE_INDEX + 1 + index * 2], typeSegment) && name !== undefined && (index === last ? isResourceName(type, name) : isArmName(name));
    });
    if (matches && (!best || type.typeSegments.length > best.type.typeSegments.length)) best = { type, names };
  }
  return best ? resourceRef(best.type, sub, rg, best.names.join('/')) : undefined;
}

/** A registered resource's own ID, nothing below it. */
export function parseResourceId(resourceId: string): ResourceRef {
  const resource = resourceOf(resourceId);
  if (!resource || resource.key !== trimTrailingSlash(resourceId).toLowerCase()) {
    throw new InvalidInputError(
      `${shown(resourceId)} is not the resource ID of a registered Private Link resource type (/subscriptions/{GUID}/resourceGroups/{group}/providers/NAMESPACE/TYPE/NAME; types: ${RESOURCE_TYPES.map((t) => t.type).join(', ')})${namingHint(resourceId)}`,
      'resourceId',
    );
  }
  return resource;
}

export function connectionRef(resource: ResourceRef, name: string): ConnectionRef {
  const id = `${resource.id}/privateEndpointConnections/${name}`;
  return { resource, name, id, key: id.toLowerCase() };
}

export function parseConnectionId(resourceId: string): ConnectionRef {
  const trimmed = trimTrailingSlash(resourceId);
  const resource = resourceOf(trimmed);
  const rest = resource ? trimmed.slice(resource.id.length + 1) : '';
  const match = /^privateendpointconnections\/([^/]+)$/i.exec(rest);
  if (!resource || !match?.[1] || !isArmName(match[1])) {
    throw new InvalidInputError(`${shown(resourceId)} is not a private endpoint connection ID of a registered resource type`, 'connectionId');
  }
  return connectionRef(resource, match[1]);
}

/**
 * The requester's private endpoint; its subscription is path segment 2 of the ID. The ID comes
 * from the connection's body (`privateEndpoint.id`), which the requester's side shapes, so it is
 * held to the same rules as any resource ID: a non-GUID subscription is no subscription at all.
 */
export function parsePrivateEndpointId(resourceId: string): PrivateEndpointRef {
  const match = PRIVATE_ENDPOINT_PATTERN.exec(resourceId.trim());
  const [, sub, rg, name] = match ?? [];
  if (!sub || !rg || !name || !isGuid(sub) || !isResourceGroupName(rg) || !isArmName(name)) {
    throw new InvalidInputError(
      `${shown(resourceId)} is not a private endpoint resource ID (/subscriptions/{GUID}/resourceGroups/{group}/providers/Microsoft.Network/privateEndpoints/{name})`,
      'privateEndpoint.id',
    );
  }
  return {
    id: `/subscriptions/${sub.toLowerCase()}/resourceGroups/${rg}/providers/Microsoft.Network/privateEndpoints/${name}`,
    subscriptionId: sub.toLowerCase(),
    resourceGroup: rg,
    name,
  };
}

/** What in an ID that looks like a resource ID broke a naming rule, for the error message. */
function namingHint(resourceId: string): string {
  const segments = trimTrailingSlash(resourceId).split('/');
  const [sub, rg] = [segments[2], segments[4]];
  if (sub !== undefined && !isGuid(sub)) return '. The subscription must be a GUID.';
  if (rg !== undefined && !isResourceGroupName(rg)) return `. A resource group name must be ${RESOURCE_GROUP_RULE}.`;
  const type = RESOURCE_TYPES.find((t) => same(segments[NAMESPACE_INDEX], t.namespace) && same(segments[NAMESPACE_INDEX + 1], t.typeSegments[0] ?? ''));
  const name = segments[NAMESPACE_INDEX + 2];
  if (type && name !== undefined && !isResourceName(type, name)) return `. A ${type.noun} name must be ${resourceNameRule(type)}.`;
  return '';
}

/** An input quoted in a message: bounded, with control characters made visible. */
export function shown(value: string, max = 300): string {
  const cut = value.length > max ? `${value.slice(0, max)}…` : value;
  // eslint-disable-next-line no-control-regex
  return `'${cut.replace(/[\u0000-\u001f\u007f-\u009f]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}'`;
}

function same(segment: string | undefined, expected: string): boolean {
  return segment !== undefined && segment.toLowerCase() === expected.toLowerCase();
}

function trimTrailingSlash(value: string): string {
  return value.trim().replace(/\/+$/, '');
}

/**
 * The comparison key of an ARM ID that is kept as Azure reported it (a private endpoint's, say):
 * ARM IDs are case-insensitive, so two IDs name the same resource when their keys are equal.
 */
export function idKey(id: string): string;
export function idKey(id: string | undefined): string | undefined;
export function idKey(id: string | undefined): string | undefined {
  return id?.toLowerCase();
}
