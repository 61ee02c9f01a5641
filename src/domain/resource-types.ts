import registry from './definitions/resource-types.json';
import { ConfigError } from './errors.js';

/**
 * The Private Link resource types Linkgate knows, read from definitions/resource-types.json.
 * Everything type-specific (API version, permissions, event operations, the way connections are
 * listed) is data there; code asks this module and never names a provider itself.
 */
export interface ResourceType {
  /** Short name for settings, rules and the CLI, e.g. `storage`. */
  readonly key: string;
  /** Canonical ARM spelling, e.g. `Microsoft.Storage/storageAccounts`. */
  readonly type: string;
  /** `Microsoft.Storage` */
  readonly namespace: string;
  /** The type's path segments after the namespace, e.g. `['storageAccounts']`. */
  readonly typeSegments: readonly string[];
  /** For headings: `Storage account`. */
  readonly displayName: string;
  /** In a sentence: `storage account stcontosodata`. */
  readonly noun: string;
  readonly apiVersion: string;
  /** The REST specification the API version and quirks were taken from. */
  readonly source: string;
  readonly connections: {
    readonly list: 'collection' | 'parent-properties';
    readonly put: 'sync' | 'long-running';
    readonly sendsPrivateEndpoint: boolean;
    /** Resource Graph reports the type's connections (properties.privateEndpointConnections); otherwise the sweep lists them through ARM. */
    readonly resourceGraph: boolean;
  };
  /** provisioningState values of this type that mean a change is still being applied. */
  readonly transientProvisioningStates: readonly string[];
  readonly permissions: { readonly read: readonly string[]; readonly approve: readonly string[] };
  /** What differs from the common contract, from the specification named in `source`. */
  readonly quirks: readonly string[];
  /** `data.operationName` values of resource events that hint at a change of this type's connections. */
  readonly events: readonly string[];
  readonly portalBlade: string;
}

export const RESOURCE_TYPES: readonly ResourceType[] = Object.freeze(registry.types.map(toResourceType));

const BY_TYPE = new Map(RESOURCE_TYPES.map((t) => [t.type.toLowerCase(), t]));
const BY_KEY = new Map(RESOURCE_TYPES.map((t) => [t.key, t]));

/** Key Vault: what a rule's `vault` condition and an untyped legacy record mean. */
export const KEY_VAULT: ResourceType = requireKey('keyvault');

/** By key (`storage`) or ARM type (`Microsoft.Storage/storageAccounts`, any casing). */
export function findResourceType(name: string): ResourceType | undefined {
  const trimmed = name.trim();
  return BY_KEY.get(trimmed.toLowerCase()) ?? BY_TYPE.get(trimmed.toLowerCase());
}

/** The sentence form: `storage account stcontosodata`. */
export function describeResource(type: ResourceType, name: string): string {
  return `${type.noun} ${name}`;
}

/**
 * Parses a setting or option that lists types by key or ARM type, comma-separated; empty or
 * `all` means every registered type. Unknown names are refused with the list of known keys.
 */
export function parseResourceTypeList(value: string | undefined, setting: string): readonly ResourceType[] {
  const names = (value ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (names.length === 0 || (names.length === 1 && names[0]?.toLowerCase() === 'all')) return RESOURCE_TYPES;
  const chosen = new Map<string, ResourceType>();
  for (const name of names) {
    const type = findResourceType(name);
    if (!type) throw new ConfigError(setting, `'${name}' is not a registered resource type (known: ${RESOURCE_TYPES.map((t) => t.key).join(', ')}, or 'all')`);
    chosen.set(type.key, type);
  }
  return [...chosen.values()];
}

function requireKey(key: string): ResourceType {
  const type = BY_KEY.get(key);
  if (!type) throw new Error(`The resource type registry has no '${key}' entry`);
  return type;
}

type RegistryEntry = (typeof registry.types)[number];

function toResourceType(entry: RegistryEntry): ResourceType {
  const [namespace, ...typeSegments] = entry.type.split('/');
  if (!namespace || typeSegments.length === 0) throw new Error(`Registry entry '${entry.key}' has no provider namespace and type: '${entry.type}'`);
  const list = entry.connections.list;
  const put = entry.connections.put;
  if (list !== 'collection' && list !== 'parent-properties') throw new Error(`Registry entry '${entry.key}': connections.list '${list}' is not understood`);
  if (put !== 'sync' && put !== 'long-running') throw new Error(`Registry entry '${entry.key}': connections.put '${put}' is not understood`);
  return Object.freeze({
    key: entry.key,
    type: entry.type,
    namespace,
    typeSegments: Object.freeze(typeSegments),
    displayName: entry.displayName,
    noun: entry.noun,
    apiVersion: entry.apiVersion,
    source: entry.source,
    connections: Object.freeze({ list, put, sendsPrivateEndpoint: entry.connections.sendsPrivateEndpoint, resourceGraph: entry.connections.resourceGraph }),
    transientProvisioningStates: Object.freeze([...entry.transientProvisioningStates]),
    permissions: Object.freeze({ read: Object.freeze([...entry.permissions.read]), approve: Object.freeze([...entry.permissions.approve]) }),
    quirks: Object.freeze([...entry.quirks]),
    events: Object.freeze([...entry.events]),
    portalBlade: entry.portalBlade,
  });
}
