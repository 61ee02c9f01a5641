import type { ApprovalRecord, Versioned } from '../domain/approval.js';
import { isInFlight, isTerminal, targetStatusOf } from '../domain/approval-state-machine.js';
import { ruleActor, systemActor } from '../domain/audit.js';
import { endpointKeyOf, isProvisioningFinal, requestMessageOf, statusFor, type PrivateEndpointConnection } from '../domain/connection.js';
import { decide, type Decision, type RequesterTenant, type RequestFacts } from '../domain/policy/engine.js';
import { idKey } from '../domain/resource-id.js';
import { effectiveQuorum, resolveReview } from '../domain/review.js';
import { truncate } from '../shared/text.js';
import { mapLimit } from './map-limit.js';
import type { Hint, InventoryPort, RulesPort, TenantResolver } from './ports.js';
import { EffectQueue, observe, policyOnce, type ObservationOutcome, type Observed, type Policy } from './inventory.js';
import type { InventoryEntry, SeenVia } from '../domain/inventory.js';
import {
  act,
  audit,
  auditContext,
  claim,
  decidedAction,
  fail,
  leaseEnd,
  notifyReviews,
  reachedTarget,
  sameEndpoint,
  settle,
  transition,
  undecidedStatus,
  withoutUndefined,
  type ConnectionOutcome,
  type StepDeps,
  type StepSettings,
} from './steps.js';

export type { ConnectionOutcome } from './steps.js';

export interface HintResult {
  readonly resourceId: string;
  readonly resourceFound: boolean;
  readonly outcomes: ReadonlyArray<{ readonly connectionId: string; readonly outcome: ConnectionOutcome }>;
  /** What the inventory made of the connections read (counts by outcome). */
  readonly observed?: Partial<Record<ObservationOutcome, number>>;
}

export interface WorkflowSettings extends StepSettings {
  readonly homeTenantId: string;
  /** Pending connections of one vault handled at once. */
  readonly concurrency: number;
}

export interface WorkflowDeps extends StepDeps {
  readonly tenants: TenantResolver;
  readonly rules: RulesPort;
  readonly inventory: InventoryPort;
  readonly settings: WorkflowSettings;
}

/** Azure keeps at most 140 characters of a connection state's description. */
const MAX_DESCRIPTION = 140;

export interface Workflow {
  handleHint(hint: Hint): Promise<HintResult>;
}

/**
 * The hint use case: hint → re-read → decide → act → audit, for one resource at a time. The
 * steps it shares with card clicks (claim, act, settle, fail) are in steps.ts.
 */
export function createWorkflow(deps: WorkflowDeps): Workflow {
  return { handleHint: (hint) => handleHint(deps, hint) };
}

/** Looks again at one resource: decides its Pending connections and reconciles its open records. */
export async function handleHint(deps: WorkflowDeps, hint: Hint, observation: ObserveOptions = {}): Promise<HintResult> {
  if (hint.source === 'event') {
    await audit(deps, 'hint', 'received', systemActor('resourceEvents'), `${hint.eventType ?? 'event'} ${hint.operationName ?? ''}`.trim(), {
      ...hintAuditKey(hint, deps.clock.now()),
      resourceId: hint.resource.key,
      correlationId: hint.eventId,
      detail: { eventType: hint.eventType, operationName: hint.operationName, subject: hint.subject, caller: hint.callerObjectId },
    });
  }
  const current = await deps.connections.list(hint.resource);
  const open = await deps.approvals.listOpen(hint.resource);
  const outcomes: { connectionId: string; outcome: ConnectionOutcome }[] = [];

  const pending = (current ?? []).filter((c) => c.status === 'Pending');
  const pendingKeys = new Set(pending.map((c) => c.ref.key));
  const handled = await mapLimit(pending, deps.settings.concurrency, (c) => processPending(deps, c, hint));
  pending.forEach((c, i) => outcomes.push({ connectionId: c.ref.id, outcome: handled[i] as ConnectionOutcome }));

  const byKey = new Map((current ?? []).map((c) => [c.ref.key, c]));
  for (const record of open) {
    const { key, id } = record.value.connection;
    if (pendingKeys.has(key)) continue;
    const outcome = await reconcile(deps, record, byKey.get(key));
    if (outcome) outcomes.push({ connectionId: id, outcome });
  }
  for (const c of current ?? []) {
    if (c.status === undefined) {
      deps.log.warn(`Connection ${c.ref.id} reports status '${c.rawStatus}', which Linkgate does not understand; it is left alone.`);
    }
  }
  const observed = current ? await observeAll(deps, hint.resource.key, current, outcomes, hint, observation) : undefined;
  return { resourceId: hint.resource.id, resourceFound: current !== undefined, outcomes, ...(observed ? { observed } : {}) };
}

/** How a batch of observations shares its lookups (the sweep's). */
export interface ObserveOptions {
  readonly via?: SeenVia;
  readonly tenantMemo?: Map<string, Promise<RequesterTenant>>;
  readonly policy?: () => Promise<Policy>;
  /** Claims, audit entries and alerts to do together; the caller flushes them. Without it, each resource's are flushed at its end. */
  readonly effects?: EffectQueue;
}

/**
 * After the decisions: every connection ARM listed, compared with the inventory (one partition
 * read) and written where it differs. A connection this hint approved or rejected is recorded with
 * the status Linkgate just set, so the inventory shows Linkgate's decision at once.
 */
export async function observeAll(
  deps: WorkflowDeps,
  resourceKey: string,
  connections: readonly (Observed & Partial<PrivateEndpointConnection>)[],
  outcomes: readonly { connectionId: string; outcome: ConnectionOutcome }[],
  hint: Hint,
  options: ObserveOptions = {},
): Promise<Partial<Record<ObservationOutcome, number>>> {
  const known = await deps.inventory.indexOf(resourceKey);
  // The resource's records are read once, and only if some connection differs from the inventory.
  let recordsRead: Promise<ReadonlyMap<string, Versioned<ApprovalRecord>>> | undefined;
  const records = () => (recordsRead ??= deps.approvals.listResource(hint.resource).then((all) => new Map(all.map((r) => [r.value.connection.key, r]))));
  const effects = options.effects ?? new EffectQueue();
  const settled = new Map(outcomes.map((o) => [idKey(o.connectionId), o.outcome]));
  const writes: InventoryEntry[] = [];
  const counts: Partial<Record<ObservationOutcome, number>> = {};
  const policy = options.policy ?? policyOnce(deps.rules);
  for (const connection of connections) {
    const outcome = settled.get(connection.ref.key);
    // Another instance is acting on it right now: what this read saw may already be out of date,
    // and the owner's result is recorded by the owner or the next look.
    if (outcome === 'owned-elsewhere') continue;
    const seen: Observed = outcome === 'approved' || outcome === 'rejected' ? { ...connection, rawStatus: statusFor(outcome === 'approved' ? 'approve' : 'reject'), status: statusFor(outcome === 'approved' ? 'approve' : 'reject') } : connection;
    const result = await observe(deps, seen, known.get(connection.ref.key), {
      via: options.via ?? hint.source,
      hint,
      fromArm: true,
      ...(connection.rawStatus ? { readAs: connection.rawStatus } : {}),
      ...(options.tenantMemo ? { tenantMemo: options.tenantMemo } : {}),
      policy,
      effects,
      // One this hint's own steps wrote is read again by itself, so it is seen as it is now.
      ...(outcome === undefined ? { records } : {}),
    });
    counts[result.outcome] = (counts[result.outcome] ?? 0) + 1;
    if (result.entry) writes.push(result.entry);
  }
  await deps.inventory.write(writes);
  if (!options.effects) await effects.flush(deps);
  return counts;
}

/** A Pending connection: find or open its record, then take it one step further. */
export async function processPending(deps: WorkflowDeps, connection: PrivateEndpointConnection, hint: Hint): Promise<ConnectionOutcome> {
  const { approvals, clock } = deps;
  let record = await approvals.get(connection.ref);
  if (!record) {
    const created = await approvals.create(newRecord(connection, hint, 1, clock.now()));
    if (created.kind === 'exists') {
      record = await approvals.get(connection.ref);
      if (!record) return 'owned-elsewhere';
    } else {
      record = created.record;
    }
  } else if (isTerminal(record.value.state)) {
    if (!isNewRequest(record.value, connection)) return 'already-handled';
    const reopened = await approvals.replace(newRecord(connection, hint, record.value.generation + 1, clock.now()), record.etag);
    if (reopened.kind === 'conflict') return 'owned-elsewhere';
    record = reopened.record;
  } else if (!sameEndpoint(record.value, connection)) {
    // The connection was deleted and requested again under the same name from another
    // endpoint while the old request was open: close the old one (its card says so) and
    // start over, so nobody approves a request they never saw.
    await audit(deps, 'result', 'vanished', systemActor('workflow'), 'The connection was deleted and requested again from another private endpoint; the earlier request is closed.', {
      ...auditContext(record.value),
      detail: { previousEndpoint: record.value.privateEndpointId, newEndpoint: connection.rawPrivateEndpointId },
    });
    if (!(await transition(deps, record, { type: 'vanished' }, {}))) return 'owned-elsewhere';
    // Read again: updating the old card moved the ETag.
    const closed = await approvals.get(connection.ref);
    if (closed?.value.state !== 'Vanished') return 'owned-elsewhere';
    const reopened = await approvals.replace(newRecord(connection, hint, record.value.generation + 1, clock.now()), closed.etag);
    if (reopened.kind === 'conflict') return 'owned-elsewhere';
    record = reopened.record;
  } else if (!record.value.requestedBy && isRequestEvent(hint) && hint.callerObjectId) {
    // The first hint may have come from the sweep, which carries no claims; the requester's
    // own event names who asked, which self-approval checks need. A review that is already
    // under way keeps the quorum it was shown with (at least two, for an unknown requester):
    // lowering it now could leave earlier approvals enough with nobody there to act on them.
    const reviewing = record.value.state === 'AwaitingReview';
    const card = record.value.card;
    const named = await approvals.replace(
      {
        ...record.value,
        requestedBy: hint.callerObjectId,
        ...(reviewing ? { requiredApprovals: effectiveQuorum(record.value) } : {}),
        ...(reviewing && card?.activityId ? { card: { ...card, stale: true } } : {}),
        updatedAt: clock.now(),
      },
      record.etag,
    );
    if (named.kind === 'replaced') {
      record = named.record;
      if (reviewing && card?.activityId) await notifyReviews(deps, 'cardStale', record);
    }
  }
  return advance(deps, record, connection);
}

/** Claims a record that is due (new, failed, or in flight with a lapsed lease) and takes its next step. */
export async function advance(deps: WorkflowDeps, record: Versioned<ApprovalRecord>, connection: PrivateEndpointConnection): Promise<ConnectionOutcome> {
  const { state } = record.value;
  if (state === 'AwaitingReview') return 'awaiting-review';
  if (state === 'Detected' || state === 'Failed') {
    if (state === 'Failed' && record.value.attempts >= deps.settings.maxAttempts) return 'gave-up';
    // Before its time a hint or sweep spends no attempt: the retry timer comes back for it.
    if (state === 'Failed' && record.value.nextAttemptAt && record.value.nextAttemptAt > deps.clock.now()) return 'retry-scheduled';
    const decided = decidedAction(record.value);
    if (state === 'Failed' && decided) {
      // The decision stands (a person's click, a rule's verdict); only the action is tried again.
      const retried = await claim(deps, record, { type: 'retry', action: decided });
      return retried ? act(deps, retried, connection) : 'owned-elsewhere';
    }
    const claimed = await claim(deps, record, { type: 'claim' });
    return claimed ? decideAndAct(deps, claimed, connection) : 'owned-elsewhere';
  }
  if (isInFlight(state)) {
    if (record.value.leaseUntil && record.value.leaseUntil > deps.clock.now()) return 'owned-elsewhere';
    const resumed = await claim(deps, record, { type: 'resume' });
    if (!resumed) return 'owned-elsewhere';
    deps.log.warn(`Resuming ${state} for ${connection.ref.id}: the previous owner's lease ran out.`);
    return state === 'Deciding' ? decideAndAct(deps, resumed, connection) : act(deps, resumed, connection);
  }
  return 'already-handled';
}

/** Deciding → the policy's decision, audited; then the action, or the wait for a review. */
export async function decideAndAct(deps: WorkflowDeps, record: Versioned<ApprovalRecord>, connection: PrivateEndpointConnection): Promise<ConnectionOutcome> {
  const { settings, clock } = deps;
  let facts: RequestFacts;
  let decision: Decision;
  try {
    facts = await gatherFacts(deps, connection);
    const { rules, hold } = await deps.rules.forDecision();
    decision = decide(rules, facts, settings.homeTenantId, hold);
  } catch (error) {
    await fail(deps, record, error, 'deciding');
    throw error;
  }
  const requester = requesterFields(facts);
  const context = { ...auditContext(record.value), ...requester };
  for (const shadow of decision.shadowMatches) {
    await audit(deps, 'decision', 'shadow', ruleActor(shadow.rule), `Shadow rule '${shadow.rule}' would ${shadow.action}; nothing done.`, {
      ...context,
      ruleName: shadow.rule,
    });
  }
  const actor = decision.ruleName ? ruleActor(decision.ruleName) : systemActor('default-policy');
  await audit(deps, 'decision', decision.action, actor, decision.summary, {
    ...context,
    ruleName: decision.ruleName,
    detail: { evaluations: decision.evaluations, shadowMatches: decision.shadowMatches },
  });
  const automatic = decision.action === 'approve' || decision.action === 'reject' ? decision.action : undefined;
  const review = decision.action === 'review' ? resolveReview(decision.review, settings.reviewDefaults, clock.now()) : undefined;
  const decided = await transition(
    deps,
    record,
    { type: 'decided', action: decision.action },
    {
      ...requester,
      decisionAction: decision.action,
      ruleName: decision.ruleName,
      decisionSummary: decision.summary,
      decidedBy: automatic ? actor : undefined,
      statusDescription: automatic ? describeRuleDecision(automatic, decision.ruleName) : undefined,
      leaseUntil: automatic ? leaseEnd(deps) : undefined,
      ...review,
      // Whoever makes this transition posts the card; the review timer takes over if that fails.
      ...(review?.reviewConversationId ? { card: { ...record.value.card, claimUntil: leaseEnd(deps) } } : {}),
    },
  );
  if (!decided) return 'owned-elsewhere';
  if (decision.action === 'review') {
    deps.log.info(`${connection.ref.name}: awaiting review. ${decision.summary}`);
    await notifyReviews(deps, 'awaitingReview', decided);
    return 'awaiting-review';
  }
  if (decision.action === 'ignore') return 'ignored';
  return act(deps, decided, connection);
}

/** An open record whose connection is no longer Pending (or no longer there). */
export async function reconcile(
  deps: WorkflowDeps,
  record: Versioned<ApprovalRecord>,
  connection: PrivateEndpointConnection | undefined,
): Promise<ConnectionOutcome | undefined> {
  const { state, leaseUntil } = record.value;
  if (isInFlight(state) && leaseUntil && leaseUntil > deps.clock.now()) return undefined; // its owner settles it
  // Linkgate's own change is still being applied: settle it once provisioning is final, on a
  // later hint or the sweep. (Whether ARM raises an event when an asynchronous PUT completes is
  // not documented, hence the sweep.) Anyone else's change is recorded at once: the status
  // already reads decided.
  const settling = isInFlight(state) || (state === 'Failed' && decidedAction(record.value) !== undefined);
  if (settling && connection && !isProvisioningFinal(connection.provisioningState, connection.ref.resource.type)) return undefined;
  if (state === 'Approving' || state === 'Rejecting') {
    return settle(deps, record, connection, targetStatusOf(state));
  }
  const context = auditContext(record.value);
  const decided = decidedAction(record.value);
  if (record.value.alert && connection && sameEndpoint(record.value, connection) && connection.status === undecidedStatus(record.value)) {
    // An out-of-band alert whose connection still reads Approved: it waits for a person to
    // reject or keep it, or, when a person's reject failed, for that reject to be tried again.
    if (state !== 'Failed' || decided !== 'reject') return undefined;
    if (record.value.attempts >= deps.settings.maxAttempts) return 'gave-up';
    if (record.value.nextAttemptAt && record.value.nextAttemptAt > deps.clock.now()) return 'retry-scheduled';
    const retried = await claim(deps, record, { type: 'retry', action: decided });
    return retried ? act(deps, retried, connection) : 'owned-elsewhere';
  }
  if (state === 'Failed' && decided && connection && isOwnResult(record.value, connection, decided)) {
    // An action that failed after Azure accepted it (a provisioning timeout, a lost answer):
    // the connection carries Linkgate's own status and description, so it is Linkgate's result.
    const retried = await claim(deps, record, { type: 'retry', action: decided });
    return retried ? settle(deps, retried, connection, statusFor(decided)) : 'owned-elsewhere';
  }
  if (!connection) {
    await audit(deps, 'result', 'vanished', systemActor('workflow'), 'The connection was deleted before it was decided.', context);
    return (await transition(deps, record, { type: 'vanished' }, {})) ? 'vanished' : 'owned-elsewhere';
  }
  if (connection.status === undefined) return undefined;
  await audit(deps, 'result', 'decided-elsewhere', systemActor('workflow'), `Status was set to ${connection.status} outside Linkgate.`, {
    ...context,
    detail: { status: connection.status, description: connection.description },
  });
  return (await transition(deps, record, { type: 'changedElsewhere' }, { observedStatus: connection.rawStatus })) ? 'decided-elsewhere' : 'owned-elsewhere';
}

async function gatherFacts(deps: WorkflowDeps, connection: PrivateEndpointConnection): Promise<RequestFacts> {
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

export function newRecord(connection: PrivateEndpointConnection, hint: Hint, generation: number, now: Date): ApprovalRecord {
  return withoutUndefined({
    connection: connection.ref,
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

/**
 * A terminal record for a connection that reads Pending again means a new request reused
 * the name (the old connection was deleted first). Azure does not let a decided connection
 * go back to Pending, so a terminal Approved/Rejected record for the same endpoint is left
 * alone rather than decided twice.
 */
function isNewRequest(record: ApprovalRecord, connection: PrivateEndpointConnection): boolean {
  if (record.state === 'Vanished') return true;
  return (endpointKeyOf(connection) ?? '') !== (idKey(record.privateEndpointId) ?? '');
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

function isOwnResult(record: ApprovalRecord, connection: PrivateEndpointConnection, action: 'approve' | 'reject'): boolean {
  const target = statusFor(action);
  return reachedTarget(record, connection.status, target) && (record.statusDescription === undefined || connection.description === record.statusDescription);
}

function describeRuleDecision(action: 'approve' | 'reject', ruleName: string | undefined): string {
  return truncate(`${statusFor(action)} by Linkgate rule '${ruleName ?? 'default'}'.`, MAX_DESCRIPTION);
}

function requesterFields(facts: RequestFacts) {
  const tenant = facts.requesterTenant;
  return {
    requesterTenantId: tenant.kind === 'visible' ? tenant.tenantId : tenant.kind,
    requesterSubscriptionId: facts.privateEndpoint?.subscriptionId,
  };
}

