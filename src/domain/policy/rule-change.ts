import type { Rule } from './rule.js';

/**
 * The four-eyes rule for rule changes: which changes a second person must confirm.
 *
 * A change needs a second person when, once in force, it could make Linkgate approve or reject
 * on its own, or change who may approve by hand:
 * - the rule ends up enabled, enforcing, with action approve or reject, and anything that decides
 *   what it matches or does differs from before (a new rule, other conditions, another priority,
 *   switching it from shadow to enforce or enabling it again);
 * - a review rule ends up rejecting on expiry (`review.timeoutAction: reject`) where it did not;
 * - the approvers or the number of approvals a review needs change, in any mode and whether the rule
 *   is enabled or not (otherwise a disabled rule's approvers could be changed at once and the rule
 *   enabled afterwards as an "unchanged" rule).
 * Shadow rules, disabling a rule, deleting one, and descriptions take effect at once: none of them
 * can make Linkgate approve or reject anything it would not have before.
 */
export interface ChangeReview {
  readonly needsSecondPerson: boolean;
  /** Why, in words for the audit and the API answer. */
  readonly reason: string;
}

export function reviewRuleChange(before: Rule | undefined, after: Rule | undefined): ChangeReview {
  if (!after) return { needsSecondPerson: false, reason: 'deleting a rule takes effect at once' };
  if (before && approversOf(before) !== approversOf(after)) {
    return { needsSecondPerson: true, reason: "it changes the rule's approvers or required approvals" };
  }
  if (!before && after.review && (after.review.approvers !== undefined || requiredApprovalsOf(after) !== undefined)) {
    return { needsSecondPerson: true, reason: 'it names who may approve by hand' };
  }
  if (rejectsOnExpiry(after) && !(before && rejectsOnExpiry(before) && sameDecisionPart(before, after))) {
    return { needsSecondPerson: true, reason: 'its reviews reject the connection when they expire' };
  }
  if (!decidesAlone(after)) {
    if (!after.enabled) return { needsSecondPerson: false, reason: 'a disabled rule decides nothing' };
    if (after.mode === 'shadow') return { needsSecondPerson: false, reason: 'a shadow rule only records what it would have done' };
    return { needsSecondPerson: false, reason: `a rule whose action is ${after.action} neither approves nor rejects` };
  }
  if (before && decidesAlone(before) && sameDecisionPart(before, after)) {
    return { needsSecondPerson: false, reason: 'only the description changes' };
  }
  if (after.appliesTo === 'out-of-band') return { needsSecondPerson: true, reason: 'it is an enforcing rule that will silence alerts about approvals made outside Linkgate' };
  return { needsSecondPerson: true, reason: `it is an enforcing rule that will ${after.action} connections on its own` };
}

/**
 * Enabled, enforcing, approve or reject: a rule that acts on a connection with no person involved.
 * An enforcing out-of-band `ignore` counts too: it silences the alert a person would otherwise get
 * about an approval made outside Linkgate.
 */
function decidesAlone(rule: Rule): boolean {
  if (!rule.enabled || rule.mode !== 'enforce') return false;
  if (rule.appliesTo === 'out-of-band') return rule.action === 'ignore';
  return rule.action === 'approve' || rule.action === 'reject';
}

function rejectsOnExpiry(rule: Rule): boolean {
  return rule.enabled && rule.mode === 'enforce' && rule.action === 'review' && rule.review?.timeoutAction === 'reject';
}

/** Everything but the description. */
function sameDecisionPart(a: Rule, b: Rule): boolean {
  return canonical({ ...a, description: null }) === canonical({ ...b, description: null });
}

function approversOf(rule: Rule): string {
  const approvers = rule.review?.approvers ? [...rule.review.approvers].map((id) => id.toLowerCase()).sort() : null;
  return JSON.stringify({ approvers, required: requiredApprovalsOf(rule) ?? null });
}

function requiredApprovalsOf(rule: Rule): unknown {
  return (rule.review as Record<string, unknown> | undefined)?.requiredApprovals;
}

/** JSON with object keys sorted, so two equal rules compare equal whatever order their fields came in. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}
