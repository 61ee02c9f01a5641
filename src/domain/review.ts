import type { ApprovalRecord } from './approval.js';
import type { ReviewSettings, TimeoutAction } from './policy/rule.js';

/** Global review settings; a rule's own settings replace them field by field. */
export interface ReviewDefaults {
  readonly conversation?: string;
  readonly approvers: readonly string[];
  readonly remindAfterHours?: number;
  readonly expireAfterDays?: number;
  readonly timeoutAction: TimeoutAction;
}

export interface ResolvedReview {
  readonly reviewConversationId?: string;
  readonly approvers: readonly string[];
  readonly remindAt?: Date;
  readonly expiresAt?: Date;
  readonly timeoutAction: TimeoutAction;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export function resolveReview(rule: ReviewSettings | undefined, defaults: ReviewDefaults, decidedAt: Date): ResolvedReview {
  const conversation = rule?.conversation ?? defaults.conversation;
  const approvers = (rule?.approvers ?? defaults.approvers).map((id) => id.toLowerCase());
  const remindAfterHours = rule?.remindAfterHours ?? defaults.remindAfterHours;
  const expireAfterDays = rule?.expireAfterDays ?? defaults.expireAfterDays;
  const start = decidedAt.getTime();
  return {
    ...(conversation ? { reviewConversationId: conversation } : {}),
    approvers: [...new Set(approvers)],
    ...(remindAfterHours ? { remindAt: new Date(start + remindAfterHours * HOUR) } : {}),
    ...(expireAfterDays ? { expiresAt: new Date(start + expireAfterDays * DAY) } : {}),
    timeoutAction: rule?.timeoutAction ?? defaults.timeoutAction,
  };
}

export type HumanCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'not-approver' | 'self-approval' | 'reason-required'; readonly message: string };

/**
 * Who may decide. Approvers are Entra object IDs. Whoever raised the request (when the
 * event's claims named them) may not approve it, even when listed as an approver; they may
 * still reject (withdrawing their own request is harmless). A rejection is permanent, so it
 * needs a reason.
 */
export function checkHumanDecision(record: ApprovalRecord, objectId: string, action: 'approve' | 'reject', comment: string | undefined): HumanCheck {
  const user = objectId.toLowerCase();
  if (!(record.approvers ?? []).some((approver) => approver.toLowerCase() === user)) {
    return { ok: false, reason: 'not-approver', message: 'Only the listed approvers can decide this request. Nothing was changed.' };
  }
  if (action === 'approve' && record.requestedBy && record.requestedBy.toLowerCase() === user) {
    return { ok: false, reason: 'self-approval', message: 'You requested this endpoint, so someone else must approve it. Nothing was changed.' };
  }
  if (action === 'reject' && !comment?.trim()) {
    return { ok: false, reason: 'reason-required', message: 'A rejection is permanent and needs a reason: type one in the comment box. Nothing was changed.' };
  }
  return { ok: true };
}

export type ReviewWork = 'post' | 'remind' | 'expire';

/** What the review timer owes an AwaitingReview record at `now`. Expiry wins over a reminder. */
export function dueReviewWork(record: ApprovalRecord, now: Date): ReviewWork[] {
  if (record.state !== 'AwaitingReview') return [];
  if (record.expiresAt && record.expiresAt <= now) return ['expire'];
  const work: ReviewWork[] = [];
  if (record.reviewConversationId && !record.card?.activityId && (!record.card?.retryAt || record.card.retryAt <= now)) work.push('post');
  if (record.remindAt && record.remindAt <= now && !record.remindedAt && record.card?.activityId) work.push('remind');
  return work;
}
