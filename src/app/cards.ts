import type { ApprovalRecord, Versioned } from '../domain/approval.js';
import { systemActor, type Actor } from '../domain/audit.js';
import { PermanentDeliveryError } from '../domain/errors.js';
import { portalResourceUrl } from '../domain/portal.js';
import { isGuid, parsePrivateEndpointId } from '../domain/resource-id.js';
import { countedApprovals, effectiveQuorum } from '../domain/review.js';
import type { ApprovalsPort, AuditPort, Clock, Logger } from './ports.js';
import type { Person, ReviewCardModel, ReviewCardView, ReviewNotifier, ReviewStatus, TenantBadge } from './review-ports.js';
import { auditContext, withoutUndefined, type ReviewHooks } from './steps.js';

/**
 * The approval card: posting it once per request, keeping it in step with its record, and
 * saying so when Teams refuses it for good. The card is only a view of the record; the
 * decisions behind it are made by the steps (steps.ts).
 */

export interface CardDeps {
  readonly approvals: ApprovalsPort;
  readonly audit: AuditPort;
  /** Absent when no Teams bot is configured: reviews wait without cards. */
  readonly notifier?: ReviewNotifier;
  readonly clock: Clock;
  readonly log: Logger;
  readonly homeTenantId: string;
  /** How long a card-posting claim holds. */
  readonly claimMs: number;
}

/** How long a state change waits for its card update before going on without it. */
const CARD_UPDATE_WAIT_MS = 3_000;

/** How long a card that Teams refused for good waits before the next try. */
const CARD_RETRY_MS = 60 * 60_000;

/** What the steps call when a record starts waiting for review or its posted card falls behind. */
export function reviewHooks(deps: CardDeps): ReviewHooks {
  return {
    async awaitingReview(record) {
      await postCard(deps, record, false);
    },
    async cardStale(record) {
      // Bounded, because this can run inside a click whose answer Teams is waiting for. The record
      // keeps `cardStale` until the update lands, so the review timer repairs one that is cut short.
      const update = updateCard(deps, record);
      update.catch((error: unknown) => deps.log.warn(`Card update for ${record.value.connection.name}: ${(error as Error).message}`));
      await Promise.race([update, new Promise<void>((resolve) => setTimeout(resolve, CARD_UPDATE_WAIT_MS).unref())]);
    },
  };
}

/** Posts the shared card. `claim`: take the posting claim first (the timer does; the deciding instance already holds it). */
export async function postCard(deps: CardDeps, record: Versioned<ApprovalRecord>, claim: boolean): Promise<boolean> {
  const { notifier } = deps;
  const conversationId = record.value.reviewConversationId;
  if (!notifier || !conversationId || record.value.card?.activityId) return false;
  let current = record;
  if (claim) {
    const claimUntil = new Date(deps.clock.now().getTime() + deps.claimMs);
    const claimed = await deps.approvals.replace({ ...record.value, card: { ...record.value.card, claimUntil } }, record.etag);
    if (claimed.kind === 'conflict') return false;
    current = claimed.record;
  }
  let activityId: string;
  try {
    ({ activityId } = await notifier.post(conversationId, viewOf(deps, current.value, 'shared')));
  } catch (error) {
    if (!isPermanent(error)) throw error;
    await cardRefused(deps, current, `could not be posted to ${conversationId}`, error);
    return false;
  }
  // The message ID is kept first: without it a later run would post a second card.
  const postedAt = deps.clock.now();
  await patchRecord(deps, current, (value) => ({
    ...value,
    card: withoutUndefined({
      conversationId,
      activityId,
      postedAt,
      shownState: 'AwaitingReview' as const,
      // A decision may have landed while the card was being posted.
      stale: value.state !== 'AwaitingReview' || undefined,
    }),
  }));
  await deps.audit.append({
    kind: 'action',
    outcome: 'posted',
    actor: systemActor('teams'),
    summary: `Review card posted to Teams conversation ${conversationId}.`,
    ...auditContext(current.value),
    detail: { conversationId, activityId, approvers: current.value.approvers ?? [] },
  });
  return true;
}

/**
 * Teams refused for good (unknown conversation, bot removed, message deleted). Say so once in
 * the audit, keep the reason on the record, and try again only after CARD_RETRY_MS, so a wrong
 * conversation in a rule is visible instead of failing silently every minute.
 */
export async function cardRefused(deps: CardDeps, record: Versioned<ApprovalRecord>, what: string, error: unknown): Promise<void> {
  const message = (error as Error).message;
  deps.log.warn(`Review card for ${record.value.connection.name} ${what}: ${message}`);
  const retryAt = new Date(deps.clock.now().getTime() + CARD_RETRY_MS);
  await patchRecord(deps, record, (value) => ({
    ...value,
    card: withoutUndefined({ ...value.card, error: `${what}: ${message}`.slice(0, 1000), retryAt, claimUntil: undefined, stale: undefined }),
  }));
  if (record.value.card?.error) return; // already reported
  await deps.audit.append({
    kind: 'error',
    outcome: 'failed',
    actor: systemActor('teams'),
    summary: `The review card ${what}: ${message}. Check the rule's review.conversation (linkgate teams channels). The request still waits for a decision.`,
    ...auditContext(record.value),
    detail: { error: message },
  });
}

export async function updateCard(deps: CardDeps, record: Versioned<ApprovalRecord>): Promise<void> {
  const { notifier } = deps;
  const { conversationId, activityId } = record.value.card ?? {};
  if (!notifier || !conversationId || !activityId) return;
  try {
    await notifier.update(conversationId, activityId, viewOf(deps, record.value, 'shared'));
  } catch (error) {
    if (!isPermanent(error)) throw error;
    await cardRefused(deps, record, 'could not be updated', error);
    return;
  }
  const shownState = record.value.state;
  await patchRecord(deps, record, (value) => ({ ...value, card: withoutUndefined({ ...value.card, shownState, stale: value.state !== shownState || undefined }) }));
}

/** Read-modify-write of fields the state machine does not own, retried on conflict. */
export async function patchRecord(deps: Pick<CardDeps, 'approvals' | 'clock'>, record: Versioned<ApprovalRecord>, change: (value: ApprovalRecord) => ApprovalRecord): Promise<void> {
  let current: Versioned<ApprovalRecord> | undefined = record;
  for (let attempt = 0; attempt < 5 && current; attempt += 1) {
    const written = await deps.approvals.replace({ ...change(current.value), updatedAt: deps.clock.now() }, current.etag);
    if (written.kind === 'replaced') return;
    current = await deps.approvals.get(record.value.connection);
  }
  throw new Error(`Could not record card details for ${record.value.connection.name}: it kept changing`);
}

export function viewOf(deps: Pick<CardDeps, 'homeTenantId'>, record: ApprovalRecord, audience: ReviewCardView['audience'], notice?: string): ReviewCardView {
  return { model: modelOf(record, deps.homeTenantId), status: statusOf(record), audience, ...(notice ? { notice } : {}) };
}

export function placeholder(deps: Pick<CardDeps, 'clock'>, key: string, notice: string): ReviewCardView {
  const name = key.split('/').pop() ?? key;
  return {
    model: {
      approvalKey: key,
      generation: 0,
      resource: { id: '', type: '', typeName: 'Resource', noun: 'resource', name: 'unknown', resourceGroup: '', subscriptionId: '' },
      connectionName: name,
      requester: { badge: 'unknown' },
      rule: { summary: '' },
      requestedAt: deps.clock.now(),
      links: { resource: 'https://portal.azure.com' },
      approverIds: [],
    },
    status: { state: 'failed', at: deps.clock.now(), error: notice },
    audience: 'viewer',
    notice,
  };
}

function isPermanent(error: unknown): boolean {
  return error instanceof PermanentDeliveryError;
}

/** The posted card's model, from the approval record alone. */
export function modelOf(record: ApprovalRecord, homeTenantId: string): ReviewCardModel {
  const resource = record.connection.resource;
  let endpointName: string | undefined;
  try {
    endpointName = record.privateEndpointId ? parsePrivateEndpointId(record.privateEndpointId).name : undefined;
  } catch {
    endpointName = undefined;
  }
  return {
    approvalKey: record.connection.id,
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
    connectionName: record.connection.name,
    requester: {
      ...(record.privateEndpointId ? { privateEndpointId: record.privateEndpointId } : {}),
      ...(endpointName ? { privateEndpointName: endpointName } : {}),
      ...(record.requesterSubscriptionId ? { subscriptionId: record.requesterSubscriptionId } : {}),
      ...(record.requesterTenantId && record.requesterTenantId !== 'not-visible' && record.requesterTenantId !== 'unknown' ? { tenantId: record.requesterTenantId } : {}),
      badge: badgeOf(record.requesterTenantId, homeTenantId),
      ...(record.requestedBy ? { objectId: record.requestedBy } : {}),
    },
    ...(record.requestMessage ? { requestMessage: record.requestMessage } : {}),
    rule: {
      ...(record.ruleName ? { name: record.ruleName } : {}),
      // A request Linkgate gave up on before any rule decided it has no summary of its own.
      summary: record.decisionSummary ?? (record.failure ? 'Linkgate could not decide this request by itself.' : ''),
    },
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
    requiredApprovals: effectiveQuorum(record),
    approvals: countedApprovals(record).map((vote) => ({ id: vote.id, name: vote.name, at: vote.at })),
    requesterUnknown: !record.requestedBy,
    ...(record.failure ? { failure: record.failure } : {}),
    ...(record.alert
      ? {
          alert: withoutUndefined({
            approvedBy: record.alert.approvedBy,
            description: record.alert.description,
            observedAt: record.alert.observedAt,
            ruleName: record.alert.ruleName,
            summary: record.alert.summary,
          }),
        }
      : {}),
  };
}

export function statusOf(record: ApprovalRecord): ReviewStatus {
  const by: Person = { id: record.decidedBy?.id ?? 'system', name: record.decidedBy?.name ?? nameOfDecider(record.decidedBy) };
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
    case 'Kept':
      return { state: 'kept', by, at: record.updatedAt, ...comment };
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

/** How a card names a decider that has no display name of its own. */
function nameOfDecider(decidedBy: Actor | undefined): string {
  if (!decidedBy) return 'Linkgate';
  return decidedBy.type === 'rule' ? `rule '${decidedBy.id}'` : decidedBy.id;
}

function badgeOf(tenant: string | undefined, home: string): TenantBadge {
  if (!tenant || tenant === 'unknown') return 'unknown';
  if (tenant === 'not-visible') return 'not-visible';
  return tenant === home ? 'same-tenant' : 'external';
}

/** Object IDs arrive lower-cased from their boundaries (the Teams bot, the event's claims, the configuration). */
export function audienceFor(record: ApprovalRecord, objectId: string): ReviewCardView['audience'] {
  if (record.requestedBy === objectId) return 'requester';
  if (record.state === 'AwaitingReview' && (record.approvals ?? []).some((vote) => vote.id === objectId)) return 'voted';
  if ((record.approvers ?? []).includes(objectId) && record.state === 'AwaitingReview') return 'approver';
  return 'viewer';
}

