import type { ApprovalRecord, Versioned } from '../domain/approval.js';
import { isInFlight, isTerminal, nextState, targetStatusOf } from '../domain/approval-state-machine.js';
import { ruleActor, systemActor } from '../domain/audit.js';
import { endpointKeyOf, isProvisioningFinal, requestMessageOf, statusFor, type PrivateEndpointConnection } from '../domain/connection.js';
import { decide, type Decision, type RequesterTenant, type RequestFacts } from '../domain/policy/engine.js';
import { idKey } from '../domain/resource-id.js';
import { effectiveQuorum, resolveReview } from '../domain/review.js';
import { truncate } from '../shared/text.js';
import { mapLimit } from './map-limit.js';
import type { Hint, InventoryPort, RulesPort, TenantResolver } from './ports.js';
import type { ResourceRef } from '../domain/resource-id.js';
import { HintCoalescer } from './hint-coalescer.js';
import { withOverrides } from '../shared/delegate.js';
import { EffectQueue, observe, policyOnce, type ObservationOutcome, type Observed, type Policy } from './inventory.js';
import type { InventoryEntry, SeenVia } from '../domain/inventory.js';
import {
  act,
  audit,
  auditAction,
  auditContext,
  bufferAudit,
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
  /** How long the first hint for a resource waits for others to join its look (hint-coalescer.ts); 0 by default. */
  readonly hintDebounceMs?: number;
}

export interface WorkflowDeps extends StepDeps {
  readonly tenants: TenantResolver;
  readonly rules: RulesPort;
  readonly inventory: InventoryPort;
  readonly settings: WorkflowSettings;
  /** The object ID Linkgate calls ARM as, to recognise events about its own writes (none: every event is looked at). */
  readonly self?: () => Promise<string | undefined>;
}

/** Azure keeps at most 140 characters of a connection state's description. */
const MAX_DESCRIPTION = 140;

export interface Workflow {
  handleHint(hint: Hint): Promise<HintResult>;
}

/**
 * The hint use case: hint → re-read → decide → act → audit, for one resource at a time. Hints for
 * the same resource that arrive together share one look (hint-coalescer.ts). The steps it shares
 * with card clicks (claim, act, settle, fail) are in steps.ts.
 */
export function createWorkflow(deps: WorkflowDeps): Workflow {
  const coalescer = new HintCoalescer((hints) => handleHints(deps, hints), { debounceMs: deps.settings.hintDebounceMs ?? 0, sleep: (ms) => deps.clock.sleep(ms) });
  return { handleHint: async (hint) => ((await isOwnWrite(deps, hint)) ? ownWrite(deps, hint) : coalescer.submit(hint)) };
}

/**
 * An event about a write Linkgate made itself (its PUT of a connection's status): the look that
 * made the write follows it to the end, so the event brings nothing new and costs no ARM read. It
 * must name a connection (not a proxy: a request is never Linkgate's) and carry Linkgate's own
 * object ID as the caller; anything else, or an identity Linkgate cannot tell, is looked at.
 */
async function isOwnWrite(deps: WorkflowDeps, hint: Hint): Promise<boolean> {
  if (hint.source !== 'event' || !hint.callerObjectId || !deps.self) return false;
  if (!/\/privateendpointconnections\/write$/i.test(hint.operationName ?? '')) return false;
  if (!hint.subject || !idKey(hint.subject).startsWith(`${hint.resource.key}/privateendpointconnections/`)) return false;
  const self = await deps.self();
  return self !== undefined && self === hint.callerObjectId.toLowerCase();
}

async function ownWrite(deps: WorkflowDeps, hint: Hint): Promise<HintResult> {
  await audit(deps, 'hint', 'received', systemActor('resourceEvents'), `${hint.eventType ?? 'event'} ${hint.operationName ?? ''}: Linkgate's own write, nothing to look at`.trim(), {
    ...hintAuditKey(hint, deps.clock.now()),
    resourceId: hint.resource.key,
    correlationId: hint.eventId,
    detail: { eventType: hint.eventType, operationName: hint.operationName, subject: hint.subject, caller: hint.callerObjectId, ownWrite: true },
  });
  return { resourceId: hint.resource.id, resourceFound: true, outcomes: [] };
}

/** Looks again at one resource: decides its Pending connections and reconciles its open records. */
export function handleHint(deps: WorkflowDeps, hint: Hint, observation: ObserveOptions = {}): Promise<HintResult> {
  return handleHints(deps, [hint], observation);
}

/**
 * One look at a resource for one or more hints about it: one list from ARM and one read of its
 * approval records, whatever the number of hints. Audit entries are written together, each before
 * the state change or ARM call it describes (steps.ts bufferAudit).
 */
export async function handleHints(workflowDeps: WorkflowDeps, hints: readonly Hint[], observation: ObserveOptions = {}): Promise<HintResult> {
  const first = hints[0];
  if (!first) throw new RangeError('A look needs at least one hint');
  const { deps, flush } = bufferAudit(workflowDeps);
  try {
    const result = await look(deps, first.resource, hints, observation);
    await flush();
    return result;
  } catch (error) {
    // What was audited before the failure is still written; the failure itself is what the caller sees.
    await flush().catch(() => undefined);
    throw error;
  }
}

async function look(lookDeps: WorkflowDeps, resource: ResourceRef, hints: readonly Hint[], observation: ObserveOptions): Promise<HintResult> {
  const now = lookDeps.clock.now();
  // What this look's own steps wrote, so that observing a connection it just decided needs no read.
  const written = new Map<string, Versioned<ApprovalRecord>>();
  const deps: WorkflowDeps = {
    ...lookDeps,
    approvals: withOverrides(lookDeps.approvals, {
      create: async (record) => {
        const result = await lookDeps.approvals.create(record);
        if (result.kind === 'created') written.set(record.connection.key, result.record);
        return result;
      },
      replace: async (record, etag) => {
        const result = await lookDeps.approvals.replace(record, etag);
        if (result.kind === 'replaced') written.set(record.connection.key, result.record);
        return result;
      },
    }),
  };
  const seenEvents = new Set<string>();
  for (const hint of hints) {
    if (hint.source !== 'event') continue;
    // A redelivery within the same look is the same hint: one entry (the store keeps one anyway).
    const key = hint.eventId ?? `${seenEvents.size}`;
    if (seenEvents.has(key)) continue;
    seenEvents.add(key);
    await audit(deps, 'hint', 'received', systemActor('resourceEvents'), `${hint.eventType ?? 'event'} ${hint.operationName ?? ''}`.trim(), {
      ...hintAuditKey(hint, now),
      resourceId: hint.resource.key,
      correlationId: hint.eventId,
      detail: { eventType: hint.eventType, operationName: hint.operationName, subject: hint.subject, caller: hint.callerObjectId },
    });
  }
  // The resource's records in one partition read: the open ones are reconciled, the others tell
  // a new request from a decided one without a point read per connection.
  const [current, stored] = await Promise.all([deps.connections.list(resource), deps.approvals.listResource(resource)]);
  const records = new Map(stored.map((r) => [r.value.connection.key, r]));
  const outcomes: { connectionId: string; outcome: ConnectionOutcome }[] = [];

  const pending = (current ?? []).filter((c) => c.status === 'Pending');
  const pendingKeys = new Set(pending.map((c) => c.ref.key));
  const handled = await mapLimit(pending, deps.settings.concurrency, (c) => processPending(deps, c, hintFor(hints, c), { record: records.get(c.ref.key) }));
  pending.forEach((c, i) => outcomes.push({ connectionId: c.ref.id, outcome: handled[i] as ConnectionOutcome }));

  const byKey = new Map((current ?? []).map((c) => [c.ref.key, c]));
  for (const record of stored) {
    if (isTerminal(record.value.state)) continue;
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
  const observed = current ? await observeAll(deps, resource.key, current, outcomes, hints, { records: async () => records, own: written, ...observation }) : undefined;
  return { resourceId: resource.id, resourceFound: current !== undefined, outcomes, ...(observed ? { observed } : {}) };
}

/**
 * The hint whose claims speak for this connection: one that names it (its subject is the
 * connection or its proxy), else the first hint, without its claims if it names another
 * connection: an event about one connection says nothing about who asked for another.
 */
export function hintFor(hints: readonly Hint[], connection: Pick<PrivateEndpointConnection, 'ref'>): Hint {
  const named = hints.find((h) => h.callerObjectId !== undefined && subjectOf(h, connection) === 'this');
  if (named) return named;
  const first = hints[0] as Hint;
  if (first.callerObjectId === undefined || subjectOf(first, connection) !== 'another') return first;
  return { ...first, callerObjectId: undefined };
}

/** Whether a hint's subject is this connection (or its proxy), another connection of the resource, or neither. */
function subjectOf(hint: Hint, connection: Pick<PrivateEndpointConnection, 'ref'>): 'this' | 'another' | 'none' {
  const subject = hint.subject ? idKey(hint.subject) : undefined;
  if (!subject) return 'none';
  const { ref } = connection;
  const name = ref.name.toLowerCase();
  for (const kind of ['privateendpointconnections', 'privateendpointconnectionproxies']) {
    const prefix = `${ref.resource.key}/${kind}/`;
    if (!subject.startsWith(prefix)) continue;
    // The proxy's validate action names the proxy with one more segment.
    const named = subject.slice(prefix.length).split('/')[0];
    return named === name ? 'this' : 'another';
  }
  return 'none';
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
  hints: readonly Hint[],
  options: ObserveOptions & {
    readonly records?: () => Promise<ReadonlyMap<string, Versioned<ApprovalRecord>>>;
    /** What this look's own steps wrote, by connection key: it serves the connections they acted on. */
    readonly own?: ReadonlyMap<string, Versioned<ApprovalRecord>>;
  } = {},
): Promise<Partial<Record<ObservationOutcome, number>>> {
  const first = hints[0] as Hint;
  const known = await deps.inventory.indexOf(resourceKey);
  // The resource's records are read once, and only if some connection differs from the inventory.
  let recordsRead: Promise<ReadonlyMap<string, Versioned<ApprovalRecord>>> | undefined;
  const records = options.records ?? (() => (recordsRead ??= deps.approvals.listResource(first.resource).then((all) => new Map(all.map((r) => [r.value.connection.key, r])))));
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
      via: options.via ?? first.source,
      hint: hintFor(hints, connection),
      fromArm: true,
      ...(connection.rawStatus ? { readAs: connection.rawStatus } : {}),
      ...(options.tenantMemo ? { tenantMemo: options.tenantMemo } : {}),
      policy,
      effects,
      // One this hint's own steps wrote is read again by itself, so it is seen as it is now.
      ...(outcome === undefined ? { records } : ownRecord(options.own, connection.ref.key)),
    });
    counts[result.outcome] = (counts[result.outcome] ?? 0) + 1;
    if (result.entry) writes.push(result.entry);
  }
  await deps.inventory.write(writes);
  if (!options.effects) await effects.flush(deps);
  return counts;
}

/**
 * The record a look's own step wrote last, unless it has a posted card: the card's update moves
 * the record again (outside the look), so such a record is read afresh.
 */
function ownRecord(own: ReadonlyMap<string, Versioned<ApprovalRecord>> | undefined, key: string): { record: Versioned<ApprovalRecord> } | Record<string, never> {
  const record = own?.get(key);
  return record && record.value.card?.activityId === undefined ? { record } : {};
}

/**
 * A Pending connection: find or open its record, then take it one step further. `known` is the
 * record as the caller read it with its resource's others (absent: none was stored then); without
 * it the record is read here. A new record is created already claimed (Deciding, under a lease):
 * the insert that only one writer can win is the claim, so a new request costs one write, not two.
 */
export async function processPending(
  deps: WorkflowDeps,
  connection: PrivateEndpointConnection,
  hint: Hint,
  known?: { readonly record: Versioned<ApprovalRecord> | undefined },
): Promise<ConnectionOutcome> {
  const { approvals, clock } = deps;
  let record = known ? known.record : await approvals.get(connection.ref);
  if (!record) {
    const created = await approvals.create(claimed(deps, newRecord(connection, hint, 1, clock.now())));
    if (created.kind === 'created') return decideAndAct(deps, created.record, connection);
    // Another writer created it since it was read: taken as found.
    record = await approvals.get(connection.ref);
    if (!record) return 'owned-elsewhere';
  }
  if (isTerminal(record.value.state)) {
    if (!isNewRequest(record.value, connection)) return 'already-handled';
    const reopened = await approvals.replace(claimed(deps, newRecord(connection, hint, record.value.generation + 1, clock.now())), record.etag);
    if (reopened.kind === 'conflict') return 'owned-elsewhere';
    return decideAndAct(deps, reopened.record, connection);
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
    const reopened = await approvals.replace(claimed(deps, newRecord(connection, hint, record.value.generation + 1, clock.now())), closed.etag);
    if (reopened.kind === 'conflict') return 'owned-elsewhere';
    return decideAndAct(deps, reopened.record, connection);
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
  const statusDescription = automatic ? describeRuleDecision(automatic, decision.ruleName) : undefined;
  // An automatic decision's action entry goes out with the decision's, before the record says
  // Approving or Rejecting: the record is claimed under this look's lease, so only a lease that
  // ran out lets another writer in between, and then an entry says the status was not set here.
  const preAudited = automatic !== undefined && sameEndpoint(record.value, connection);
  if (preAudited) await auditAction(deps, { ...record.value, ...requester, ruleName: decision.ruleName, decidedBy: actor, statusDescription }, statusFor(automatic));
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
      statusDescription,
      leaseUntil: automatic ? leaseEnd(deps) : undefined,
      ...review,
      // Whoever makes this transition posts the card; the review timer takes over if that fails.
      ...(review?.reviewConversationId ? { card: { ...record.value.card, claimUntil: leaseEnd(deps) } } : {}),
    },
  );
  if (!decided) {
    if (preAudited) {
      await audit(deps, 'skip', 'skipped', systemActor('workflow'), `Another instance took the request over before the decision was recorded; the status was not set to ${statusFor(automatic)} here.`, context);
    }
    return 'owned-elsewhere';
  }
  if (decision.action === 'review') {
    deps.log.info(`${connection.ref.name}: awaiting review. ${decision.summary}`);
    await notifyReviews(deps, 'awaitingReview', decided);
    return 'awaiting-review';
  }
  if (decision.action === 'ignore') return 'ignored';
  return act(deps, decided, connection, { audited: preAudited });
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

/** A new record written already claimed: Deciding, under this writer's lease (the claim a Detected record would take next). */
function claimed(deps: WorkflowDeps, record: ApprovalRecord): ApprovalRecord {
  return { ...record, state: nextState(record.state, { type: 'claim' }), leaseUntil: leaseEnd(deps) };
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

