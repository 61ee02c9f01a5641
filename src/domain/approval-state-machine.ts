import { InvalidTransitionError } from './errors.js';

/**
 * The life of one Pending connection inside Linkgate. Pure: no I/O, no clock of its own.
 *
 *   Detected ──claim──▶ Deciding ──decided(approve)──▶ Approving ──confirmed──▶ Approved
 *                          │     ──decided(reject)───▶ Rejecting ──confirmed──▶ Rejected
 *                          │     ──decided(review)───▶ AwaitingReview ──human(approve|reject)──▶ Approving|Rejecting
 *                          │     ──decided(ignore)───▶ Ignored                 └─expired(leave-pending)──▶ Expired
 *                          │                                                   └─expired(reject)──▶ Rejecting
 *   any open state ──vanished──▶ Vanished     (the connection is gone)
 *   any open state ──changedElsewhere──▶ DecidedElsewhere (someone else set the status first)
 *   AwaitingReview (out-of-band alert) ──kept──▶ Kept   (a person left an approval made elsewhere in place)
 *   Deciding|Approving|Rejecting ──failed──▶ Failed ──claim──▶ Deciding   (failed before a decision: decide again)
 *                                                   └──retry──▶ Approving|Rejecting (failed acting: keep the decision)
 *                                                   └──escalated──▶ AwaitingReview (gave up: a person decides)
 *
 * The in-flight states (Deciding, Approving, Rejecting) are held under a lease; when an
 * instance dies mid-step, another one may `resume` the step once the lease has run out.
 * Approving and rejecting are idempotent PUTs, so resuming them is safe.
 */
export const APPROVAL_STATES = [
  'Detected',
  'Deciding',
  'AwaitingReview',
  'Approving',
  'Rejecting',
  'Approved',
  'Rejected',
  'Ignored',
  'Expired',
  'Vanished',
  'DecidedElsewhere',
  'Failed',
  'Kept',
] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

export type ApprovalEvent =
  | { readonly type: 'claim' }
  | { readonly type: 'resume' }
  | { readonly type: 'decided'; readonly action: 'approve' | 'reject' | 'review' | 'ignore' }
  | { readonly type: 'human'; readonly action: 'approve' | 'reject' }
  | { readonly type: 'confirmed' }
  | { readonly type: 'vanished' }
  | { readonly type: 'changedElsewhere' }
  | { readonly type: 'failed' }
  /** A failed action is tried again with the decision it already has (a person's, or a rule's). */
  | { readonly type: 'retry'; readonly action: 'approve' | 'reject' }
  /** Linkgate stopped retrying by itself (LINKGATE_MAX_ATTEMPTS): the connection goes to a person. */
  | { readonly type: 'escalated' }
  /** A person left an out-of-band approval in place. */
  | { readonly type: 'kept' }
  /** The review ran out of time: leave the connection Pending, or reject it. */
  | { readonly type: 'expired'; readonly action: 'leave-pending' | 'reject' };

const TERMINAL: ReadonlySet<ApprovalState> = new Set([
  'Approved',
  'Rejected',
  'Ignored',
  'Expired',
  'Vanished',
  'DecidedElsewhere',
  'Kept',
]);
const IN_FLIGHT: ReadonlySet<ApprovalState> = new Set(['Deciding', 'Approving', 'Rejecting']);

export function isTerminal(state: ApprovalState): boolean {
  return TERMINAL.has(state);
}

/** States held under a lease while one instance works on them. */
export function isInFlight(state: ApprovalState): boolean {
  return IN_FLIGHT.has(state);
}

/** The status an in-flight action sets: Approving sets Approved, Rejecting (the only other acting state) Rejected. */
export function targetStatusOf(state: ApprovalState): 'Approved' | 'Rejected' {
  return state === 'Approving' ? 'Approved' : 'Rejected';
}

export function nextState(from: ApprovalState, event: ApprovalEvent): ApprovalState {
  const to = target(from, event);
  if (to === undefined) throw new InvalidTransitionError(from, describe(event));
  return to;
}

export function canApply(from: ApprovalState, event: ApprovalEvent): boolean {
  return target(from, event) !== undefined;
}

function target(from: ApprovalState, event: ApprovalEvent): ApprovalState | undefined {
  switch (event.type) {
    case 'claim':
      return from === 'Detected' || from === 'Failed' ? 'Deciding' : undefined;
    case 'resume':
      return isInFlight(from) ? from : undefined;
    case 'decided':
      if (from !== 'Deciding') return undefined;
      if (event.action === 'review') return 'AwaitingReview';
      if (event.action === 'ignore') return 'Ignored';
      return acting(event.action);
    case 'human':
      return from === 'AwaitingReview' ? acting(event.action) : undefined;
    case 'confirmed':
      if (from === 'Approving') return 'Approved';
      if (from === 'Rejecting') return 'Rejected';
      return undefined;
    case 'vanished':
      return isTerminal(from) ? undefined : 'Vanished';
    case 'changedElsewhere':
      return isTerminal(from) ? undefined : 'DecidedElsewhere';
    case 'failed':
      return isInFlight(from) ? 'Failed' : undefined;
    case 'retry':
      return from === 'Failed' ? acting(event.action) : undefined;
    case 'escalated':
      return from === 'Failed' ? 'AwaitingReview' : undefined;
    case 'kept':
      return from === 'AwaitingReview' ? 'Kept' : undefined;
    case 'expired':
      if (from !== 'AwaitingReview') return undefined;
      return event.action === 'leave-pending' ? 'Expired' : acting(event.action);
  }
}

/** The in-flight state for an approve or reject; anything else (untyped input) is refused. */
function acting(action: string): ApprovalState | undefined {
  if (action === 'approve') return 'Approving';
  if (action === 'reject') return 'Rejecting';
  return undefined;
}

function describe(event: ApprovalEvent): string {
  return 'action' in event ? `${event.type}(${event.action})` : event.type;
}
