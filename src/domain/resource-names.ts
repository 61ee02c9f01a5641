import names from './definitions/resource-names.json';
import type { ResourceType } from './resource-types.js';

/**
 * What ARM accepts as a name in each segment of a resource ID, so that an ID Linkgate builds a
 * request, a table key or a card from names nothing ARM could not have created. Rules per type
 * and for resource groups are data (definitions/resource-names.json, from Azure's "Naming rules
 * and restrictions for Azure resources"). Names without a documented rule here (connections,
 * private endpoints, types without an entry) get a conservative ARM-wide rule: the same page
 * says not to use `#` because it breaks ARM's URL parsing, and `<>*%&:\?/` and control
 * characters are refused for resource names across ARM; `.` and `..` would be normalised into
 * another path by any HTTP client.
 */
interface NameRule {
  readonly length: readonly [number, number];
  readonly pattern: RegExp;
  readonly rule: string;
}

function toRule(entry: { length: number[]; pattern: string; rule: string }): NameRule {
  const [min, max] = entry.length;
  if (min === undefined || max === undefined) throw new Error(`Name rule '${entry.rule}' has no [min, max] length`);
  return { length: [min, max], pattern: new RegExp(entry.pattern, 'iu'), rule: entry.rule };
}

const RESOURCE_GROUP = toRule(names.resourceGroup);
const BY_TYPE: ReadonlyMap<string, NameRule> = new Map(Object.entries(names.types).map(([key, entry]) => [key, toRule(entry)]));

/**
 * Longest name accepted by the ARM-wide rule. No documented rule allows more than 260 characters
 * for a segment, and it keeps table keys built from a name under Azure Table's 1 KiB.
 */
export const MAX_ARM_NAME = 260;
// Control characters (C0, DEL, C1), and the characters ARM refuses in names.
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f<>*%&:\\?/#]/u;

function follows(rule: NameRule, name: string): boolean {
  return name.length >= rule.length[0] && name.length <= rule.length[1] && rule.pattern.test(name);
}

/** The conservative rule for a name ARM has no narrower documented rule for here. */
export function isArmName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_ARM_NAME && name !== '.' && name !== '..' && !FORBIDDEN.test(name);
}

export function isResourceGroupName(name: string): boolean {
  return follows(RESOURCE_GROUP, name);
}

/** A resource's own name by its type's rule, or the ARM-wide one where the type has none. */
export function isResourceName(type: ResourceType, name: string): boolean {
  const rule = BY_TYPE.get(type.key);
  return rule ? follows(rule, name) : isArmName(name);
}

/** The rule a type's names follow, in words, for error messages. */
export function resourceNameRule(type: ResourceType): string {
  return BY_TYPE.get(type.key)?.rule ?? `1-${MAX_ARM_NAME} characters, no control characters, none of <>*%&:\\?/#, not '.' or '..'`;
}

export const RESOURCE_GROUP_RULE = RESOURCE_GROUP.rule;
