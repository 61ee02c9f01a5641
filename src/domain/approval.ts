import type { ApprovalState } from './approval-state-machine.js';
import type { Actor } from './audit.js';
import type { RuleAction } from './policy/rule.js';
import type { ConnectionRef } from './resource-id.js';

/**
 * Linkgate's record of one connection's workflow, kept in the `approvals` table: the request,
 * the decision and the lease that guards each step. What the review card shows is apart, in `card`.
 * `generation` grows when a connection name is reused for a new request after the
 * earlier one ended (deleted and requested again).
 */
export interface ApprovalRecord {
  /** The connection, parsed once: canonical `id`, lower-case `key`, its resource and name. */
  readonly connection: ConnectionRef;
  readonly state: ApprovalState;
  readonly generation: number;
  readonly privateEndpointId?: string;
  readonly requesterSubscriptionId?: string;
  /** Tenant GUID, `not-visible` or `unknown`. */
  readonly requesterTenantId?: string;
  /** Object ID of whoever raised the request, when the event's claims said so. */
  readonly requestedBy?: string;
  readonly requestMessage?: string;
  readonly decisionAction?: RuleAction;
  readonly ruleName?: string;
  readonly decisionSummary?: string;
  /** Who decided to approve or reject: a rule, a person (object ID and name) or Linkgate itself. */
  readonly decidedBy?: Actor;
  /** A person's comment with their decision. */
  readonly decisionComment?: string;
  readonly statusDescription?: string;
  /** The status someone else set, when Linkgate found the connection decided elsewhere. */
  readonly observedStatus?: string;
  /** Human review: where the card goes and who may decide (resolved when the decision is made). */
  readonly reviewConversationId?: string;
  readonly approvers?: readonly string[];
  /** How many different approvers the rule asks for (1 when absent); see effectiveQuorum in review.ts. */
  readonly requiredApprovals?: number;
  /** Approvals given so far while the review waits for its quorum, oldest first. */
  readonly approvals?: readonly ApprovalVote[];
  readonly remindAt?: Date;
  readonly remindedAt?: Date;
  readonly expiresAt?: Date;
  readonly timeoutAction?: 'leave-pending' | 'reject';
  /** The review card, from the first claim to post it. */
  readonly card?: CardState;
  /** While in flight: the instant after which another instance may take the step over. */
  readonly leaseUntil?: Date;
  /** How many times an action failed in this generation. */
  readonly attempts: number;
  readonly lastError?: string;
  /** After a failure: hints and sweeps before this instant do not try again (and spend no attempt). */
  readonly nextAttemptAt?: Date;
  /** Linkgate gave up acting on its own and sent the connection to a person; what failed. */
  readonly failure?: GiveUp;
  /**
   * The connection was approved without Linkgate's decision and a rule (or the default) flagged
   * it: the record waits for a person to reject it (disconnect) or keep it, never to approve it.
   */
  readonly alert?: OutOfBandAlert;
  readonly detectedAt: Date;
  readonly updatedAt: Date;
}

/** One person's approval on the way to a review's quorum. `id` is the lower-case Entra object ID. */
export interface ApprovalVote {
  readonly id: string;
  readonly name: string;
  readonly at: Date;
  readonly comment?: string;
}

/** What an out-of-band alert shows: who approved (when the event's claims said), when it was seen, and why it was flagged. */
export interface OutOfBandAlert {
  readonly kind: 'out-of-band';
  /** Object ID of whoever approved, when an event's claims named them. */
  readonly approvedBy?: string;
  /** The connection's description as Azure reports it (often what the approver typed). */
  readonly description?: string;
  readonly observedAt: Date;
  /** The rule that flagged it; absent when no rule matched and the default flagged it. */
  readonly ruleName?: string;
  readonly summary: string;
}

/** Why Linkgate stopped trying by itself: what it was doing, how often it tried, the last error. */
export interface GiveUp {
  readonly during: string;
  readonly attempts: number;
  readonly error: string;
  readonly at: Date;
}

/** The review card of one request: where it was posted, what it shows, and why it could not be. */
export interface CardState {
  readonly conversationId?: string;
  readonly activityId?: string;
  readonly postedAt?: Date;
  /** The state the posted card last showed, so a changed outcome is pushed to it once. */
  readonly shownState?: ApprovalState;
  /** True while the posted card shows an older state than the record. */
  readonly stale?: boolean;
  /** Why the card could not be posted or updated, when Teams refused for good; and when to try again. */
  readonly error?: string;
  readonly retryAt?: Date;
  /** Whoever holds this may post the card; keeps two instances from posting it twice. */
  readonly claimUntil?: Date;
}

/** A record together with the version (ETag) it was read at. */
export interface Versioned<T> {
  readonly value: T;
  readonly etag: string;
}
