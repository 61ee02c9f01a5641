import type { ApprovalRecord, Versioned } from '../domain/approval.js';
import { isInFlight, isTerminal, nextState, type ApprovalEvent } from '../domain/approval-state-machine.js';
import type { Actor, AuditKind, AuditOutcome } from '../domain/audit.js';
import { isProvisioningFinal, requestMessageOf, statusFor, type PrivateEndpointConnection } from '../domain/connection.js';
import { LinkgateError } from '../domain/errors.js';
import { resolveReview, type ReviewDefaults } from '../domain/review.js';
import { decide, type Decision, type RequesterTenant, type RequestFacts } from '../domain/policy/engine.js';
import { parseConnectionId, type ConnectionRef } from '../domain/resource-id.js';
import { truncate } from '../shared/text.js';
import { mapLimit } from './map-limit.js';
import type { ApprovalsPort, AuditPort, Clock, ConnectionsPort, Hint, Logger, RulesPort, TenantResolver } from './ports.js';

export type ConnectionOutcome =
  | 'approved'
  | 'rejected'
  | 'awaiting-review'
  | 'ignored'
  | 'vanished'
  | 'decided-elsewhere'
  | 'failed'
  | 'owned-elsewhere'
  | 'already-handled'
  | 'gave-up';

export interface HintResult {
  readonly resourceId: string;
  readonly resourceFound: boolean;
  readonly outcomes: ReadonlyArray<{ readonly connectionId: string; readonly outcome: ConnectionOutcome }>;
}

export interface WorkflowSettings {
  readonly homeTenantId: string;
  /** How long an instance owns an in-flight step before another may take it over. */
  readonly leaseMs: number;
  /** How long to wait for provisioningState to become final after a PUT. */
  readonly actionTimeoutMs: number;
  /** Failed actions are retried by later hints up to this many times per request. */
  readonly maxAttempts: number;
  /** Pending connections of one vault handled at once. */
  readonly concurrency: number;
  /** Where reviews go and who decides, unless the deciding rule says otherwise. */
  readonly reviewDefaults: ReviewDefaults;
}

/** Human review reacts to these; they never fail the workflow (the review timer catches up). */
export interface ReviewHooks {
  awaitingReview(record: Versioned<ApprovalRecord>): Promise<void>;
  /** A record that has a posted card changed state. */
  cardStale(record: Versioned<ApprovalRecord>): Promise<void>;
}

export interface WorkflowDeps {
  readonly connections: ConnectionsPort;
  readonly tenants: TenantResolver;
  readonly rules: RulesPort;
  readonly approvals: ApprovalsPort;
  readonly audit: AuditPort;
  readonly clock: Clock;
  readonly log: Logger;
  readonly settings: WorkflowSettings;
}

/** Azure keeps at most 140 characters of a connection state's description. */
const MAX_DESCRIPTION = 140;

/** An action did not reach a final provisioning state in time; a later hint resumes it. */
export class ActionTimeoutError extends LinkgateError {}

export type Workflow = ReturnType<typeof createWorkflow>;

/**
 * hint → re-read → decide → act → audit, for one vault at a time.
 *
 * Exactly one decision per connection: every state change is an ETag-conditioned write to
 * the approval record, and only the writer that wins goes on. Audit entries are written
 * before the state change they describe, so a crash can repeat an entry but never lose one.
 */
export function createWorkflow(deps: WorkflowDeps) {
  const { connections, approvals, clock, settings } = deps;
  let reviews: ReviewHooks | undefined;

  async function handleHint(hint: Hint): Promise<HintResult> {
    if (hint.source === 'event') {
      await audit('hint', 'received', system('resourceEvents'), `${hint.eventType ?? 'event'} ${hint.operationName ?? ''}`.trim(), {
        ...hintAuditKey(hint, clock.now()),
        resourceId: hint.resource.key,
        correlationId: hint.eventId,
        detail: { eventType: hint.eventType, operationName: hint.operationName, subject: hint.subject, caller: hint.callerObjectId },
      });
    }
    const current = await connections.list(hint.resource);
    const open = await approvals.listOpen(hint.resource);
    const outcomes: { connectionId: string; outcome: ConnectionOutcome }[] = [];

    const pending = (current ?? []).filter((c) => c.status === 'Pending');
    const pendingKeys = new Set(pending.map((c) => c.ref.key));
    const handled = await mapLimit(pending, settings.concurrency, (c) => processPending(c, hint));
    pending.forEach((c, i) => outcomes.push({ connectionId: c.ref.id, outcome: handled[i] as ConnectionOutcome }));

    const byKey = new Map((current ?? []).map((c) => [c.ref.key, c]));
    for (const record of open) {
      const key = record.value.connectionId.toLowerCase();
      if (pendingKeys.has(key)) continue;
      const outcome = await reconcile(record, byKey.get(key));
      if (outcome) outcomes.push({ connectionId: record.value.connectionId, outcome });
    }
    for (const c of current ?? []) {
      if (c.status === undefined) {
        deps.log.warn(`Connection ${c.ref.id} reports status '${c.rawStatus}', which Linkgate does not understand; it is left alone.`);
      }
    }
    return { resourceId: hint.resource.id, resourceFound: current !== undefined, outcomes };
  }

  async function processPending(connection: PrivateEndpointConnection, hint: Hint): Promise<ConnectionOutcome> {
    let record = await approvals.get(connection.ref);
    if (!record) {
      const created = await approvals.create(newRecord(connection, hint, 1));
      if (created.kind === 'exists') {
        record = await approvals.get(connection.ref);
        if (!record) return 'owned-elsewhere';
      } else {
        record = created.record;
      }
    } else if (isTerminal(record.value.state)) {
      if (!isNewRequest(record.value, connection)) return 'already-handled';
      const reopened = await approvals.replace(newRecord(connection, hint, record.value.generation + 1), record.etag);
      if (reopened.kind === 'conflict') return 'owned-elsewhere';
      record = reopened.record;
    } else if (!sameEndpoint(record.value, connection)) {
      // The connection was deleted and requested again under the same name from another
      // endpoint while the old request was open: close the old one (its card says so) and
      // start over, so nobody approves a request they never saw.
      await audit('result', 'vanished', system('workflow'), 'The connection was deleted and requested again from another private endpoint; the earlier request is closed.', {
        ...auditContext(record.value),
        detail: { previousEndpoint: record.value.privateEndpointId, newEndpoint: connection.rawPrivateEndpointId },
      });
      if (!(await transition(record, { type: 'vanished' }, {}))) return 'owned-elsewhere';
      // Read again: updating the old card moved the ETag.
      const closed = await approvals.get(connection.ref);
      if (closed?.value.state !== 'Vanished') return 'owned-elsewhere';
      const reopened = await approvals.replace(newRecord(connection, hint, record.value.generation + 1), closed.etag);
      if (reopened.kind === 'conflict') return 'owned-elsewhere';
      record = reopened.record;
    } else if (!record.value.requestedBy && isRequestEvent(hint) && hint.callerObjectId) {
      // The first hint may have come from the sweep, which carries no claims; the requester's
      // own event names who asked, which self-approval checks need.
      const named = await approvals.replace({ ...record.value, requestedBy: hint.callerObjectId, updatedAt: clock.now() }, record.etag);
      if (named.kind === 'replaced') record = named.record;
    }
    return advance(record, connection);
  }

  async function advance(record: Versioned<ApprovalRecord>, connection: PrivateEndpointConnection): Promise<ConnectionOutcome> {
    const { state } = record.value;
    if (state === 'AwaitingReview') return 'awaiting-review';
    if (state === 'Detected' || state === 'Failed') {
      if (state === 'Failed' && record.value.attempts >= settings.maxAttempts) return 'gave-up';
      const decided = decidedAction(record.value);
      if (state === 'Failed' && decided) {
        // The decision stands (a person's click, a rule's verdict); only the action is tried again.
        const retried = await transition(record, { type: 'retry', action: decided }, { leaseUntil: leaseEnd() });
        return retried ? act(retried, connection) : 'owned-elsewhere';
      }
      const claimed = await transition(record, { type: 'claim' }, { leaseUntil: leaseEnd() });
      return claimed ? decideAndAct(claimed, connection) : 'owned-elsewhere';
    }
    if (isInFlight(state)) {
      if (record.value.leaseUntil && record.value.leaseUntil > clock.now()) return 'owned-elsewhere';
      const resumed = await transition(record, { type: 'resume' }, { leaseUntil: leaseEnd() });
      if (!resumed) return 'owned-elsewhere';
      deps.log.warn(`Resuming ${state} for ${connection.ref.id}: the previous owner's lease ran out.`);
      return state === 'Deciding' ? decideAndAct(resumed, connection) : act(resumed, connection);
    }
    return 'already-handled';
  }

  async function decideAndAct(record: Versioned<ApprovalRecord>, connection: PrivateEndpointConnection): Promise<ConnectionOutcome> {
    let facts: RequestFacts;
    let decision: Decision;
    try {
      facts = await gatherFacts(connection);
      decision = decide(await deps.rules.list(), facts, settings.homeTenantId);
    } catch (error) {
      await fail(record, error, 'deciding');
      throw error;
    }
    const requester = requesterFields(facts);
    const context = { ...auditContext(record.value), ...requester };
    for (const shadow of decision.shadowMatches) {
      await audit('decision', 'shadow', rule(shadow.rule), `Shadow rule '${shadow.rule}' would ${shadow.action}; nothing done.`, {
        ...context,
        ruleName: shadow.rule,
      });
    }
    const actor = decision.ruleName ? rule(decision.ruleName) : system('default-policy');
    await audit('decision', decision.action, actor, decision.summary, {
      ...context,
      ruleName: decision.ruleName,
      detail: { evaluations: decision.evaluations, shadowMatches: decision.shadowMatches },
    });
    const automatic = decision.action === 'approve' || decision.action === 'reject';
    const review = decision.action === 'review' ? resolveReview(decision.review, settings.reviewDefaults, clock.now()) : undefined;
    const decided = await transition(
      record,
      { type: 'decided', action: decision.action },
      {
        ...requester,
        decisionAction: decision.action,
        ruleName: decision.ruleName,
        decisionSummary: decision.summary,
        decidedBy: automatic ? `rule:${decision.ruleName}` : undefined,
        statusDescription: automatic ? describeRuleDecision(decision, decision.action as 'approve' | 'reject') : undefined,
        leaseUntil: automatic ? leaseEnd() : undefined,
        ...review,
        // Whoever makes this transition posts the card; the review timer takes over if that fails.
        ...(review?.reviewConversationId ? { cardClaimUntil: leaseEnd() } : {}),
      },
    );
    if (!decided) return 'owned-elsewhere';
    if (decision.action === 'review') {
      deps.log.info(`${connection.ref.name}: awaiting review. ${decision.summary}`);
      await notifyReviews('awaitingReview', decided);
      return 'awaiting-review';
    }
    if (decision.action === 'ignore') return 'ignored';
    return act(decided, connection);
  }

  /**
   * Approving or Rejecting → the PUT, a wait for a final provisioning state, and the result.
   * When provisioning takes longer than `timeoutMs`, the PUT has been accepted: the record stays
   * in flight with its lease released, so the completion event, a redelivery or the sweep settles
   * it, and ActionTimeoutError tells the caller.
   */
  async function act(
    record: Versioned<ApprovalRecord>,
    connection: PrivateEndpointConnection,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<ConnectionOutcome> {
    const approving = record.value.state === 'Approving';
    if (!sameEndpoint(record.value, connection)) {
      // Never approve or reject an endpoint other than the one that was decided on.
      return settle(record, undefined, approving ? 'Approved' : 'Rejected');
    }
    const call = options.signal ? { signal: options.signal } : {};
    const target = approving ? 'Approved' : 'Rejected';
    const actor = actorOf(record.value.decidedBy);
    const description = record.value.statusDescription ?? `${target} by Linkgate.`;
    await audit('action', approving ? 'approve' : 'reject', actor, `Setting status to ${target}: "${description}"`, auditContext(record.value));
    try {
      let result = await connections.setStatus(connection.ref, { status: target, description, etag: connection.etag, ...endpointOf(connection) }, call);
      if (result.kind === 'conflict') {
        // The connection moved on since it was read. If it is still Pending, write once more
        // against its new ETag; otherwise someone else decided and that is recorded below.
        const fresh = await connections.get(connection.ref, call);
        if (fresh?.status !== 'Pending') return settle(record, fresh, target);
        result = await connections.setStatus(connection.ref, { status: target, description, etag: fresh.etag, ...endpointOf(fresh) }, call);
        if (result.kind === 'conflict') throw new LinkgateError(`The connection kept changing while ${target.toLowerCase()}: ${result.message}`);
      }
      if (result.kind === 'gone') return settle(record, undefined, target);
      if (result.kind === 'refused') {
        const fresh = await connections.get(connection.ref, call);
        if (fresh?.status !== 'Pending') return settle(record, fresh, target);
        await fail(record, new LinkgateError(`Azure refused the change: ${result.message}`), 'acting');
        return 'failed';
      }
      return settle(record, await waitUntilFinal(connection.ref, options.timeoutMs ?? settings.actionTimeoutMs, call), target);
    } catch (error) {
      if (error instanceof ActionTimeoutError || options.signal?.aborted) {
        // The PUT may or may not have landed; either way the record stays in flight, and a
        // resumed PUT (idempotent) or the next reconcile finishes it.
        await releaseLease(record);
        throw error instanceof ActionTimeoutError ? error : new ActionTimeoutError(`The ${target.toLowerCase()} did not finish in time; it is retried`, { cause: error });
      }
      await fail(record, error, 'acting');
      throw error;
    }
  }

  async function releaseLease(record: Versioned<ApprovalRecord>): Promise<void> {
    const latest = await approvals.get(refOf(record.value));
    if (latest && isInFlight(latest.value.state)) {
      await transition(latest, { type: 'resume' }, { leaseUntil: clock.now() });
    }
  }

  async function waitUntilFinal(ref: ConnectionRef, timeoutMs: number, call: { signal?: AbortSignal }): Promise<PrivateEndpointConnection | undefined> {
    const deadline = clock.now().getTime() + timeoutMs;
    let delay = 250;
    for (;;) {
      const current = await connections.get(ref, call);
      if (!current || isProvisioningFinal(current.provisioningState, current.ref.resource.type)) return current;
      if (clock.now().getTime() + delay > deadline) {
        throw new ActionTimeoutError(`provisioningState stayed '${current.provisioningState}' for ${timeoutMs} ms`);
      }
      await clock.sleep(delay);
      delay = Math.min(delay * 2, 5_000);
    }
  }

  /** Records what the connection turned out to be after an action. */
  async function settle(
    record: Versioned<ApprovalRecord>,
    connection: PrivateEndpointConnection | undefined,
    target: 'Approved' | 'Rejected',
  ): Promise<ConnectionOutcome> {
    const context = auditContext(record.value);
    if (!connection) {
      await audit('result', 'vanished', system('workflow'), 'The connection was gone before the change took effect.', context);
      return (await transition(record, { type: 'vanished' }, {})) ? 'vanished' : 'owned-elsewhere';
    }
    if (connection.provisioningState?.toLowerCase() === 'failed') {
      await fail(record, new LinkgateError(`provisioningState is Failed after setting ${target}`), 'acting');
      return 'failed';
    }
    if (connection.status === target) {
      const outcome = target === 'Approved' ? 'approved' : 'rejected';
      await audit('result', outcome, actorOf(record.value.decidedBy), `${target}: "${connection.description ?? ''}"`, context);
      return (await transition(record, { type: 'confirmed' }, {})) ? outcome : 'owned-elsewhere';
    }
    if (connection.status === 'Pending') {
      await fail(record, new LinkgateError(`Azure accepted ${target} but the connection still reads Pending`), 'acting');
      return 'failed';
    }
    await audit(
      'result',
      'decided-elsewhere',
      system('workflow'),
      `Someone else set the status to ${connection.rawStatus ?? 'unknown'} first; left as it is.`,
      { ...context, detail: { status: connection.rawStatus, description: connection.description } },
    );
    return (await transition(record, { type: 'changedElsewhere' }, { observedStatus: connection.rawStatus })) ? 'decided-elsewhere' : 'owned-elsewhere';
  }

  /** An open record whose connection is no longer Pending (or no longer there). */
  async function reconcile(
    record: Versioned<ApprovalRecord>,
    connection: PrivateEndpointConnection | undefined,
  ): Promise<ConnectionOutcome | undefined> {
    const { state, leaseUntil } = record.value;
    if (isInFlight(state) && leaseUntil && leaseUntil > clock.now()) return undefined; // its owner settles it
    // Linkgate's own change is still being applied: settle it once provisioning is final, on a
    // later hint or the sweep. (Whether ARM raises an event when an asynchronous PUT completes is
    // not documented, hence the sweep.) Anyone else's change is recorded at once: the status
    // already reads decided.
    const settling = isInFlight(state) || (state === 'Failed' && decidedAction(record.value) !== undefined);
    if (settling && connection && !isProvisioningFinal(connection.provisioningState, connection.ref.resource.type)) return undefined;
    if (state === 'Approving' || state === 'Rejecting') {
      return settle(record, connection, state === 'Approving' ? 'Approved' : 'Rejected');
    }
    const context = auditContext(record.value);
    const decided = decidedAction(record.value);
    if (state === 'Failed' && decided && connection && isOwnResult(record.value, connection, decided)) {
      // An action that failed after Azure accepted it (a provisioning timeout, a lost answer):
      // the connection carries Linkgate's own status and description, so it is Linkgate's result.
      const retried = await transition(record, { type: 'retry', action: decided }, { leaseUntil: leaseEnd() });
      return retried ? settle(retried, connection, statusFor(decided)) : 'owned-elsewhere';
    }
    if (!connection) {
      await audit('result', 'vanished', system('workflow'), 'The connection was deleted before it was decided.', context);
      return (await transition(record, { type: 'vanished' }, {})) ? 'vanished' : 'owned-elsewhere';
    }
    if (connection.status === undefined) return undefined;
    await audit('result', 'decided-elsewhere', system('workflow'), `Status was set to ${connection.status} outside Linkgate.`, {
      ...context,
      detail: { status: connection.status, description: connection.description },
    });
    return (await transition(record, { type: 'changedElsewhere' }, { observedStatus: connection.rawStatus })) ? 'decided-elsewhere' : 'owned-elsewhere';
  }

  async function fail(record: Versioned<ApprovalRecord>, error: unknown, during: string): Promise<void> {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    deps.log.error(`${record.value.connectionName}: ${during} failed: ${message}`);
    try {
      await audit('error', 'failed', system('workflow'), `Failed while ${during}: ${message}`, {
        ...auditContext(record.value),
        detail: { error: message, attempt: record.value.attempts + 1 },
      });
      // The record may have moved on (a stale copy); the state machine only allows Failed from in-flight states.
      const latest = await approvals.get(refOf(record.value));
      if (latest && isInFlight(latest.value.state)) {
        await transition(latest, { type: 'failed' }, { attempts: latest.value.attempts + 1, lastError: message.slice(0, 1000) });
      }
    } catch (secondary) {
      // The original error is what the caller rethrows; losing this bookkeeping only delays a retry until the lease ends.
      deps.log.error(`Could not record the failure: ${(secondary as Error).message}`);
    }
  }

  async function gatherFacts(connection: PrivateEndpointConnection): Promise<RequestFacts> {
    const requesterTenant: RequesterTenant = connection.privateEndpoint
      ? await deps.tenants.resolve(connection.privateEndpoint.subscriptionId)
      : { kind: 'unknown' };
    return {
      resource: connection.ref.resource,
      connectionName: connection.ref.name,
      privateEndpoint: connection.privateEndpoint,
      requesterTenant,
      requestMessage: requestMessageOf(connection),
    };
  }

  async function transition(
    record: Versioned<ApprovalRecord>,
    event: ApprovalEvent,
    patch: Partial<ApprovalRecord>,
  ): Promise<Versioned<ApprovalRecord> | undefined> {
    const state = nextState(record.value.state, event);
    const base: ApprovalRecord = { ...record.value, ...patch, state, updatedAt: clock.now() };
    // In-flight states are not pushed to the card: the clicker's own answer shows them, and an
    // update here would move the record's ETag under the caller that is about to act on it.
    const cardStale = base.cardActivityId !== undefined && base.cardState !== state && !isInFlight(state);
    const next: ApprovalRecord = { ...base, cardStale: cardStale || undefined };
    const written = await approvals.replace(isInFlight(state) ? next : { ...next, leaseUntil: undefined }, record.etag);
    if (written.kind !== 'replaced') return undefined;
    if (cardStale) await notifyReviews('cardStale', written.record);
    return written.record;
  }

  async function notifyReviews(hook: keyof ReviewHooks, record: Versioned<ApprovalRecord>): Promise<void> {
    if (!reviews) return;
    try {
      await reviews[hook](record);
    } catch (error) {
      // Cards are best effort here; the review timer posts or updates what is still owed.
      deps.log.warn(`Teams ${hook} for ${record.value.connectionName} failed: ${(error as Error).message}`);
    }
  }

  function audit(
    kind: AuditKind,
    outcome: AuditOutcome,
    actor: Actor,
    summary: string,
    fields: Omit<Parameters<AuditPort['append']>[0], 'kind' | 'outcome' | 'actor' | 'summary'>,
  ) {
    return deps.audit.append({ kind, outcome, actor, summary, ...withoutUndefined(fields) });
  }

  function newRecord(connection: PrivateEndpointConnection, hint: Hint, generation: number): ApprovalRecord {
    const now = clock.now();
    return withoutUndefined({
      connectionId: connection.ref.id,
      connectionName: connection.ref.name,
      resourceId: connection.ref.resource.id,
      state: 'Detected',
      generation,
      privateEndpointId: connection.privateEndpoint?.id ?? connection.rawPrivateEndpointId,
      requesterSubscriptionId: connection.privateEndpoint?.subscriptionId,
      requestMessage: requestMessageOf(connection),
      requestedBy: isRequestEvent(hint) ? hint.callerObjectId : undefined,
      attempts: 0,
      detectedAt: now,
      updatedAt: now,
    }) as ApprovalRecord;
  }

  function leaseEnd(): Date {
    return new Date(clock.now().getTime() + settings.leaseMs);
  }

  function attachReviews(hooks: ReviewHooks): void {
    reviews = hooks;
  }

  return { handleHint, act, settle, transition, fail, attachReviews, leaseEnd };
}

/**
 * A terminal record for a connection that reads Pending again means a new request reused
 * the name (the old connection was deleted first). Azure does not let a decided connection
 * go back to Pending, so a terminal Approved/Rejected record for the same endpoint is left
 * alone rather than decided twice.
 */
function isNewRequest(record: ApprovalRecord, connection: PrivateEndpointConnection): boolean {
  if (record.state === 'Vanished') return true;
  const endpoint = (connection.privateEndpoint?.id ?? connection.rawPrivateEndpointId ?? '').toLowerCase();
  return endpoint !== (record.privateEndpointId ?? '').toLowerCase();
}

/** The requester's own write (the proxy write or validate action) carries the requester's identity in its claims. */
function isRequestEvent(hint: Hint): boolean {
  return /privateendpointconnectionproxies/i.test(hint.operationName ?? '');
}

/**
 * Event Grid delivers at least once: a redelivered event gets the same audit id and time (its
 * event ID and time), so the store keeps one entry. Times far from now are not trusted as keys.
 */
function hintAuditKey(hint: Hint, now: Date): { id?: string; time?: Date } {
  if (!hint.eventId || !hint.eventTime) return {};
  if (Math.abs(hint.eventTime.getTime() - now.getTime()) > 24 * 3_600_000) return {};
  return { id: `evt.${hint.eventId.replace(/[^A-Za-z0-9._~-]/g, '_').slice(0, 120)}`, time: hint.eventTime };
}

/** The approve/reject a record already carries (from a rule or a person), if any. */
function decidedAction(record: ApprovalRecord): 'approve' | 'reject' | undefined {
  return record.decisionAction === 'approve' || record.decisionAction === 'reject' ? record.decisionAction : undefined;
}

/** False only when both endpoints are known and differ: the connection belongs to another request. */
function sameEndpoint(record: ApprovalRecord, connection: PrivateEndpointConnection): boolean {
  const current = (connection.privateEndpoint?.id ?? connection.rawPrivateEndpointId)?.toLowerCase();
  const recorded = record.privateEndpointId?.toLowerCase();
  return current === undefined || recorded === undefined || current === recorded;
}

function isOwnResult(record: ApprovalRecord, connection: PrivateEndpointConnection, action: 'approve' | 'reject'): boolean {
  const target = statusFor(action);
  return connection.status === target && (record.statusDescription === undefined || connection.description === record.statusDescription);
}

function describeRuleDecision(decision: Decision, action: 'approve' | 'reject'): string {
  return truncate(`${statusFor(action)} by Linkgate rule '${decision.ruleName ?? 'default'}'.`, MAX_DESCRIPTION);
}

function requesterFields(facts: RequestFacts) {
  const tenant = facts.requesterTenant;
  return {
    requesterTenantId: tenant.kind === 'visible' ? tenant.tenantId.toLowerCase() : tenant.kind,
    requesterSubscriptionId: facts.privateEndpoint?.subscriptionId,
  };
}

function auditContext(record: ApprovalRecord) {
  return withoutUndefined({
    resourceId: record.resourceId.toLowerCase(),
    connectionId: record.connectionId.toLowerCase(),
    privateEndpointId: record.privateEndpointId,
    requesterSubscriptionId: record.requesterSubscriptionId,
    requesterTenantId: record.requesterTenantId,
    requestMessage: record.requestMessage,
    ruleName: record.ruleName,
  });
}

function refOf(record: ApprovalRecord): ConnectionRef {
  return parseConnectionId(record.connectionId);
}

function actorOf(decidedBy: string | undefined): Actor {
  const [type, ...rest] = (decidedBy ?? 'system:workflow').split(':');
  const id = rest.join(':');
  if (type === 'rule') return rule(id);
  if (type === 'user') return { type: 'user', id };
  return system(id || 'workflow');
}

function rule(name: string): Actor {
  return { type: 'rule', id: name };
}

function system(name: string): Actor {
  return { type: 'system', id: name };
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** The PUT carries the endpoint back as Azure reported it: Azure Policy definitions that restrict approvals evaluate it. */
function endpointOf(connection: PrivateEndpointConnection): { privateEndpointId?: string } {
  return connection.rawPrivateEndpointId ? { privateEndpointId: connection.rawPrivateEndpointId } : {};
}
