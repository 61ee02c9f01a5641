import type { Rule } from './policy/rule.js';

/**
 * A rule change waiting for a second person (four-eyes). It names the rule as it was when the
 * change was proposed (`before`, with the version it was read at), so a confirmation applies
 * exactly what was reviewed: if the rule changed in between, the proposal is stale and is not applied.
 */
export const PROPOSAL_STATUSES = ['pending', 'confirmed', 'applied', 'declined', 'withdrawn', 'expired', 'stale'] as const;
export type ProposalStatus = (typeof PROPOSAL_STATUSES)[number];

export interface PersonRef {
  readonly objectId: string;
  readonly name: string;
}

export interface RuleProposal {
  readonly id: string;
  readonly ruleName: string;
  /** The rule when proposed; undefined when there was none. */
  readonly before?: Rule;
  /** The stored version (ETag) `before` was read at, or `absent`. */
  readonly beforeVersion: string;
  readonly after: Rule;
  /** Why it needs a second person. */
  readonly reason: string;
  readonly proposedBy: PersonRef;
  readonly proposedAt: Date;
  readonly expiresAt: Date;
  readonly status: ProposalStatus;
  readonly decidedBy?: PersonRef;
  readonly decidedAt?: Date;
  readonly comment?: string;
}

/** Pending or confirmed-but-not-yet-written: a confirmation may still apply it. */
export function isOpen(proposal: RuleProposal): boolean {
  return proposal.status === 'pending' || proposal.status === 'confirmed';
}
