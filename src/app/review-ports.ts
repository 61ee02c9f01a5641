import { LinkgateError } from '../domain/errors.js';

/**
 * What the human-review use cases need from the outside: a place to post approval cards
 * (Teams) and a store of conversations the bot was installed in. The card is described as a
 * view model here; adapters/teams turns it into an Adaptive Card.
 */

export type TenantBadge = 'same-tenant' | 'external' | 'not-visible' | 'unknown';

export interface ReviewCardModel {
  /** The connection's resource ID: identifies the approval. */
  readonly approvalKey: string;
  /** The approval generation the card was made for; a click on an older generation is stale. */
  readonly generation: number;
  /** The Private Link resource the endpoint wants to reach. `typeName` is for headings (`Storage account`), `noun` for sentences (`storage account`). */
  readonly resource: {
    readonly id: string;
    readonly type: string;
    readonly typeName: string;
    readonly noun: string;
    readonly name: string;
    readonly resourceGroup: string;
    readonly subscriptionId: string;
  };
  readonly connectionName: string;
  readonly requester: {
    readonly privateEndpointId?: string;
    readonly privateEndpointName?: string;
    readonly subscriptionId?: string;
    readonly tenantId?: string;
    readonly badge: TenantBadge;
    /** Object ID of who raised the request, when the event said so. */
    readonly objectId?: string;
  };
  readonly requestMessage?: string;
  /** The rule that sent the request to review, and why. */
  readonly rule: { readonly name?: string; readonly summary: string };
  readonly requestedAt: Date;
  readonly links: { readonly resource: string; readonly privateEndpoint?: string };
  /** Entra object IDs who may decide. */
  readonly approverIds: readonly string[];
  readonly expiresAt?: Date;
  readonly timeoutAction?: 'leave-pending' | 'reject';
  /** Different approvals an approval needs (1 when absent), the requester-unknown rule included. */
  readonly requiredApprovals?: number;
  /** Approvals given so far, oldest first. */
  readonly approvals?: readonly (Person & { readonly at: Date })[];
  /** True when Linkgate could not tell who requested the connection. */
  readonly requesterUnknown?: boolean;
  /** Present when Linkgate gave up acting by itself and a person must decide. */
  readonly failure?: { readonly during: string; readonly attempts: number; readonly error: string; readonly at: Date };
  /**
   * Present when the connection was approved outside Linkgate and a rule flagged it: the card is
   * an alert, and approvers may only reject (disconnect) or keep it.
   */
  readonly alert?: {
    /** Object ID of whoever approved, when Azure's events named them. */
    readonly approvedBy?: string;
    /** The connection's description as Azure reports it. */
    readonly description?: string;
    readonly observedAt: Date;
    readonly ruleName?: string;
    readonly summary: string;
  };
}

export type ReviewStatus =
  | { readonly state: 'awaiting' }
  | { readonly state: 'approving' | 'rejecting'; readonly by: Person; readonly comment?: string }
  | { readonly state: 'approved' | 'rejected' | 'kept'; readonly by: Person; readonly at: Date; readonly comment?: string }
  | { readonly state: 'decided-elsewhere'; readonly status: string; readonly at: Date }
  | { readonly state: 'vanished'; readonly at: Date }
  | { readonly state: 'expired'; readonly at: Date; readonly action: 'leave-pending' | 'reject' }
  | { readonly state: 'failed'; readonly at: Date; readonly error: string };

export interface Person {
  /** Entra object ID (lower case); for automatic outcomes the rule's name, or the Linkgate component's. */
  readonly id: string;
  readonly name: string;
}

/**
 * Who is looking decides what the card shows:
 * - `shared`: the message everyone sees in the channel (read-only; approvers get their view through refresh);
 * - `approver`: comment box and Approve / Reject buttons (Reject / Keep on an out-of-band alert);
 * - `requester`: read-only, says they cannot approve their own request;
 * - `voted`: read-only, for an approver who approved and waits for the others of the quorum;
 * - `viewer`: read-only, for anyone else.
 * `notice` is a line shown on top (e.g. "Only approvers can decide this request.").
 */
export interface ReviewCardView {
  readonly model: ReviewCardModel;
  readonly status: ReviewStatus;
  readonly audience: 'shared' | 'approver' | 'requester' | 'voted' | 'viewer';
  readonly notice?: string;
}

/**
 * Posting is proactive: to a stored conversation. Implementations pace per conversation and retry 429s.
 * A PermanentDeliveryError will fail the same way again (unknown conversation, deleted
 * message, bot removed); anything else may succeed later.
 */
export interface ReviewNotifier {
  post(conversationId: string, view: ReviewCardView): Promise<{ readonly activityId: string }>;
  update(conversationId: string, activityId: string, view: ReviewCardView): Promise<void>;
  /** A reply in the card's thread (reminders). */
  reply(conversationId: string, activityId: string, text: string): Promise<void>;
  /** A message of its own, no card (notices to the admins' conversation). */
  announce(conversationId: string, text: string): Promise<void>;
}

export interface ConversationReference {
  readonly conversationId: string;
  readonly conversationType: 'channel' | 'groupChat' | 'personal' | string;
  /** Channel, chat or team name where known. */
  readonly name?: string;
  readonly teamId?: string;
  readonly teamName?: string;
  readonly tenantId?: string;
  readonly serviceUrl: string;
  readonly botId?: string;
  readonly installedAt: Date;
  /** Set when the bot was removed; such a conversation is no longer a target. */
  readonly removedAt?: Date;
}

export interface ConversationStore {
  save(reference: ConversationReference): Promise<void>;
  markRemoved(conversationId: string, at: Date): Promise<void>;
  get(conversationId: string): Promise<ConversationReference | undefined>;
  list(): Promise<ConversationReference[]>;
}

/** What a click on a card carries, after the adapter has read the invoke activity. */
export interface CardAction {
  /** `keep` leaves an approval made outside Linkgate in place (out-of-band alerts only). */
  readonly verb: 'approve' | 'reject' | 'keep' | 'refresh';
  readonly approvalKey: string;
  readonly generation: number;
  readonly comment?: string;
  readonly user: Person & { readonly tenantId?: string };
}

/** What the invoke answers: the card this user should now see. */
export interface CardActionResult {
  readonly view: ReviewCardView;
  /** For the audit and logs: what happened. */
  readonly outcome: 'decided' | 'recorded' | 'refreshed' | 'not-allowed' | 'invalid' | 'already-decided' | 'stale' | 'unknown' | 'in-progress';
}

/**
 * A click the Teams boundary refused before it became a CardAction: it came from another tenant
 * (or named none), or its user has no Entra object ID Linkgate can check. Nothing is changed;
 * the review use case records it in the audit.
 */
export interface RefusedClick {
  readonly reason: 'foreign-tenant' | 'no-tenant' | 'invalid-object-id';
  /** What the clicker is told. */
  readonly message: string;
  readonly verb: string;
  readonly approvalKey: string;
  /** `from.aadObjectId` as sent (one line, capped); not a checked identity. */
  readonly claimedObjectId?: string;
  readonly name?: string;
  /** The tenants the activity named, in `conversation.tenantId` and `channelData.tenant.id`. */
  readonly tenants: { readonly conversation?: string; readonly channelData?: string };
}

/** Who answers a click on a card (the review use case). */
export interface CardActionHandler {
  handleCardAction(action: CardAction): Promise<CardActionResult>;
  /** Records a click refused at the boundary; changes nothing else. */
  refuseCardAction(refusal: RefusedClick): Promise<void>;
}

/**
 * Stands in for the review use case where it must be named before it exists: the Teams bot is
 * built first (the review use case posts through its notifier), and the relay is connected once,
 * right after. A click cannot arrive earlier, since nothing serves requests before the services
 * are built; if one did, it fails like any other unexpected error.
 */
export interface CardActionRelay extends CardActionHandler {
  connect(handler: CardActionHandler): void;
}

export function createCardActionRelay(): CardActionRelay {
  let target: CardActionHandler | undefined;
  return {
    connect(handler) {
      if (target) throw new LinkgateError('The card action relay is already connected');
      target = handler;
    },
    async handleCardAction(action) {
      if (!target) throw new LinkgateError('A card action arrived before the review use case was built');
      return target.handleCardAction(action);
    },
    async refuseCardAction(refusal) {
      if (!target) throw new LinkgateError('A card action arrived before the review use case was built');
      return target.refuseCardAction(refusal);
    },
  };
}
