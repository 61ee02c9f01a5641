import type { ApprovalState } from './approval-state-machine.js';
import type { RuleAction } from './policy/rule.js';

/**
 * Linkgate's record of one connection's workflow, kept in the `approvals` table.
 * `generation` grows when a connection name is reused for a new request after the
 * earlier one ended (deleted and requested again).
 */
export interface ApprovalRecord {
  readonly connectionId: string;
  readonly connectionName: string;
  readonly resourceId: string;
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
  /** `rule:NAME`, `user:OBJECTID` or `system:NAME`. */
  readonly decidedBy?: string;
  readonly statusDescription?: string;
  /** The status someone else set, when Linkgate found the connection decided elsewhere. */
  readonly observedStatus?: string;
  /** Human review: where the card goes and who may decide (resolved when the decision is made). */
  readonly reviewConversationId?: string;
  readonly approvers?: readonly string[];
  readonly remindAt?: Date;
  readonly remindedAt?: Date;
  readonly expiresAt?: Date;
  readonly timeoutAction?: 'leave-pending' | 'reject';
  /** The posted card, once posted. */
  readonly cardConversationId?: string;
  readonly cardActivityId?: string;
  readonly cardPostedAt?: Date;
  /** The state the posted card last showed, so a changed outcome is pushed to it once. */
  readonly cardState?: string;
  /** True while the posted card shows an older state than the record. */
  readonly cardStale?: boolean;
  /** Why the card could not be posted or updated, when Teams refused for good; and when to try again. */
  readonly cardError?: string;
  readonly cardRetryAt?: Date;
  /** Whoever holds this may post the card; keeps two instances from posting it twice. */
  readonly cardClaimUntil?: Date;
  /** A person's decision: display name and comment. */
  readonly decidedByName?: string;
  readonly decisionComment?: string;
  /** While in flight: the instant after which another instance may take the step over. */
  readonly leaseUntil?: Date;
  /** How many times an action failed in this generation. */
  readonly attempts: number;
  readonly lastError?: string;
  readonly detectedAt: Date;
  readonly updatedAt: Date;
}

/** A record together with the version (ETag) it was read at. */
export interface Versioned<T> {
  readonly value: T;
  readonly etag: string;
}
