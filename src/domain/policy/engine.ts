import type { AutomationHold } from '../automation.js';
import type { PrivateEndpointRef, ResourceRef } from '../resource-id.js';
import { describeResource, KEY_VAULT } from '../resource-types.js';
import { compileGlob } from './glob.js';
import { compileRequestMessage } from './request-message.js';
import { subjectOf, type ResourceScope, type ReviewSettings, type Rule, type RuleAction, type RuleConditions, type RuleMode, type RuleSubject } from './rule.js';

/** What a request rule can say. */
export type RequestAction = Exclude<RuleAction, 'flag'>;

/** What a subscription lookup told us about the requester's tenant. */
export type RequesterTenant =
  | { readonly kind: 'visible'; readonly tenantId: string }
  /** 403 or 404: not proof of being external (AZURE-FACTS, "The requester"). */
  | { readonly kind: 'not-visible' }
  /** The connection carried no private endpoint ID that could be parsed. */
  | { readonly kind: 'unknown' };

export interface RequestFacts {
  readonly resource: ResourceRef;
  readonly connectionName: string;
  readonly privateEndpoint: PrivateEndpointRef | undefined;
  readonly requesterTenant: RequesterTenant;
  readonly requestMessage: string | undefined;
}

/** A rule as it came out of storage: understood, or not (and why). */
export type StoredRule = { readonly ok: true; readonly rule: Rule } | { readonly ok: false; readonly name: string; readonly error: string };

export interface ConditionResult {
  readonly field: string;
  readonly held: boolean;
  readonly expected: string;
  readonly actual: string;
}

export interface RuleEvaluation {
  readonly rule: string;
  readonly priority: number | undefined;
  readonly mode: RuleMode | undefined;
  readonly action: RuleAction | undefined;
  /** `matched`, `no-match`, `disabled` or `unreadable`. */
  readonly result: 'matched' | 'no-match' | 'disabled' | 'unreadable';
  readonly conditions: readonly ConditionResult[];
  readonly error?: string;
}

export interface Decision {
  readonly action: RequestAction;
  /** The enforcing rule that decided; undefined when the default (review) applied. */
  readonly ruleName: string | undefined;
  /** Shadow rules that matched before the decision, with what each would have done. */
  readonly shadowMatches: readonly { readonly rule: string; readonly action: RuleAction }[];
  readonly summary: string;
  /** The deciding rule's review settings, when it sent the request to review (or, out of band, flagged it). */
  readonly review?: ReviewSettings;
  readonly evaluations: readonly RuleEvaluation[];
}

export const DEFAULT_ACTION: RequestAction = 'review';

/** Azure's limit for a private endpoint request message. */
export const MAX_REQUEST_MESSAGE = 140;

/**
 * First enabled enforcing rule that matches, by priority (then name), wins; none → review.
 * Shadow rules that match are recorded and evaluation goes on, so a new rule can be tried
 * against live traffic without changing what happens.
 *
 * Safety (fails closed): an unreadable rule (a row written around the validated API, or one
 * stored with a JavaScript request-message pattern RE2 cannot compile) never matches, but it
 * might have been meant to reject, and its place in the order is unknown. When one exists, an
 * automatic approve or reject is withheld and the decision falls to review, so the connection
 * stays Pending until a person decides; nothing is approved because a rule could not be read.
 * The same holds when the requester cannot be identified, and while automatic decisions are on
 * hold (break-glass, src/domain/automation.ts).
 */
export function decide(rules: readonly StoredRule[], facts: RequestFacts, homeTenantId: string, hold?: AutomationHold): Decision {
  const { evaluations, shadowMatches, unreadable, winner } = evaluate(rules, facts, homeTenantId, 'request');
  const chosen: RequestAction = (winner?.action as RequestAction | undefined) ?? DEFAULT_ACTION;
  const automatic = chosen === 'approve' || chosen === 'reject';
  const shadowNote = shadowMatches.length
    ? ` Shadow: ${shadowMatches.map((s) => `'${s.rule}' would ${s.action}`).join(', ')}.`
    : '';
  if (automatic && hold) {
    return {
      action: 'review',
      ruleName: winner?.name,
      shadowMatches,
      summary: `Rule '${winner?.name ?? '(default)'}' said ${chosen}, but automatic decisions are on hold (by ${hold.by.name} since ${hold.at.toISOString()}: ${hold.reason}), so a person decides.${shadowNote}`,
      evaluations,
    };
  }
  if (automatic && facts.requesterTenant.kind === 'unknown') {
    return {
      action: 'review',
      ruleName: winner?.name,
      shadowMatches,
      summary: `Rule '${winner?.name}' said ${chosen}, but the requester's private endpoint ID could not be read, so a person decides.${shadowNote}`,
      evaluations,
    };
  }
  if (automatic && unreadable.length > 0) {
    return {
      action: 'review',
      ruleName: winner?.name,
      shadowMatches,
      summary: `Rule '${winner?.name}' said ${chosen}, but rule(s) ${unreadable.map((n) => `'${n}'`).join(', ')} could not be read, so a person decides. Fix or delete them.${shadowNote}`,
      evaluations,
    };
  }
  const because = winner ? reasons(evaluations.find((e) => e.rule === winner?.name)?.conditions ?? []) : '';
  const subject = describeResource(facts.resource.type, facts.resource.name);
  const summary = winner
    ? `Rule '${winner.name}' (priority ${winner.priority}) matched ${subject}: ${chosen}.${because}${shadowNote}`
    : `No rule matched ${subject}: ${chosen} by default.${shadowNote}`;
  return { action: chosen, ruleName: winner?.name, shadowMatches, summary, evaluations, ...(chosen === 'review' && winner?.review ? { review: winner.review } : {}) };
}

/** What the out-of-band rules made of an approval given outside Linkgate. */
export interface OutOfBandJudgement {
  readonly verdict: 'flag' | 'ignore';
  /** The enforcing rule that decided; undefined when the default (flag) applied. */
  readonly ruleName: string | undefined;
  readonly summary: string;
  readonly review?: ReviewSettings;
  readonly shadowMatches: readonly { readonly rule: string; readonly action: RuleAction }[];
  readonly evaluations: readonly RuleEvaluation[];
}

/**
 * The out-of-band rules (appliesTo: out-of-band), first enforcing match by priority, with the same
 * conditions as request rules; none → flag. Fails closed as decide() does: an approval is only
 * ignored when every rule could be read, the requester is identified, and automatic decisions are
 * not on hold; otherwise a person is told.
 */
export function judgeOutOfBand(rules: readonly StoredRule[], facts: RequestFacts, homeTenantId: string, hold?: AutomationHold): OutOfBandJudgement {
  const { evaluations, shadowMatches, unreadable, winner } = evaluate(rules, facts, homeTenantId, 'out-of-band');
  const subject = describeResource(facts.resource.type, facts.resource.name);
  const base = { shadowMatches, evaluations, ruleName: winner?.name };
  const review = winner?.action === 'flag' && winner.review ? { review: winner.review } : {};
  if (winner?.action !== 'ignore') {
    return { ...base, ...review, verdict: 'flag', summary: winner ? `Rule '${winner.name}' flags approvals like this one on ${subject}.` : `No out-of-band rule matched ${subject}: flagged by default.` };
  }
  const withheld = hold
    ? `automatic decisions are on hold (by ${hold.by.name}: ${hold.reason})`
    : facts.requesterTenant.kind === 'unknown'
      ? "the requester's private endpoint ID could not be read"
      : unreadable.length > 0
        ? `rule(s) ${unreadable.map((n) => `'${n}'`).join(', ')} could not be read`
        : undefined;
  if (withheld) return { ...base, verdict: 'flag', summary: `Rule '${winner.name}' would ignore this approval on ${subject}, but ${withheld}, so a person is told.` };
  const because = reasons(evaluations.find((e) => e.rule === winner.name)?.conditions ?? []);
  return { ...base, verdict: 'ignore', summary: `Rule '${winner.name}' (priority ${winner.priority}) ignores this approval on ${subject}.${because}` };
}

/** Every rule for one subject, in order: evaluations, shadow matches, unreadable rules and the winner. */
function evaluate(rules: readonly StoredRule[], facts: RequestFacts, homeTenantId: string, subject: RuleSubject) {
  const evaluations: RuleEvaluation[] = [];
  const shadowMatches: { rule: string; action: RuleAction }[] = [];
  const unreadable: string[] = [];
  for (const stored of rules) {
    if (!stored.ok) {
      // Whatever it was meant for, an unreadable rule holds back automatic outcomes of both kinds.
      unreadable.push(stored.name);
      evaluations.push({ rule: stored.name, priority: undefined, mode: undefined, action: undefined, result: 'unreadable', conditions: [], error: stored.error });
    }
  }
  const readable = rules
    .filter((stored): stored is { ok: true; rule: Rule } => stored.ok && subjectOf(stored.rule) === subject)
    .map((stored) => stored.rule)
    .sort((a, b) => a.priority - b.priority || a.name.localeCompare(b.name));
  let winner: Rule | undefined;
  for (const rule of readable) {
    const base = { rule: rule.name, priority: rule.priority, mode: rule.mode, action: rule.action };
    if (!rule.enabled) {
      evaluations.push({ ...base, result: 'disabled', conditions: [] });
      continue;
    }
    const conditions = evaluateConditions(rule.conditions, facts, homeTenantId);
    const matched = conditions.every((c) => c.held);
    evaluations.push({ ...base, result: matched ? 'matched' : 'no-match', conditions });
    if (!matched) continue;
    if (rule.mode === 'shadow') {
      shadowMatches.push({ rule: rule.name, action: rule.action });
      continue;
    }
    winner = rule;
    break;
  }
  return { evaluations, shadowMatches, unreadable, winner };
}

/** The held conditions of the deciding rule, as a short "because" clause. */
function reasons(conditions: readonly ConditionResult[]): string {
  if (conditions.length === 0) return ' It has no conditions, so it matches every request.';
  const phrase = (c: ConditionResult) => `${c.field} ${c.actual} ${c.expected.startsWith('one of') ? 'is' : 'matches'} ${c.expected}`;
  return ` Because ${conditions.map(phrase).join('; ')}.`;
}

function evaluateConditions(conditions: RuleConditions, facts: RequestFacts, homeTenantId: string): ConditionResult[] {
  const results: ConditionResult[] = [];
  const { resource } = facts;
  if (conditions.vault !== undefined) {
    // A `vault` condition predates resource types and means Key Vault, whatever else it says.
    results.push(...scopeResults('vault', conditions.vault, resource));
    results.push(listResult('resource.type', [KEY_VAULT.type], resource.type.type));
  }
  if (conditions.resource !== undefined) {
    results.push(...scopeResults('resource', conditions.resource, resource));
    if (conditions.resource.types !== undefined) results.push(listResult('resource.type', conditions.resource.types, resource.type.type));
  }
  if (conditions.requesterTenant !== undefined) {
    results.push(tenantResult(conditions.requesterTenant, facts.requesterTenant, homeTenantId));
  }
  if (conditions.requesterSubscriptions !== undefined) {
    results.push(listResult('requesterSubscriptions', conditions.requesterSubscriptions, facts.privateEndpoint?.subscriptionId));
  }
  if (conditions.privateEndpointName !== undefined) {
    results.push(globResult('privateEndpointName', conditions.privateEndpointName, facts.privateEndpoint?.name));
  }
  if (conditions.requestMessage !== undefined) results.push(requestMessageResult(conditions.requestMessage, facts.requestMessage));
  return results;
}

/**
 * RE2 matches in time linear in the message (request-message.ts). Azure caps a request message
 * at 140 characters; a longer one breaks that contract and is not matched at all. A pattern that
 * does not compile (only a rule built around parseRule could carry one) holds for no message:
 * stored rows that RE2 refuses never get here, they are unreadable (rules-store.ts).
 */
function requestMessageResult(pattern: string, requestMessage: string | undefined): ConditionResult {
  const message = requestMessage ?? '';
  const base = { field: 'requestMessage', expected: `/${pattern}/i` };
  if (message.length > MAX_REQUEST_MESSAGE) return { ...base, held: false, actual: `(longer than ${MAX_REQUEST_MESSAGE} characters)` };
  let held: boolean;
  try {
    held = compileRequestMessage(pattern).test(message);
  } catch {
    return { ...base, held: false, actual: `${JSON.stringify(message)} (pattern not supported)` };
  }
  return { ...base, held, actual: JSON.stringify(message) };
}

/** The conditions on where the resource is, shared by `vault` and `resource`. */
function scopeResults(prefix: string, scope: ResourceScope, resource: ResourceRef): ConditionResult[] {
  const results: ConditionResult[] = [];
  if (scope.resourceId !== undefined) results.push(globResult(`${prefix}.resourceId`, scope.resourceId, resource.id));
  if (scope.subscriptions !== undefined) results.push(listResult(`${prefix}.subscriptions`, scope.subscriptions, resource.subscriptionId));
  if (scope.resourceGroups !== undefined) results.push(listResult(`${prefix}.resourceGroups`, scope.resourceGroups, resource.resourceGroup));
  if (scope.name !== undefined) results.push(globResult(`${prefix}.name`, scope.name, resource.name));
  return results;
}

function globResult(field: string, glob: string, actual: string | undefined): ConditionResult {
  return { field, held: actual !== undefined && compileGlob(glob).test(actual), expected: glob, actual: actual ?? '(unknown)' };
}

function listResult(field: string, list: readonly string[], actual: string | undefined): ConditionResult {
  const held = actual !== undefined && list.some((item) => item.toLowerCase() === actual.toLowerCase());
  return { field, held, expected: `one of [${list.join(', ')}]`, actual: actual ?? '(unknown)' };
}

function tenantResult(selectors: readonly string[], tenant: RequesterTenant, homeTenantId: string): ConditionResult {
  const home = homeTenantId.toLowerCase();
  const held = selectors.some((selector) => {
    if (tenant.kind === 'not-visible') return selector === 'not-visible';
    if (tenant.kind === 'unknown') return false;
    const id = tenant.tenantId.toLowerCase();
    if (selector === 'home') return id === home;
    if (selector === 'other') return id !== home;
    return selector === id;
  });
  const actual =
    tenant.kind === 'visible'
      ? `${tenant.tenantId}${tenant.tenantId.toLowerCase() === home ? ' (home)' : ''}`
      : tenant.kind;
  return { field: 'requesterTenant', held, expected: `one of [${selectors.join(', ')}]`, actual };
}
