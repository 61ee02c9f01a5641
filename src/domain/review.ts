import type { ApprovalRecord, ApprovalVote } from './approval.js';
import type { ReviewSettings, TimeoutAction } from './policy/rule.js';

/** Global review settings; a rule's own settings replace them field by field. */
export interface ReviewDefaults {
  readonly conversation?: string;
  readonly approvers: readonly string[];
  readonly remindAfterHours?: number;
  readonly expireAfterDays?: number;
  readonly timeoutAction: TimeoutAction;
  /** Different approvers an approval needs; 1 when absent. */
  readonly requiredApprovals?: number;
}

export interface ResolvedReview {
  readonly reviewConversationId?: string;
  readonly approvers: readonly string[];
  readonly requiredApprovals: number;
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
    requiredApprovals: rule?.requiredApprovals ?? defaults.requiredApprovals ?? 1,
    ...(remindAfterHours ? { remindAt: new Date(start + remindAfterHours * HOUR) } : {}),
    ...(expireAfterDays ? { expiresAt: new Date(start + expireAfterDays * DAY) } : {}),
    timeoutAction: rule?.timeoutAction ?? defaults.timeoutAction,
  };
}

/**
 * Separation of duties fails closed: when Linkgate cannot tell who requested a connection (the
 * event carried no claims, or only the sweep found it), the requester could be one of the
 * approvers, so one approval is never enough: it takes at least two different people.
 */
export const UNKNOWN_REQUESTER_QUORUM = 2;

/** How many different approvers must approve: the rule's number, raised when the requester is unknown. */
export function effectiveQuorum(record: ApprovalRecord): number {
  const required = record.requiredApprovals ?? 1;
  return record.requestedBy ? required : Math.max(required, UNKNOWN_REQUESTER_QUORUM);
}

/**
 * The approvals that count: each person once, never the requester. The requester can become
 * known after someone approved (the requester's own event arrives after the sweep found the
 * connection); an approval they gave before that is then dropped from the count.
 */
export function countedApprovals(record: ApprovalRecord): ApprovalVote[] {
  const requester = record.requestedBy?.toLowerCase();
  const seen = new Set<string>();
  const out: ApprovalVote[] = [];
  for (const vote of record.approvals ?? []) {
    const id = vote.id.toLowerCase();
    if (id === requester || seen.has(id)) continue;
    seen.add(id);
    out.push(vote);
  }
  return out;
}

/** Approvals still missing before the review may move to Approving. */
export function approvalsMissing(record: ApprovalRecord): number {
  return Math.max(0, effectiveQuorum(record) - countedApprovals(record).length);
}

export type HumanCheck =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly reason: 'not-approver' | 'self-approval' | 'already-approved' | 'reason-required' | 'not-on-alert' | 'alert-only' | 'self-review';
      readonly message: string;
    };

/** What a person may do from a card: decide a request (approve or reject), or keep an approval made outside Linkgate. */
export type HumanAction = 'approve' | 'reject' | 'keep';

/**
 * Who may decide. Approvers are Entra object IDs. Whoever raised the request (when the
 * event's claims named them) may not approve it, even when listed as an approver; they may
 * still reject (withdrawing their own request is harmless). Nobody counts twice towards a
 * quorum. A rejection is permanent, so it needs a reason.
 *
 * An out-of-band alert (a connection approved outside Linkgate) is never approved from a card:
 * it can only be rejected (disconnected) or kept. Keeping it is a four-eyes review, so neither
 * the requester nor whoever approved it outside Linkgate may keep it.
 */
export function checkHumanDecision(record: ApprovalRecord, objectId: string, action: HumanAction, comment: string | undefined): HumanCheck {
  const user = objectId.toLowerCase();
  if (record.alert && action === 'approve') {
    return {
      ok: false,
      reason: 'not-on-alert',
      message: 'This connection was approved outside Linkgate: it can only be rejected or kept here, never approved. Nothing was changed.',
    };
  }
  if (!record.alert && action === 'keep') {
    return { ok: false, reason: 'alert-only', message: 'Only a connection approved outside Linkgate can be kept. Nothing was changed.' };
  }
  if (!(record.approvers ?? []).some((approver) => approver.toLowerCase() === user)) {
    return { ok: false, reason: 'not-approver', message: 'Only the listed approvers can decide this request. Nothing was changed.' };
  }
  if (action === 'keep' && (record.requestedBy?.toLowerCase() === user || record.alert?.approvedBy?.toLowerCase() === user)) {
    return {
      ok: false,
      reason: 'self-review',
      message: `You ${record.requestedBy?.toLowerCase() === user ? 'requested' : 'approved'} this connection, so someone else must decide to keep it. Nothing was changed.`,
    };
  }
  if (action === 'approve' && record.requestedBy && record.requestedBy.toLowerCase() === user) {
    return { ok: false, reason: 'self-approval', message: 'You requested this endpoint, so someone else must approve it. Nothing was changed.' };
  }
  if (action === 'approve' && (record.approvals ?? []).some((vote) => vote.id.toLowerCase() === user)) {
    const missing = approvalsMissing(record);
    return {
      ok: false,
      reason: 'already-approved',
      message: `You already approved this request; it needs ${missing} more approval${missing === 1 ? '' : 's'} from other approvers. Nothing was changed.`,
    };
  }
  if (action === 'reject' && !comment?.trim()) {
    return { ok: false, reason: 'reason-required', message: 'A rejection is permanent and needs a reason: type one in the comment box. Nothing was changed.' };
  }
  return { ok: true };
}

export type ReviewWork = 'post' | 'remind' | 'expire';

/**
 * What the review timer owes an AwaitingReview record at `now`. Expiry wins over a reminder.
 * An out-of-band alert never expires: the connection is already approved, and only a person
 * rejects or keeps it.
 */
export function dueReviewWork(record: ApprovalRecord, now: Date): ReviewWork[] {
  if (record.state !== 'AwaitingReview') return [];
  if (!record.alert && record.expiresAt && record.expiresAt <= now) return ['expire'];
  const work: ReviewWork[] = [];
  if (record.reviewConversationId && !record.card?.activityId && (!record.card?.retryAt || record.card.retryAt <= now)) work.push('post');
  if (record.remindAt && record.remindAt <= now && !record.remindedAt && record.card?.activityId) work.push('remind');
  return work;
}
