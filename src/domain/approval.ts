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
  readonly vaultId: string;
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
