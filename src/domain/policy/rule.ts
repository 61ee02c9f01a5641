import { RuleValidationError } from '../errors.js';
import { isGuid } from '../resource-id.js';
import { findResourceType, RESOURCE_TYPES } from '../resource-types.js';
import { compileRequestMessage, UnsupportedPatternError } from './request-message.js';

export const RULE_ACTIONS = ['approve', 'reject', 'review', 'ignore', 'flag'] as const;
export type RuleAction = (typeof RULE_ACTIONS)[number];
/**
 * What a rule is consulted for. `request` (the default): a Pending connection, which the rule
 * approves, rejects, sends to review or ignores. `out-of-band`: a connection found Approved
 * without Linkgate's decision, which the rule ignores or flags (an alert card offering Reject).
 */
export const RULE_SUBJECTS = ['request', 'out-of-band'] as const;
export type RuleSubject = (typeof RULE_SUBJECTS)[number];
const ACTIONS_FOR: Record<RuleSubject, readonly RuleAction[]> = {
  request: ['approve', 'reject', 'review', 'ignore'],
  'out-of-band': ['ignore', 'flag'],
};
export const RULE_MODES = ['enforce', 'shadow'] as const;
export type RuleMode = (typeof RULE_MODES)[number];

/** `home`: the configured home tenant. `other`: a visible subscription in any other tenant. `not-visible`: the subscription could not be read (403/404). Or a tenant GUID. */
export type TenantSelector = 'home' | 'other' | 'not-visible' | string;

/** Where the resource is: every listed part must hold. */
export interface ResourceScope {
  /** Glob over the resource ID (canonical spelling). */
  readonly resourceId?: string;
  readonly subscriptions?: readonly string[];
  readonly resourceGroups?: readonly string[];
  /** Glob over the resource name. */
  readonly name?: string;
}

export interface RuleConditions {
  /** Key Vault only: a rule written before resource types were registered. Same as `resource` with `types: ['keyvault']`. */
  readonly vault?: ResourceScope;
  /** Any registered type; `types` holds canonical ARM types (written as keys such as `storage` or as ARM types). */
  readonly resource?: ResourceScope & { readonly types?: readonly string[] };
  readonly requesterTenant?: readonly TenantSelector[];
  readonly requesterSubscriptions?: readonly string[];
  /** Glob over the requester's private endpoint name. */
  readonly privateEndpointName?: string;
  /** Regular expression (RE2 syntax, case-insensitive, matched in linear time) over the request message. */
  readonly requestMessage?: string;
}

/** How a review is routed and timed. Only on rules whose action is `review`. */
export interface ReviewSettings {
  /** Teams conversation ID to post the card to (see `linkgate teams channels`). */
  readonly conversation?: string;
  /** Entra object IDs of the people who may decide. */
  readonly approvers?: readonly string[];
  /** Hours after the request went to review before a reminder is posted in the card's thread; 0: none. */
  readonly remindAfterHours?: number;
  /** Days after the request went to review before the review expires; 0: never. */
  readonly expireAfterDays?: number;
  /** What expiry does: leave the connection Pending (default) or reject it. */
  readonly timeoutAction?: TimeoutAction;
  /** How many different approvers must approve (1–10, default 1); a single rejection still ends the review. */
  readonly requiredApprovals?: number;
}

/** Quorums above this would outgrow a card and the approvers a team keeps on a list. */
export const MAX_REQUIRED_APPROVALS = 10;

export const TIMEOUT_ACTIONS = ['leave-pending', 'reject'] as const;
export type TimeoutAction = (typeof TIMEOUT_ACTIONS)[number];

export interface Rule {
  readonly name: string;
  readonly description?: string;
  /** Lower runs first. */
  readonly priority: number;
  readonly enabled: boolean;
  readonly mode: RuleMode;
  readonly action: RuleAction;
  /** Absent: `request`. */
  readonly appliesTo?: RuleSubject;
  readonly conditions: RuleConditions;
  /** For `review` rules, and for `flag` rules (where the alert goes and who may reject). */
  readonly review?: ReviewSettings;
}

/** What a rule is consulted for (absent means `request`). */
export function subjectOf(rule: Rule): RuleSubject {
  return rule.appliesTo ?? 'request';
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Whether `name` can name a rule: what the API takes from a route parameter before anything is read. */
export function isRuleName(name: string): boolean {
  return NAME_PATTERN.test(name);
}
const MAX_GLOB_LENGTH = 512;
const MAX_REGEX_LENGTH = 256;
const MAX_LIST_LENGTH = 200;

const RULE_FIELDS = ['name', 'description', 'priority', 'enabled', 'mode', 'action', 'appliesTo', 'conditions', 'review'];
const REVIEW_FIELDS = ['conversation', 'approvers', 'remindAfterHours', 'expireAfterDays', 'timeoutAction', 'requiredApprovals'];
const CONDITION_FIELDS = ['vault', 'resource', 'requesterTenant', 'requesterSubscriptions', 'privateEndpointName', 'requestMessage'];
const SCOPE_FIELDS = ['resourceId', 'subscriptions', 'resourceGroups', 'name'];

/**
 * Parses untrusted input (an API body, a CLI file, a table row) into a Rule.
 * Refuses anything it does not understand, naming the field, so a rule that would
 * behave differently from what its author meant never reaches the engine.
 */
export function parseRule(input: unknown): Rule {
  const raw = asObject(input, 'rule');
  rejectUnknown(raw, RULE_FIELDS, '');
  const name = requireString(raw.name, 'name');
  if (!NAME_PATTERN.test(name)) {
    throw new RuleValidationError('name', 'must be 1-64 characters: letters, digits, ".", "_" or "-", starting with a letter or digit');
  }
  const priority = raw.priority;
  if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0 || priority > 1_000_000) {
    throw new RuleValidationError('priority', 'must be a whole number from 0 to 1000000 (lower runs first)');
  }
  const enabled = raw.enabled === undefined ? true : raw.enabled;
  if (typeof enabled !== 'boolean') throw new RuleValidationError('enabled', 'must be true or false');
  const mode = raw.mode === undefined ? 'enforce' : raw.mode;
  if (!RULE_MODES.includes(mode as RuleMode)) throw new RuleValidationError('mode', `must be one of ${RULE_MODES.join(', ')}`);
  const appliesTo = raw.appliesTo === undefined ? 'request' : raw.appliesTo;
  if (!RULE_SUBJECTS.includes(appliesTo as RuleSubject)) throw new RuleValidationError('appliesTo', `must be one of ${RULE_SUBJECTS.join(', ')}`);
  const allowed = ACTIONS_FOR[appliesTo as RuleSubject];
  if (!allowed.includes(raw.action as RuleAction)) {
    throw new RuleValidationError('action', `must be one of ${allowed.join(', ')}${appliesTo === 'request' ? '' : ` for a rule that applies to ${String(appliesTo)} approvals`}`);
  }
  const description = raw.description === undefined ? undefined : requireString(raw.description, 'description', 500);
  const conditions = parseConditions(raw.conditions === undefined ? {} : raw.conditions);
  let review: ReviewSettings | undefined;
  if (raw.review !== undefined) {
    if (raw.action !== 'review' && raw.action !== 'flag') throw new RuleValidationError('review', "applies only to rules whose action is 'review' or 'flag'");
    review = parseReviewSettings(raw.review);
    if (raw.action === 'flag' && (review.expireAfterDays !== undefined || review.timeoutAction !== undefined || review.requiredApprovals !== undefined)) {
      // An alert never expires (the connection is already approved) and one rejection ends it.
      throw new RuleValidationError('review', 'a flag rule takes conversation, approvers and remindAfterHours only');
    }
  }
  return {
    name,
    ...(description === undefined ? {} : { description }),
    priority,
    enabled,
    mode: mode as RuleMode,
    action: raw.action as RuleAction,
    ...(appliesTo === 'out-of-band' ? { appliesTo: 'out-of-band' as const } : {}),
    conditions,
    ...(review ? { review } : {}),
  };
}

/** Also used for the global defaults, so both are held to the same rules. */
export function parseReviewSettings(input: unknown, prefix = 'review'): ReviewSettings {
  const raw = asObject(input, prefix);
  if ('approverGroups' in raw) {
    // Resolving Entra group membership needs Microsoft Graph permissions (GroupMember.Read.All)
    // that Linkgate does not hold; Teams invokes carry the clicker's object ID, not their groups.
    throw new RuleValidationError(`${prefix}.approverGroups`, 'is not supported: group membership cannot be resolved without Microsoft Graph permissions; list object IDs in approvers');
  }
  rejectUnknown(raw, REVIEW_FIELDS, `${prefix}.`);
  const out: { -readonly [K in keyof ReviewSettings]: ReviewSettings[K] } = {};
  if (raw.conversation !== undefined) out.conversation = requireString(raw.conversation, `${prefix}.conversation`, 512);
  if (raw.approvers !== undefined) out.approvers = requireGuidList(raw.approvers, `${prefix}.approvers`, 'an Entra object ID (a GUID)');
  if (raw.remindAfterHours !== undefined) out.remindAfterHours = requireNumber(raw.remindAfterHours, `${prefix}.remindAfterHours`, 24 * 30);
  if (raw.expireAfterDays !== undefined) out.expireAfterDays = requireNumber(raw.expireAfterDays, `${prefix}.expireAfterDays`, 365);
  if (raw.timeoutAction !== undefined) {
    if (!TIMEOUT_ACTIONS.includes(raw.timeoutAction as TimeoutAction)) {
      throw new RuleValidationError(`${prefix}.timeoutAction`, `must be one of ${TIMEOUT_ACTIONS.join(', ')}`);
    }
    out.timeoutAction = raw.timeoutAction as TimeoutAction;
  }
  if (raw.requiredApprovals !== undefined) {
    const required = raw.requiredApprovals;
    if (typeof required !== 'number' || !Number.isInteger(required) || required < 1 || required > MAX_REQUIRED_APPROVALS) {
      throw new RuleValidationError(`${prefix}.requiredApprovals`, `must be a whole number from 1 to ${MAX_REQUIRED_APPROVALS} (different approvers who must approve)`);
    }
    out.requiredApprovals = required;
  }
  return out;
}

function requireNumber(value: unknown, field: string, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
    throw new RuleValidationError(field, `must be a number from 0 (off) to ${max}`);
  }
  return value;
}

function parseConditions(input: unknown): RuleConditions {
  const raw = asObject(input, 'conditions');
  rejectUnknown(raw, CONDITION_FIELDS, 'conditions.');
  const out: { -readonly [K in keyof RuleConditions]: RuleConditions[K] } = {};
  if (raw.vault !== undefined) {
    const vault = asObject(raw.vault, 'conditions.vault');
    rejectUnknown(vault, SCOPE_FIELDS, 'conditions.vault.');
    out.vault = parseScope(vault, 'conditions.vault');
  }
  if (raw.resource !== undefined) {
    const resource = asObject(raw.resource, 'conditions.resource');
    rejectUnknown(resource, ['types', ...SCOPE_FIELDS], 'conditions.resource.');
    const types =
      resource.types === undefined
        ? undefined
        : requireStringList(resource.types, 'conditions.resource.types').map((name, index) => {
            const type = findResourceType(name);
            if (!type) {
              throw new RuleValidationError(
                `conditions.resource.types[${index}]`,
                `'${name}' is not a registered resource type (known: ${RESOURCE_TYPES.map((t) => `${t.key} (${t.type})`).join(', ')})`,
              );
            }
            return type.type;
          });
    out.resource = { ...(types ? { types: [...new Set(types)] } : {}), ...parseScope(resource, 'conditions.resource') };
  }
  if (raw.requesterTenant !== undefined) {
    const tenants = requireStringList(raw.requesterTenant, 'conditions.requesterTenant');
    tenants.forEach((tenant, index) => {
      if (!['home', 'other', 'not-visible'].includes(tenant) && !isGuid(tenant)) {
        throw new RuleValidationError(`conditions.requesterTenant[${index}]`, `'${tenant}' is not 'home', 'other', 'not-visible' or a tenant GUID`);
      }
    });
    out.requesterTenant = tenants.map((t) => t.toLowerCase());
  }
  if (raw.requesterSubscriptions !== undefined) {
    out.requesterSubscriptions = requireGuidList(raw.requesterSubscriptions, 'conditions.requesterSubscriptions');
  }
  if (raw.privateEndpointName !== undefined) {
    out.privateEndpointName = requireGlob(raw.privateEndpointName, 'conditions.privateEndpointName');
  }
  if (raw.requestMessage !== undefined) {
    const pattern = requireString(raw.requestMessage, 'conditions.requestMessage', MAX_REGEX_LENGTH);
    try {
      compileRequestMessage(pattern);
    } catch (error) {
      if (!(error instanceof UnsupportedPatternError)) throw error;
      throw new RuleValidationError('conditions.requestMessage', `${error.message}${writtenForJavaScript(pattern)}`, { cause: error.cause });
    }
    out.requestMessage = pattern;
  }
  return out;
}

/**
 * Rules written before matching moved to RE2 were checked as JavaScript patterns. One that RE2
 * refuses is read back as unreadable; this says why it was accepted once and what to do.
 */
function writtenForJavaScript(pattern: string): string {
  try {
    new RegExp(pattern, 'iu');
  } catch {
    return '';
  }
  return '; it is a JavaScript pattern, which request messages are no longer matched with: rewrite it in RE2 syntax (https://github.com/google/re2/wiki/Syntax)';
}

function parseScope(raw: Record<string, unknown>, prefix: string): ResourceScope {
  return {
    ...(raw.resourceId === undefined ? {} : { resourceId: requireGlob(raw.resourceId, `${prefix}.resourceId`) }),
    ...(raw.subscriptions === undefined ? {} : { subscriptions: requireGuidList(raw.subscriptions, `${prefix}.subscriptions`) }),
    ...(raw.resourceGroups === undefined ? {} : { resourceGroups: requireStringList(raw.resourceGroups, `${prefix}.resourceGroups`) }),
    ...(raw.name === undefined ? {} : { name: requireGlob(raw.name, `${prefix}.name`) }),
  };
}

function asObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RuleValidationError(field, 'must be an object');
  }
  return value as Record<string, unknown>;
}

function rejectUnknown(raw: Record<string, unknown>, known: readonly string[], prefix: string): void {
  for (const key of Object.keys(raw)) {
    if (!known.includes(key)) {
      throw new RuleValidationError(`${prefix}${key}`, `is not a known field (known: ${known.join(', ')})`);
    }
  }
}

function requireString(value: unknown, field: string, maxLength = 1024): string {
  if (typeof value !== 'string' || value.trim() === '') throw new RuleValidationError(field, 'must be a non-empty string');
  if (value.length > maxLength) throw new RuleValidationError(field, `must be at most ${maxLength} characters`);
  return value;
}

function requireGlob(value: unknown, field: string): string {
  return requireString(value, field, MAX_GLOB_LENGTH);
}

function requireStringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length === 0) throw new RuleValidationError(field, 'must be a non-empty list');
  if (value.length > MAX_LIST_LENGTH) throw new RuleValidationError(field, `must have at most ${MAX_LIST_LENGTH} entries`);
  return value.map((item, index) => requireString(item, `${field}[${index}]`));
}

function requireGuidList(value: unknown, field: string, noun = 'a subscription GUID'): string[] {
  return requireStringList(value, field).map((item, index) => {
    if (!isGuid(item)) throw new RuleValidationError(`${field}[${index}]`, `'${item}' is not ${noun}`);
    return item.toLowerCase();
  });
}
