import type { ApprovalRecord, ApprovalVote, Versioned } from '../domain/approval.js';
import { isTerminal } from '../domain/approval-state-machine.js';
import { systemActor, userActor } from '../domain/audit.js';
import { statusFor } from '../domain/connection.js';
import { parseConnectionId, type ConnectionRef } from '../domain/resource-id.js';
import { approvalsMissing, checkHumanDecision, countedApprovals, dueReviewWork, effectiveQuorum } from '../domain/review.js';
import { truncate } from '../shared/text.js';
import { audienceFor, placeholder, postCard, updateCard, viewOf, type CardDeps } from './cards.js';
import type { CardAction, CardActionResult, RefusedClick } from './review-ports.js';
import { act, auditContext, claim, fail, foundElsewhere, notifyReviews, sameEndpoint, settle, transition, undecidedStatus, type StepDeps } from './steps.js';

export interface ReviewDeps extends StepDeps, CardDeps {
  /** How long a click waits for the approve/reject to finish before answering "in progress". */
  readonly clickBudgetMs: number;
}

export interface ReviewTimerReport {
  readonly posted: number;
  readonly reminded: number;
  readonly expired: number;
  readonly updated: number;
  readonly errors: readonly string[];
}

export interface Reviews {
  handleCardAction(action: CardAction): Promise<CardActionResult>;
  refuseCardAction(refusal: RefusedClick): Promise<void>;
  runTimer(): Promise<ReviewTimerReport>;
}

/**
 * Human review: first-decision-wins clicks, reminders and expiry. Decisions go through the same
 * steps (steps.ts) as a rule's; posting and updating the card is cards.ts.
 */
export function createReviews(deps: ReviewDeps): Reviews {
  return {
    handleCardAction: (action) => handleCardAction(deps, action),
    refuseCardAction: (refusal) => refuseCardAction(deps, refusal),
    runTimer: () => runTimer(deps),
  };
}

export async function handleCardAction(deps: ReviewDeps, action: CardAction): Promise<CardActionResult> {
  let ref: ConnectionRef;
  try {
    ref = parseConnectionId(action.approvalKey);
  } catch {
    return { outcome: 'invalid', view: placeholder(deps, action.approvalKey, 'This card names no request Linkgate knows; nothing was changed.') };
  }
  const record = await deps.approvals.get(ref);
  if (!record) return { outcome: 'unknown', view: placeholder(deps, ref.id, 'Linkgate has no record of this request; nothing was changed.') };

  const audience = audienceFor(record.value, action.user.id);
  // Nothing approves an out-of-band alert, whatever card the click came from and whatever state
  // the record is in; and only an alert can be kept.
  if ((record.value.alert && action.verb === 'approve') || (!record.value.alert && action.verb === 'keep')) {
    const refused = checkHumanDecision(record.value, action.user.id, action.verb, action.comment);
    if (!refused.ok) {
      await auditNotAllowed(deps, record.value, action, refused.reason, refused.message);
      return { outcome: 'not-allowed', view: viewOf(deps, record.value, audience, refused.message) };
    }
  }

  if (action.generation !== record.value.generation) {
    return { outcome: 'stale', view: viewOf(deps, record.value, audience, 'This card was for an earlier request on this connection; it shows the current one.') };
  }
  if (action.verb === 'refresh') return { outcome: 'refreshed', view: viewOf(deps, record.value, audience) };
  const verb = action.verb;
  if (record.value.state !== 'AwaitingReview') {
    const settled = await waitWhileInFlight(deps, record);
    return { outcome: isTerminal(settled.value.state) ? 'already-decided' : 'in-progress', view: viewOf(deps, settled.value, audienceFor(settled.value, action.user.id)) };
  }
  const check = checkHumanDecision(record.value, action.user.id, verb, action.comment);
  if (!check.ok) {
    await auditNotAllowed(deps, record.value, action, check.reason, check.message);
    return { outcome: 'not-allowed', view: viewOf(deps, record.value, audience, check.message) };
  }
  if (verb === 'keep') return keepAlert(deps, record, { ...action, verb });
  return decide(deps, record, { ...action, verb });
}

/** An approve or a reject by an approver who may make it: first decision wins, then the action. */
async function decide(deps: ReviewDeps, initial: Versioned<ApprovalRecord>, action: CardAction & { readonly verb: 'approve' | 'reject' }): Promise<CardActionResult> {
  let record = initial;
  const ref = record.value.connection;
  const comment = action.comment?.trim() ? truncate(action.comment.trim(), 500) : undefined;
  const verb = statusFor(action.verb);
  const quorum = effectiveQuorum(record.value);
  // Audited before the state change, like every other step: a crash can repeat an entry, never lose one.
  await deps.audit.append({
    kind: 'human',
    outcome: action.verb,
    actor: userActor(action.user.id, action.user.name),
    summary:
      action.verb === 'approve' && quorum > 1
        ? `Approval by ${action.user.name}, one of the ${quorum} different approvals this request needs${comment ? `: ${comment}` : ''}`
        : `${verb} by ${action.user.name}${record.value.alert ? ' (disconnecting a connection approved outside Linkgate)' : ''}${comment ? `: ${comment}` : ''}`,
    ...auditContext(record.value),
    detail: { comment: comment ?? null, tenantId: action.user.tenantId ?? null, requiredApprovals: quorum, approvalsBefore: countedApprovals(record.value).map((vote) => vote.id) },
  });
  // One deadline for the whole click: Teams wants an answer within seconds.
  const signal = AbortSignal.timeout(deps.clickBudgetMs);
  const started = Date.now();
  const vote: ApprovalVote = { id: action.user.id, name: action.user.name, at: deps.clock.now(), ...(comment ? { comment } : {}) };
  let decided: Versioned<ApprovalRecord> | undefined;
  let recorded: Versioned<ApprovalRecord> | undefined;
  // Every step is one ETag-conditioned write: an approval short of the quorum adds itself to
  // the record's list, and the approval that reaches it also claims Approving in the same write.
  // A conflict means someone else wrote first (another approval, a decision, or bookkeeping such
  // as a reminder or the card's message ID): read again, check again, and count again, so racing
  // approvals are neither lost nor counted twice. Each conflict is another writer's progress,
  // which bounds the loop by the number of writers.
  for (let attempt = 0; attempt < MAX_CLICK_WRITES; attempt += 1) {
    const approvals = [...(record.value.approvals ?? []), vote];
    if (action.verb === 'approve' && approvalsMissing(record.value) > 1) {
      const card = record.value.card;
      const written = await deps.approvals.replace(
        // The posted card shows who approved so far: mark it stale so it is updated for everyone.
        { ...record.value, approvals, ...(card?.activityId ? { card: { ...card, stale: true } } : {}), updatedAt: deps.clock.now() },
        record.etag,
      );
      if (written.kind === 'replaced') {
        recorded = written.record;
        break;
      }
    } else {
      decided = await claim(
        deps,
        record,
        { type: 'human', action: action.verb },
        {
          decisionAction: action.verb,
          decidedBy: userActor(action.user.id, action.user.name),
          decisionComment: comment,
          statusDescription: describeHumanDecision(action.verb, action.verb === 'approve' ? countedApprovals({ ...record.value, approvals }) : [vote], comment),
          ...(action.verb === 'approve' ? { approvals } : {}),
        },
      );
      if (decided) break;
    }
    const fresh = await deps.approvals.get(ref);
    if (!fresh || fresh.value.state !== 'AwaitingReview' || fresh.value.generation !== action.generation) {
      record = fresh ?? record;
      break;
    }
    const recheck = checkHumanDecision(fresh.value, action.user.id, action.verb, action.comment);
    if (!recheck.ok) {
      await auditNotAllowed(deps, fresh.value, action, recheck.reason, recheck.message);
      return { outcome: 'not-allowed', view: viewOf(deps, fresh.value, audienceFor(fresh.value, action.user.id), recheck.message) };
    }
    record = fresh;
  }
  if (recorded) {
    await notifyReviews(deps, 'cardStale', recorded);
    const latest = (await deps.approvals.get(ref)) ?? recorded;
    const missing = approvalsMissing(latest.value);
    const notice = `Your approval is recorded. It needs ${missing} more approval${missing === 1 ? '' : 's'} from other approvers; nothing is changed in Azure until then.`;
    return { outcome: 'recorded', view: viewOf(deps, latest.value, audienceFor(latest.value, action.user.id), notice) };
  }
  if (!decided) {
    // Someone else decided first: say so in the audit, and show the clicker what won.
    return cameSecond(deps, (await deps.approvals.get(ref)) ?? record, action);
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
      await fail(deps, decided, error, 'reading the connection');
      throw error;
    }
    const left = Math.max(1, deps.clickBudgetMs - (Date.now() - started));
    let acted;
    if (connection && decided.value.alert && sameEndpoint(decided.value, connection) && connection.status !== undecidedStatus(decided.value)) {
      // Approved outside Linkgate, and since then rejected, disconnected or changed by someone
      // else: nothing to disconnect, and no PUT. What was found is recorded.
      acted = await foundElsewhere(deps, decided, connection);
    } else {
      acted = connection ? await act(deps, decided, connection, { timeoutMs: left, signal }) : await settle(deps, decided, undefined, verb);
    }
    if (acted === 'in-progress') {
      outcome = 'in-progress';
      notice = 'Azure is still working on this change (it is slow or throttling); Linkgate finishes it and this card updates.';
    }
  } catch (error) {
    outcome = 'in-progress';
    notice = `Azure has not accepted the change yet (${(error as Error).message}); Linkgate keeps your decision and tries again.`;
    deps.log.warn(`Acting on ${ref.name} after ${action.user.name}'s decision: ${(error as Error).message}`);
  }
  const latest = (await deps.approvals.get(ref)) ?? decided;
  return { outcome, view: viewOf(deps, latest.value, audienceFor(latest.value, action.user.id), notice) };
}

/**
 * Keep: an approver leaves an approval made outside Linkgate in place. Nothing is sent to Azure;
 * the connection is read first, and when it no longer reads Approved from the same endpoint
 * (rejected or disconnected elsewhere, deleted, or the name reused) what was found is recorded
 * instead. The transition to Kept is one ETag-conditioned write, so of two clicks (keep and
 * reject, or two keeps) exactly one wins and the other changes nothing.
 */
async function keepAlert(deps: ReviewDeps, initial: Versioned<ApprovalRecord>, action: CardAction & { readonly verb: 'keep' }): Promise<CardActionResult> {
  let record = initial;
  const ref = record.value.connection;
  const comment = action.comment?.trim() ? truncate(action.comment.trim(), 500) : undefined;
  const signal = AbortSignal.timeout(deps.clickBudgetMs);
  const connection = await deps.connections.get(ref, { signal });
  // A decision may have landed while the connection was read: then this click came second.
  const current = await deps.approvals.get(ref);
  if (current?.value.state !== 'AwaitingReview' || current.value.generation !== action.generation) return cameSecond(deps, current ?? record, action);
  record = current;
  if (!connection || connection.status !== undecidedStatus(record.value) || !sameEndpoint(record.value, connection)) {
    const found = connection && sameEndpoint(record.value, connection) ? connection : undefined;
    await foundElsewhere(deps, record, found);
    const latest = (await deps.approvals.get(ref)) ?? record;
    const notice = found
      ? `The connection now reads ${found.rawStatus ?? 'changed'}: someone changed it outside Linkgate, so there is nothing to keep. Nothing was changed.`
      : 'The connection is gone, so there is nothing to keep. Nothing was changed.';
    return { outcome: 'already-decided', view: viewOf(deps, latest.value, audienceFor(latest.value, action.user.id), notice) };
  }
  // Audited before the state change, like every other step.
  await deps.audit.append({
    kind: 'human',
    outcome: 'kept',
    actor: userActor(action.user.id, action.user.name),
    summary: `Kept by ${action.user.name}: the approval made outside Linkgate stays in place${comment ? `: ${comment}` : '.'}`,
    ...auditContext(record.value),
    detail: { comment: comment ?? null, tenantId: action.user.tenantId ?? null, status: connection.rawStatus ?? null, approvedBy: record.value.alert?.approvedBy ?? null },
  });
  for (let attempt = 0; attempt < MAX_CLICK_WRITES; attempt += 1) {
    const kept = await transition(deps, record, { type: 'kept' }, { decidedBy: userActor(action.user.id, action.user.name), decisionComment: comment, leaseUntil: undefined });
    if (kept) return { outcome: 'decided', view: viewOf(deps, kept.value, audienceFor(kept.value, action.user.id)) };
    // Someone else wrote first: a decision, or bookkeeping such as a reminder or the card's message ID.
    const fresh = await deps.approvals.get(ref);
    if (!fresh || fresh.value.state !== 'AwaitingReview' || fresh.value.generation !== action.generation) {
      record = fresh ?? record;
      break;
    }
    const recheck = checkHumanDecision(fresh.value, action.user.id, 'keep', action.comment);
    if (!recheck.ok) {
      await auditNotAllowed(deps, fresh.value, action, recheck.reason, recheck.message);
      return { outcome: 'not-allowed', view: viewOf(deps, fresh.value, audienceFor(fresh.value, action.user.id), recheck.message) };
    }
    record = fresh;
  }
  return cameSecond(deps, record, action);
}

/** Someone else decided first: say so in the audit, and show the clicker what won. */
async function cameSecond(deps: ReviewDeps, record: Versioned<ApprovalRecord>, action: CardAction): Promise<CardActionResult> {
  const settled = await waitWhileInFlight(deps, record);
  await deps.audit.append({
    kind: 'human',
    outcome: 'duplicate',
    actor: userActor(action.user.id, action.user.name),
    summary: `${action.user.name}'s ${action.verb} came after ${settled.value.decidedBy?.name ?? 'another decision'}'s and changed nothing.`,
    ...auditContext(settled.value),
  });
  return { outcome: 'already-decided', view: viewOf(deps, settled.value, audienceFor(settled.value, action.user.id)) };
}

/**
 * A click the Teams boundary refused (another tenant, no tenant, no usable object ID): audited
 * as `not-allowed` under the request it names, when Linkgate knows it, and nothing else changes.
 */
export async function refuseCardAction(deps: ReviewDeps, refusal: RefusedClick): Promise<void> {
  let record: Versioned<ApprovalRecord> | undefined;
  try {
    record = await deps.approvals.get(parseConnectionId(refusal.approvalKey));
  } catch {
    record = undefined;
  }
  const who = refusal.name ?? refusal.claimedObjectId ?? 'someone';
  await deps.audit.append({
    kind: 'human',
    outcome: 'not-allowed',
    // The object ID is what the click claimed, not a checked identity; it is kept for the record.
    actor: { type: 'user', id: refusal.claimedObjectId ?? 'unknown', ...(refusal.name ? { name: refusal.name } : {}) },
    summary: `A click to ${refusal.verb} by ${who} was refused: ${refusal.message}`,
    ...(record ? auditContext(record.value) : {}),
    detail: { reason: refusal.reason, verb: refusal.verb, approvalKey: refusal.approvalKey, tenants: refusal.tenants },
  });
}

/**
 * Clicks that write before giving up on a busy record. Each lost write means another writer
 * made progress, and a review has at most a few dozen approvers.
 */
const MAX_CLICK_WRITES = 50;

async function auditNotAllowed(deps: ReviewDeps, record: ApprovalRecord, action: CardAction, reason: string, message: string): Promise<void> {
  await deps.audit.append({
    kind: 'human',
    outcome: 'not-allowed',
    actor: userActor(action.user.id, action.user.name),
    summary: `${action.user.name} tried to ${action.verb}: ${message}`,
    ...auditContext(record),
    detail: { reason, verb: action.verb },
  });
}

/** The description the requester sees in Azure: who decided (every approver of a quorum), and the comment. */
export function describeHumanDecision(verb: 'approve' | 'reject', people: readonly ApprovalVote[], comment: string | undefined): string {
  const names = people.map((person) => person.name);
  const who = names.length <= 1 ? (names[0] ?? 'a reviewer') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1] ?? ''}`;
  return truncate(`${statusFor(verb)} by ${who} via Linkgate${comment ? `: ${comment}` : '.'}`, 140);
}

/** The loser of a race, or a late click, sees the settled card rather than "Approving…" when that takes a moment. */
export async function waitWhileInFlight(deps: ReviewDeps, record: Versioned<ApprovalRecord>): Promise<Versioned<ApprovalRecord>> {
  let current = record;
  // Real time, not the workflow clock: this bounds how long a person waits for the card.
  const deadline = Date.now() + deps.clickBudgetMs;
  while ((current.value.state === 'Approving' || current.value.state === 'Rejecting') && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    current = (await deps.approvals.get(current.value.connection)) ?? current;
  }
  return current;
}

/** Posts owed cards, reminds, expires, and repairs cards that show an old state. */
export async function runTimer(deps: ReviewDeps): Promise<ReviewTimerReport> {
  const now = deps.clock.now();
  const report = { posted: 0, reminded: 0, expired: 0, updated: 0, errors: [] as string[] };
  for (const record of await deps.approvals.listForReviewTimer()) {
    try {
      if (record.value.card?.stale) {
        await updateCard(deps, record);
        report.updated += 1;
        continue;
      }
      for (const work of dueReviewWork(record.value, now)) {
        if (work === 'post') {
          const claimUntil = record.value.card?.claimUntil;
          if (claimUntil && claimUntil > now) continue;
          if (await postCard(deps, record, true)) report.posted += 1;
        } else if (work === 'remind') {
          if (await remind(deps, record)) report.reminded += 1;
        } else if (await expire(deps, record)) {
          report.expired += 1;
        }
      }
    } catch (error) {
      report.errors.push(`${record.value.connection.name}: ${(error as Error).message}`);
      deps.log.warn(`Review timer: ${record.value.connection.name}: ${(error as Error).message}`);
    }
  }
  return report;
}

export async function remind(deps: ReviewDeps, record: Versioned<ApprovalRecord>): Promise<boolean> {
  const { notifier } = deps;
  const { conversationId, activityId } = record.value.card ?? {};
  if (!notifier || !conversationId || !activityId) return false;
  // Claim the reminder first, so two timer runs cannot both post it.
  const claimed = await deps.approvals.replace({ ...record.value, remindedAt: deps.clock.now(), updatedAt: deps.clock.now() }, record.etag);
  if (claimed.kind === 'conflict') return false;
  const alert = record.value.alert;
  const since = alert?.observedAt ?? record.value.detectedAt;
  const waiting = Math.round((deps.clock.now().getTime() - since.getTime()) / 3_600_000);
  const text = alert
    ? `Reminder: the connection ${record.value.connection.name} was approved outside Linkgate and has been waiting for an approver to reject or keep it for about ${waiting} hour(s).`
    : `Reminder: the private endpoint request ${record.value.connection.name} has been waiting for a decision for about ${waiting} hour(s).${record.value.expiresAt ? ` It expires ${record.value.expiresAt.toISOString()}.` : ''}`;
  await notifier.reply(conversationId, activityId, text);
  await deps.audit.append({
    kind: 'action',
    outcome: 'reminded',
    actor: systemActor('reviews'),
    summary: text,
    ...auditContext(record.value),
  });
  return true;
}

export async function expire(deps: ReviewDeps, record: Versioned<ApprovalRecord>): Promise<boolean> {
  // An out-of-band alert is already approved in Azure: it waits for a person, however long.
  if (record.value.alert) return false;
  const action = record.value.timeoutAction ?? 'leave-pending';
  const days = record.value.expiresAt ? Math.round((record.value.expiresAt.getTime() - record.value.detectedAt.getTime()) / 86_400_000) : 0;
  const expired = await claim(
    deps,
    record,
    { type: 'expired', action },
    action === 'reject'
      ? {
          decisionAction: 'reject',
          decidedBy: systemActor('reviews', 'Linkgate (review expired)'),
          statusDescription: truncate(`Rejected by Linkgate: no decision within ${days} day(s).`, 140),
        }
      : {},
  );
  // A click can win the race with expiry; only the winner writes the entry.
  if (!expired) return false;
  await deps.audit.append({
    kind: 'result',
    outcome: 'expired',
    actor: systemActor('reviews'),
    summary: action === 'reject' ? `No decision within ${days} day(s): rejecting, as the rule says.` : `No decision within ${days} day(s): left Pending.`,
    ...auditContext(record.value),
  });
  if (action === 'reject') {
    const ref = record.value.connection;
    const connection = await deps.connections.get(ref);
    await (connection ? act(deps, expired, connection) : settle(deps, expired, undefined, 'Rejected'));
  }
  return true;
}

