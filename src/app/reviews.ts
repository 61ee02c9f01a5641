import type { ApprovalRecord, Versioned } from '../domain/approval.js';
import { isTerminal } from '../domain/approval-state-machine.js';
import type { Actor } from '../domain/audit.js';
import { statusFor } from '../domain/connection.js';
import { PermanentDeliveryError } from '../domain/errors.js';
import { portalResourceUrl } from '../domain/portal.js';
import { isGuid, parseConnectionId, parsePrivateEndpointId, parseResourceId, type ConnectionRef } from '../domain/resource-id.js';
import { checkHumanDecision, dueReviewWork } from '../domain/review.js';
import type { ApprovalsPort, AuditPort, Clock, ConnectionsPort, Logger } from './ports.js';
import type {
  CardAction,
  CardActionResult,
  Person,
  ReviewCardModel,
  ReviewCardView,
  ReviewNotifier,
  ReviewStatus,
  TenantBadge,
} from './review-ports.js';
import { truncate } from '../shared/text.js';
import { ActionTimeoutError, type ReviewHooks, type Workflow } from './workflow.js';

export interface ReviewDeps {
  readonly workflow: Workflow;
  readonly approvals: ApprovalsPort;
  readonly connections: ConnectionsPort;
  readonly audit: AuditPort;
  /** Absent when no Teams bot is configured: reviews wait without cards. */
  readonly notifier?: ReviewNotifier;
  readonly clock: Clock;
  readonly log: Logger;
  readonly homeTenantId: string;
  /** How long a click waits for the approve/reject to finish before answering "in progress". */
  readonly clickBudgetMs: number;
  /** How long a card-posting claim holds. */
  readonly claimMs: number;
}

export interface ReviewTimerReport {
  readonly posted: number;
  readonly reminded: number;
  readonly expired: number;
  readonly updated: number;
  readonly errors: readonly string[];
}

export type Reviews = ReturnType<typeof createReviews>;

/**
 * Human review: posting approval cards, first-decision-wins clicks, reminders, expiry, and
 * keeping every posted card in step with its connection. Decisions go through the same
 * state machine and action path as rules; the card is only a view.
 */
export function createReviews(deps: ReviewDeps) {
  const { approvals, audit, clock, workflow } = deps;

  const hooks: ReviewHooks = {
    async awaitingReview(record) {
      await post(record, false);
    },
    async cardStale(record) {
      // Bounded, because this can run inside a click whose answer Teams is waiting for. The record
      // keeps `cardStale` until the update lands, so the review timer repairs one that is cut short.
      const update = updateCard(record);
      update.catch((error: unknown) => deps.log.warn(`Card update for ${record.value.connectionName}: ${(error as Error).message}`));
      await Promise.race([update, new Promise<void>((resolve) => setTimeout(resolve, CARD_UPDATE_WAIT_MS).unref())]);
    },
  };
  workflow.attachReviews(hooks);

  /** Posts the shared card. `claim`: take the posting claim first (the timer does; the deciding instance already holds it). */
  async function post(record: Versioned<ApprovalRecord>, claim: boolean): Promise<boolean> {
    const { notifier } = deps;
    const conversationId = record.value.reviewConversationId;
    if (!notifier || !conversationId || record.value.cardActivityId) return false;
    let current = record;
    if (claim) {
      const claimed = await approvals.replace({ ...record.value, cardClaimUntil: new Date(clock.now().getTime() + deps.claimMs) }, record.etag);
      if (claimed.kind === 'conflict') return false;
      current = claimed.record;
    }
    let activityId: string;
    try {
      ({ activityId } = await notifier.post(conversationId, viewOf(current.value, 'shared')));
    } catch (error) {
      if (!isPermanent(error)) throw error;
      await cardRefused(current, `could not be posted to ${conversationId}`, error);
      return false;
    }
    // The message ID is kept first: without it a later run would post a second card.
    await patch(current, (value) => ({
      ...value,
      cardConversationId: conversationId,
      cardActivityId: activityId,
      cardPostedAt: clock.now(),
      cardState: 'AwaitingReview',
      cardClaimUntil: undefined,
      cardError: undefined,
      cardRetryAt: undefined,
      // A decision may have landed while the card was being posted.
      cardStale: value.state !== 'AwaitingReview' || undefined,
    }));
    await audit.append({
      kind: 'action',
      outcome: 'posted',
      actor: { type: 'system', id: 'teams' },
      summary: `Review card posted to Teams conversation ${conversationId}.`,
      ...context(current.value),
      detail: { conversationId, activityId, approvers: current.value.approvers ?? [] },
    });
    return true;
  }

  /**
   * Teams refused for good (unknown conversation, bot removed, message deleted). Say so once in
   * the audit, keep the reason on the record, and try again only after CARD_RETRY_MS, so a wrong
   * conversation in a rule is visible instead of failing silently every minute.
   */
  async function cardRefused(record: Versioned<ApprovalRecord>, what: string, error: unknown): Promise<void> {
    const message = (error as Error).message;
    deps.log.warn(`Review card for ${record.value.connectionName} ${what}: ${message}`);
    await patch(record, (value) => ({
      ...value,
      cardError: `${what}: ${message}`.slice(0, 1000),
      cardRetryAt: new Date(clock.now().getTime() + CARD_RETRY_MS),
      cardClaimUntil: undefined,
      cardStale: undefined,
    }));
    if (record.value.cardError) return; // already reported
    await audit.append({
      kind: 'error',
      outcome: 'failed',
      actor: { type: 'system', id: 'teams' },
      summary: `The review card ${what}: ${message}. Check the rule's review.conversation (linkgate teams channels). The request still waits for a decision.`,
      ...context(record.value),
      detail: { error: message },
    });
  }

  async function updateCard(record: Versioned<ApprovalRecord>): Promise<void> {
    const { notifier } = deps;
    const { cardConversationId, cardActivityId } = record.value;
    if (!notifier || !cardConversationId || !cardActivityId) return;
    try {
      await notifier.update(cardConversationId, cardActivityId, viewOf(record.value, 'shared'));
    } catch (error) {
      if (!isPermanent(error)) throw error;
      await cardRefused(record, 'could not be updated', error);
      return;
    }
    await patch(record, (value) => ({ ...value, cardState: record.value.state, cardStale: value.state !== record.value.state || undefined }));
  }

  async function handleCardAction(action: CardAction): Promise<CardActionResult> {
    let ref: ConnectionRef;
    try {
      ref = parseConnectionId(action.approvalKey);
    } catch {
      return { outcome: 'invalid', view: placeholder(action.approvalKey, 'This card names no request Linkgate knows; nothing was changed.') };
    }
    let record = await approvals.get(ref);
    if (!record) return { outcome: 'unknown', view: placeholder(ref.id, 'Linkgate has no record of this request; nothing was changed.') };

    const audience = audienceFor(record.value, action.user.id);
    if (action.generation !== record.value.generation) {
      return { outcome: 'stale', view: viewOf(record.value, audience, 'This card was for an earlier request on this connection; it shows the current one.') };
    }
    if (action.verb === 'refresh') return { outcome: 'refreshed', view: viewOf(record.value, audience) };

    if (record.value.state !== 'AwaitingReview') {
      const settled = await waitWhileInFlight(record);
      return { outcome: isTerminal(settled.value.state) ? 'already-decided' : 'in-progress', view: viewOf(settled.value, audienceFor(settled.value, action.user.id)) };
    }
    const check = checkHumanDecision(record.value, action.user.id, action.verb, action.comment);
    if (!check.ok) {
      await audit.append({
        kind: 'human',
        outcome: 'not-allowed',
        actor: userActor(action.user),
        summary: `${action.user.name} tried to ${action.verb}: ${check.message}`,
        ...context(record.value),
        detail: { reason: check.reason, verb: action.verb },
      });
      return { outcome: 'not-allowed', view: viewOf(record.value, audience, check.message) };
    }

    const comment = action.comment?.trim() ? truncate(action.comment.trim(), 500) : undefined;
    const verb = statusFor(action.verb);
    // Audited before the state change, like every other step: a crash can repeat an entry, never lose one.
    await audit.append({
      kind: 'human',
      outcome: action.verb,
      actor: userActor(action.user),
      summary: `${verb} by ${action.user.name}${comment ? `: ${comment}` : ''}`,
      ...context(record.value),
      detail: { comment: comment ?? null, tenantId: action.user.tenantId ?? null },
    });
    // One deadline for the whole click: Teams wants an answer within seconds.
    const signal = AbortSignal.timeout(deps.clickBudgetMs);
    const started = Date.now();
    let decided: Versioned<ApprovalRecord> | undefined;
    // Bookkeeping (a reminder, the card's message ID, who requested it) also moves the ETag
    // without changing the state; only another decision may make this click lose.
    for (let attempt = 0; attempt < 5 && !decided; attempt += 1) {
      decided = await workflow.transition(
        record,
        { type: 'human', action: action.verb },
        {
          decisionAction: action.verb,
          decidedBy: `user:${action.user.id.toLowerCase()}`,
          decidedByName: action.user.name,
          decisionComment: comment,
          statusDescription: truncate(`${verb} by ${action.user.name} via Linkgate${comment ? `: ${comment}` : '.'}`, 140),
          leaseUntil: workflow.leaseEnd(),
        },
      );
      if (decided) break;
      const fresh = await approvals.get(ref);
      if (!fresh || fresh.value.state !== 'AwaitingReview' || fresh.value.generation !== action.generation) {
        record = fresh ?? record;
        break;
      }
      const recheck = checkHumanDecision(fresh.value, action.user.id, action.verb, action.comment);
      if (!recheck.ok) return { outcome: 'not-allowed', view: viewOf(fresh.value, audienceFor(fresh.value, action.user.id), recheck.message) };
      record = fresh;
    }
    if (!decided) {
      // Someone else decided first: say so in the audit, and show the clicker what won.
      record = (await approvals.get(ref)) ?? record;
      const settled = await waitWhileInFlight(record);
      await audit.append({
        kind: 'human',
        outcome: 'duplicate',
        actor: userActor(action.user),
        summary: `${action.user.name}'s ${action.verb} came after ${settled.value.decidedByName ?? 'another decision'}'s and changed nothing.`,
        ...context(settled.value),
      });
      return { outcome: 'already-decided', view: viewOf(settled.value, audienceFor(settled.value, action.user.id)) };
    }

    // The action runs inside this request; a slow provisioning answers "in progress" and the
    // completion event or the sweep records the result (the record's lease is released for that).
    let outcome: CardActionResult['outcome'] = 'decided';
    let notice: string | undefined;
    try {
      let connection;
      try {
        connection = await deps.connections.get(ref, { signal });
      } catch (error) {
        // Not yet acted: record the failure so the decision is retried as it stands.
        await workflow.fail(decided, error, 'reading the connection');
        throw error;
      }
      const left = Math.max(1, deps.clickBudgetMs - (Date.now() - started));
      if (connection) await workflow.act(decided, connection, { timeoutMs: left, signal });
      else await workflow.settle(decided, undefined, verb);
    } catch (error) {
      outcome = 'in-progress';
      notice =
        error instanceof ActionTimeoutError
          ? 'Azure is still working on this change (it is slow or throttling); Linkgate finishes it and this card updates.'
          : `Azure has not accepted the change yet (${(error as Error).message}); Linkgate keeps your decision and tries again.`;
      deps.log.warn(`Acting on ${ref.name} after ${action.user.name}'s decision: ${(error as Error).message}`);
    }
    const latest = (await approvals.get(ref)) ?? decided;
    return { outcome, view: viewOf(latest.value, audienceFor(latest.value, action.user.id), notice) };
  }

  /** The loser of a race, or a late click, sees the settled card rather than "Approving…" when that takes a moment. */
  async function waitWhileInFlight(record: Versioned<ApprovalRecord>): Promise<Versioned<ApprovalRecord>> {
    let current = record;
    // Real time, not the workflow clock: this bounds how long a person waits for the card.
    const deadline = Date.now() + deps.clickBudgetMs;
    while ((current.value.state === 'Approving' || current.value.state === 'Rejecting') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      current = (await approvals.get(parseConnectionId(current.value.connectionId))) ?? current;
    }
    return current;
  }

  /** Posts owed cards, reminds, expires, and repairs cards that show an old state. */
  async function runTimer(): Promise<ReviewTimerReport> {
    const now = clock.now();
    const report = { posted: 0, reminded: 0, expired: 0, updated: 0, errors: [] as string[] };
    for (const record of await approvals.listForReviewTimer()) {
      try {
        if (record.value.cardStale) {
          await updateCard(record);
          report.updated += 1;
          continue;
        }
        for (const work of dueReviewWork(record.value, now)) {
          if (work === 'post') {
            if (record.value.cardClaimUntil && record.value.cardClaimUntil > now) continue;
            if (await post(record, true)) report.posted += 1;
          } else if (work === 'remind') {
            if (await remind(record)) report.reminded += 1;
          } else if (await expire(record)) {
            report.expired += 1;
          }
        }
      } catch (error) {
        report.errors.push(`${record.value.connectionName}: ${(error as Error).message}`);
        deps.log.warn(`Review timer: ${record.value.connectionName}: ${(error as Error).message}`);
      }
    }
    return report;
  }

  async function remind(record: Versioned<ApprovalRecord>): Promise<boolean> {
    const { notifier } = deps;
    const { cardConversationId, cardActivityId } = record.value;
    if (!notifier || !cardConversationId || !cardActivityId) return false;
    // Claim the reminder first, so two timer runs cannot both post it.
    const claimed = await approvals.replace({ ...record.value, remindedAt: clock.now(), updatedAt: clock.now() }, record.etag);
    if (claimed.kind === 'conflict') return false;
    const waiting = Math.round((clock.now().getTime() - record.value.detectedAt.getTime()) / 3_600_000);
    const text = `Reminder: the private endpoint request ${record.value.connectionName} has been waiting for a decision for about ${waiting} hour(s).${record.value.expiresAt ? ` It expires ${record.value.expiresAt.toISOString()}.` : ''}`;
    await notifier.reply(cardConversationId, cardActivityId, text);
    await audit.append({
      kind: 'action',
      outcome: 'reminded',
      actor: { type: 'system', id: 'reviews' },
      summary: text,
      ...context(record.value),
    });
    return true;
  }

  async function expire(record: Versioned<ApprovalRecord>): Promise<boolean> {
    const action = record.value.timeoutAction ?? 'leave-pending';
    const days = record.value.expiresAt ? Math.round((record.value.expiresAt.getTime() - record.value.detectedAt.getTime()) / 86_400_000) : 0;
    const expired = await workflow.transition(
      record,
      { type: 'expired', action },
      action === 'reject'
        ? {
            decisionAction: 'reject',
            decidedBy: 'system:reviews',
            decidedByName: 'Linkgate (review expired)',
            statusDescription: truncate(`Rejected by Linkgate: no decision within ${days} day(s).`, 140),
            leaseUntil: workflow.leaseEnd(),
          }
        : {},
    );
    // A click can win the race with expiry; only the winner writes the entry.
    if (!expired) return false;
    await audit.append({
      kind: 'result',
      outcome: 'expired',
      actor: { type: 'system', id: 'reviews' },
      summary: action === 'reject' ? `No decision within ${days} day(s): rejecting, as the rule says.` : `No decision within ${days} day(s): left Pending.`,
      ...context(record.value),
    });
    if (action === 'reject') {
      const ref = parseConnectionId(record.value.connectionId);
      const connection = await deps.connections.get(ref);
      await (connection ? workflow.act(expired, connection) : workflow.settle(expired, undefined, 'Rejected'));
    }
    return true;
  }

  /** Read-modify-write of fields the state machine does not own, retried on conflict. */
  async function patch(record: Versioned<ApprovalRecord>, change: (value: ApprovalRecord) => ApprovalRecord): Promise<void> {
    let current: Versioned<ApprovalRecord> | undefined = record;
    for (let attempt = 0; attempt < 5 && current; attempt += 1) {
      const written = await approvals.replace({ ...change(current.value), updatedAt: clock.now() }, current.etag);
      if (written.kind === 'replaced') return;
      current = await approvals.get(parseConnectionId(record.value.connectionId));
    }
    throw new Error(`Could not record card details for ${record.value.connectionName}: it kept changing`);
  }

  function viewOf(record: ApprovalRecord, audience: ReviewCardView['audience'], notice?: string): ReviewCardView {
    return { model: modelOf(record, deps.homeTenantId), status: statusOf(record), audience, ...(notice ? { notice } : {}) };
  }

  function placeholder(key: string, notice: string): ReviewCardView {
    const name = key.split('/').pop() ?? key;
    return {
      model: {
        approvalKey: key,
        generation: 0,
        resource: { id: '', type: '', typeName: 'Resource', noun: 'resource', name: 'unknown', resourceGroup: '', subscriptionId: '' },
        connectionName: name,
        requester: { badge: 'unknown' },
        rule: { summary: '' },
        requestedAt: clock.now(),
        links: { resource: 'https://portal.azure.com' },
        approverIds: [],
      },
      status: { state: 'failed', at: clock.now(), error: notice },
      audience: 'viewer',
      notice,
    };
  }

  return { handleCardAction, runTimer, hooks };
}

/** How long a state change waits for its card update before going on without it. */
const CARD_UPDATE_WAIT_MS = 3_000;

/** How long a card that Teams refused for good waits before the next try. */
const CARD_RETRY_MS = 60 * 60_000;

function isPermanent(error: unknown): boolean {
  return error instanceof PermanentDeliveryError;
}

/** The posted card's model, from the approval record alone. */
export function modelOf(record: ApprovalRecord, homeTenantId: string): ReviewCardModel {
  const resource = parseResourceId(record.resourceId);
  let endpointName: string | undefined;
  try {
    endpointName = record.privateEndpointId ? parsePrivateEndpointId(record.privateEndpointId).name : undefined;
  } catch {
    endpointName = undefined;
  }
  return {
    approvalKey: record.connectionId,
    generation: record.generation,
    resource: {
      id: resource.id,
      type: resource.type.type,
      typeName: resource.type.displayName,
      noun: resource.type.noun,
      name: resource.name,
      resourceGroup: resource.resourceGroup,
      subscriptionId: resource.subscriptionId,
    },
    connectionName: record.connectionName,
    requester: {
      ...(record.privateEndpointId ? { privateEndpointId: record.privateEndpointId } : {}),
      ...(endpointName ? { privateEndpointName: endpointName } : {}),
      ...(record.requesterSubscriptionId ? { subscriptionId: record.requesterSubscriptionId } : {}),
      ...(record.requesterTenantId && record.requesterTenantId !== 'not-visible' && record.requesterTenantId !== 'unknown' ? { tenantId: record.requesterTenantId } : {}),
      badge: badgeOf(record.requesterTenantId, homeTenantId),
      ...(record.requestedBy ? { objectId: record.requestedBy } : {}),
    },
    ...(record.requestMessage ? { requestMessage: record.requestMessage } : {}),
    rule: { ...(record.ruleName ? { name: record.ruleName } : {}), summary: record.decisionSummary ?? '' },
    requestedAt: record.detectedAt,
    links: {
      resource: portalResourceUrl(resource.id, { tenantId: homeTenantId, blade: resource.type.portalBlade }),
      ...(record.privateEndpointId
        ? { privateEndpoint: portalResourceUrl(record.privateEndpointId, isGuid(record.requesterTenantId ?? '') ? { tenantId: record.requesterTenantId } : {}) }
        : {}),
    },
    approverIds: record.approvers ?? [],
    ...(record.expiresAt ? { expiresAt: record.expiresAt } : {}),
    ...(record.timeoutAction ? { timeoutAction: record.timeoutAction } : {}),
  };
}

export function statusOf(record: ApprovalRecord): ReviewStatus {
  const by: Person = { id: (record.decidedBy ?? 'system').replace(/^user:/, ''), name: record.decidedByName ?? nameOfDecider(record.decidedBy) };
  const comment = record.decisionComment ? { comment: record.decisionComment } : {};
  switch (record.state) {
    case 'Approving':
      return { state: 'approving', by, ...comment };
    case 'Rejecting':
      return { state: 'rejecting', by, ...comment };
    case 'Approved':
      return { state: 'approved', by, at: record.updatedAt, ...comment };
    case 'Rejected':
      return { state: 'rejected', by, at: record.updatedAt, ...comment };
    case 'DecidedElsewhere':
      return { state: 'decided-elsewhere', status: record.observedStatus ?? 'changed', at: record.updatedAt };
    case 'Vanished':
      return { state: 'vanished', at: record.updatedAt };
    case 'Expired':
      return { state: 'expired', at: record.updatedAt, action: 'leave-pending' };
    case 'Failed':
      return { state: 'failed', at: record.updatedAt, error: record.lastError ?? 'unknown error' };
    default:
      return { state: 'awaiting' };
  }
}

function nameOfDecider(decidedBy: string | undefined): string {
  if (!decidedBy) return 'Linkgate';
  const [type, id] = decidedBy.split(':');
  return type === 'rule' ? `rule '${id}'` : (id ?? 'Linkgate');
}

function badgeOf(tenant: string | undefined, home: string): TenantBadge {
  if (!tenant || tenant === 'unknown') return 'unknown';
  if (tenant === 'not-visible') return 'not-visible';
  return tenant.toLowerCase() === home.toLowerCase() ? 'same-tenant' : 'external';
}

function audienceFor(record: ApprovalRecord, objectId: string): ReviewCardView['audience'] {
  const user = objectId.toLowerCase();
  if (record.requestedBy?.toLowerCase() === user) return 'requester';
  if ((record.approvers ?? []).includes(user) && record.state === 'AwaitingReview') return 'approver';
  return 'viewer';
}

function userActor(user: Person): Actor {
  return { type: 'user', id: user.id.toLowerCase(), name: user.name };
}

function context(record: ApprovalRecord) {
  return {
    resourceId: record.resourceId.toLowerCase(),
    connectionId: record.connectionId.toLowerCase(),
    ...(record.privateEndpointId ? { privateEndpointId: record.privateEndpointId } : {}),
    ...(record.requesterSubscriptionId ? { requesterSubscriptionId: record.requesterSubscriptionId } : {}),
    ...(record.requesterTenantId ? { requesterTenantId: record.requesterTenantId } : {}),
    ...(record.requestMessage ? { requestMessage: record.requestMessage } : {}),
    ...(record.ruleName ? { ruleName: record.ruleName } : {}),
  };
}
