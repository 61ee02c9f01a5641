import type { ApprovalRecord, GiveUp, Versioned } from '../domain/approval.js';
import { isInFlight, nextState, targetStatusOf, type ApprovalEvent } from '../domain/approval-state-machine.js';
import { auditActor, systemActor, type Actor, type AuditKind, type AuditOutcome } from '../domain/audit.js';
import { endpointKeyOf, isProvisioningFinal, type ConnectionStatus, type PrivateEndpointConnection } from '../domain/connection.js';
import { LinkgateError } from '../domain/errors.js';
import { idKey, type ConnectionRef } from '../domain/resource-id.js';
import { resolveReview, type ReviewDefaults } from '../domain/review.js';
import { withOverrides } from '../shared/delegate.js';
import type { ApprovalsPort, AuditInput, AuditPort, CallOptions, Clock, ConnectionsPort, Logger, OperationPoll, OperationRef } from './ports.js';

/**
 * The steps a hint and a click share: claim a record, act on its decision, settle the result,
 * record a failure, release a lease. Every state change is an ETag-conditioned write to the
 * approval record, and only the writer that wins goes on. Audit entries are written before the
 * state change they describe, so a crash can repeat an entry but never lose one.
 */

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
  | 'gave-up'
  /** Failed earlier; the next attempt is not due yet (nextAttemptAt). */
  | 'retry-scheduled'
  /** Azure accepted the change but provisioning is not final yet; a later hint or the sweep settles it. */
  | 'in-progress';

export interface StepSettings {
  /** How long an instance owns an in-flight step before another may take it over. */
  readonly leaseMs: number;
  /** How long to wait for provisioningState to become final after a PUT. */
  readonly actionTimeoutMs: number;
  /**
   * The shortest and the longest wait between two polls after a PUT (LINKGATE_POLL_MIN_MS,
   * LINKGATE_POLL_MAX_MS). Azure's Retry-After is held within them: a 0 does not turn into a
   * burst of reads, and an hour does not outlast the action's timeout.
   */
  readonly pollMinMs: number;
  readonly pollMaxMs: number;
  /** Attempts per request before Linkgate gives up and sends the connection to a person. */
  readonly maxAttempts: number;
  /** The wait after the first failed attempt; each later wait doubles (see retryDelayMs). */
  readonly retryBaseMs: number;
  /** Where a connection goes when Linkgate gives up, unless its own review says otherwise. */
  readonly reviewDefaults: ReviewDefaults;
}

/** No wait between attempts grows beyond this, however many attempts are configured. */
export const MAX_RETRY_DELAY_MS = 60 * 60_000;

/**
 * The wait before attempt `failures + 1`: base, 2×base, 4×base, … capped at MAX_RETRY_DELAY_MS.
 * A burst of duplicate hints (Event Grid redelivers, ARM raises several events per request)
 * then finds the record waiting instead of spending every attempt within a second.
 */
export function retryDelayMs(settings: Pick<StepSettings, 'retryBaseMs'>, failures: number): number {
  return Math.min(settings.retryBaseMs * 2 ** Math.max(0, failures - 1), MAX_RETRY_DELAY_MS);
}

/** Human review reacts to these; they never fail a step (the review timer catches up). */
export interface ReviewHooks {
  awaitingReview(record: Versioned<ApprovalRecord>): Promise<void>;
  /** A record that has a posted card changed state. */
  cardStale(record: Versioned<ApprovalRecord>): Promise<void>;
}

export interface StepDeps {
  readonly connections: ConnectionsPort;
  readonly approvals: ApprovalsPort;
  readonly audit: AuditPort;
  readonly clock: Clock;
  readonly log: Logger;
  readonly settings: StepSettings;
  readonly hooks: ReviewHooks;
}

export interface ActOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** The action's entry was audited with the decision (workflow.ts decideAndAct). */
  readonly audited?: boolean;
}

export function leaseEnd(deps: Pick<StepDeps, 'clock' | 'settings'>): Date {
  return new Date(deps.clock.now().getTime() + deps.settings.leaseMs);
}

/**
 * Moves a record through the state machine with one conditioned write; `undefined` when another
 * writer won. A record whose posted card now shows an old state is marked, and its card updated.
 */
export async function transition(
  deps: StepDeps,
  record: Versioned<ApprovalRecord>,
  event: ApprovalEvent,
  patch: Partial<ApprovalRecord>,
): Promise<Versioned<ApprovalRecord> | undefined> {
  const state = nextState(record.value.state, event);
  const base: ApprovalRecord = { ...record.value, ...patch, state, updatedAt: deps.clock.now() };
  // In-flight states are not pushed to the card: the clicker's own answer shows them, and an
  // update here would move the record's ETag under the caller that is about to act on it.
  // A patch may also mark the card stale itself: it changed what the card shows without a new state.
  const cardStale = base.card?.activityId !== undefined && !isInFlight(state) && (base.card.shownState !== state || patch.card?.stale === true);
  const next: ApprovalRecord = base.card ? { ...base, card: { ...base.card, stale: cardStale || undefined } } : base;
  const written = await deps.approvals.replace(isInFlight(state) ? next : { ...next, leaseUntil: undefined }, record.etag);
  if (written.kind !== 'replaced') return undefined;
  if (cardStale) await notifyReviews(deps, 'cardStale', written.record);
  return written.record;
}

/** Takes an in-flight step (deciding, approving, rejecting) under a fresh lease; `undefined` when another writer won. */
export function claim(
  deps: StepDeps,
  record: Versioned<ApprovalRecord>,
  event: ApprovalEvent,
  patch: Partial<ApprovalRecord> = {},
): Promise<Versioned<ApprovalRecord> | undefined> {
  return transition(deps, record, event, { ...patch, leaseUntil: leaseEnd(deps) });
}

export async function notifyReviews(deps: Pick<StepDeps, 'hooks' | 'log'>, hook: keyof ReviewHooks, record: Versioned<ApprovalRecord>): Promise<void> {
  try {
    await deps.hooks[hook](record);
  } catch (error) {
    // Cards are best effort here; the review timer posts or updates what is still owed.
    deps.log.warn(`Teams ${hook} for ${record.value.connection.name} failed: ${(error as Error).message}`);
  }
}

/**
 * Approving or Rejecting → the PUT, a wait for a final provisioning state, and the result.
 * When provisioning takes longer than `timeoutMs` (or the caller's signal ends the wait), the PUT
 * may have been accepted: the record stays in flight with its lease released, so the completion
 * event, a redelivery or the sweep settles it, and the outcome is `in-progress`.
 */
export async function act(
  deps: StepDeps,
  record: Versioned<ApprovalRecord>,
  connection: PrivateEndpointConnection,
  options: ActOptions = {},
): Promise<ConnectionOutcome> {
  const target = targetStatusOf(record.value.state);
  if (!sameEndpoint(record.value, connection)) {
    // Never approve or reject an endpoint other than the one that was decided on.
    return settle(deps, record, undefined, target);
  }
  const call: CallOptions = options.signal ? { signal: options.signal } : {};
  const description = record.value.statusDescription ?? `${target} by Linkgate.`;
  if (!options.audited) await auditAction(deps, record.value, target);
  try {
    let result = await deps.connections.setStatus(connection.ref, { status: target, description, etag: connection.etag, ...endpointOf(connection) }, call);
    if (result.kind === 'conflict') {
      // The connection moved on since it was read. If it still reads as it did before the
      // decision (Pending, or Approved for an out-of-band alert), write once more against its
      // new ETag; otherwise someone else decided and that is recorded below.
      const fresh = await deps.connections.get(connection.ref, call);
      if (fresh?.status !== undecidedStatus(record.value)) return settle(deps, record, fresh, target);
      result = await deps.connections.setStatus(connection.ref, { status: target, description, etag: fresh.etag, ...endpointOf(fresh) }, call);
      if (result.kind === 'conflict') throw new LinkgateError(`The connection kept changing while ${target.toLowerCase()}: ${result.message}`);
    }
    if (result.kind === 'gone') return settle(deps, record, undefined, target);
    if (result.kind === 'refused') {
      const fresh = await deps.connections.get(connection.ref, call);
      if (fresh?.status !== undecidedStatus(record.value)) return settle(deps, record, fresh, target);
      await fail(deps, record, new LinkgateError(`Azure refused the change: ${result.message}`), 'acting');
      return 'failed';
    }
    const final = await waitUntilFinal(deps, connection.ref, options.timeoutMs ?? deps.settings.actionTimeoutMs, call, result.operation);
    if (final.kind === 'final') return settle(deps, record, final.connection, target);
    deps.log.warn(`${record.value.connection.name}: the ${target.toLowerCase()} did not finish in time (${final.reason}); it is retried`);
    await releaseLease(deps, record);
    return 'in-progress';
  } catch (error) {
    if (options.signal?.aborted) {
      // The PUT may or may not have landed; either way the record stays in flight, and a
      // resumed PUT (idempotent) or the next reconcile finishes it.
      deps.log.warn(`${record.value.connection.name}: the ${target.toLowerCase()} did not finish in time (${(error as Error).message}); it is retried`);
      await releaseLease(deps, record);
      return 'in-progress';
    }
    await fail(deps, record, error, 'acting');
    throw error;
  }
}

/** The entry that says what is about to be sent: the status and the description, and who decided. */
export function auditAction(deps: Pick<StepDeps, 'audit'>, record: ApprovalRecord, target: 'Approved' | 'Rejected') {
  const description = record.statusDescription ?? `${target} by Linkgate.`;
  return audit(deps, 'action', target === 'Approved' ? 'approve' : 'reject', decider(record), `Setting status to ${target}: "${description}"`, auditContext(record));
}

export type ProvisioningWait =
  | { readonly kind: 'final'; readonly connection: PrivateEndpointConnection | undefined }
  | { readonly kind: 'timed-out'; readonly reason: string };

export type PollDeps = Pick<StepDeps, 'connections' | 'clock' | 'log'> & { readonly settings: Pick<StepSettings, 'pollMinMs' | 'pollMaxMs'> };

/**
 * Waits until the connection's provisioning state is final after an accepted PUT, or until
 * `timeoutMs` has passed.
 *
 * With an `operation` from the PUT (its Azure-AsyncOperation or Location URL), the operation is
 * polled as ARM's docs ("Track asynchronous Azure operations") ask: each wait is the Retry-After
 * of the answer before it (the PUT's, then each poll's), in seconds or as a date. Providers
 * differ (in the local emulator's fixtures, which follow their specifications: Key Vault answers
 * 200 with Azure-AsyncOperation, Container Registry 201 with it, SQL, Cosmos DB and PostgreSQL 202
 * with a Location, App Service 202 with the connection and a Location, Storage 200 and nothing
 * to follow), so every wait is held within pollMinMs and pollMaxMs, and an answer without
 * Retry-After waits as the re-reads do. Once the operation is done, whatever it says, the
 * connection is read once (unless the Location's final answer carried it): the connection, not the
 * operation, says whether the change took effect (settle judges it), and a connection still
 * provisioning is re-read until it is final.
 *
 * Without an operation, or when polling it fails or answers something not understood, the
 * connection itself is re-read: 250 ms, then twice as long each time, at most 5 s.
 */
export async function waitUntilFinal(
  deps: PollDeps,
  ref: ConnectionRef,
  timeoutMs: number,
  call: CallOptions,
  operation?: OperationRef,
): Promise<ProvisioningWait> {
  const deadline = deps.clock.now().getTime() + timeoutMs;
  const nextWait = pollPacing(deps.settings);
  let carried: PrivateEndpointConnection | undefined;
  if (operation) {
    const followed = await followOperation(deps, ref, operation, { deadline, nextWait, call });
    if (followed.kind === 'timed-out') return { kind: 'timed-out', reason: `the operation was still running after ${timeoutMs} ms` };
    if (followed.kind === 'done') carried = followed.connection;
  }
  let current = carried ?? (await deps.connections.get(ref, call));
  for (;;) {
    if (!current || isProvisioningFinal(current.provisioningState, current.ref.resource.type)) return { kind: 'final', connection: current };
    const wait = nextWait(undefined);
    if (deps.clock.now().getTime() + wait > deadline) {
      return { kind: 'timed-out', reason: `provisioningState stayed '${current.provisioningState}' for ${timeoutMs} ms` };
    }
    await pause(deps, wait, call);
    current = await deps.connections.get(ref, call);
  }
}

/** The first re-read waits this long after the PUT, and each later one twice as long as the one before, up to FALLBACK_MAX_MS. */
const FALLBACK_FIRST_MS = 250;
const FALLBACK_MAX_MS = 5_000;

/**
 * The wait before the next poll: Azure's Retry-After when it gave one, else the growing
 * fallback spacing; either held within [pollMinMs, pollMaxMs].
 */
export function pollPacing(settings: Pick<StepSettings, 'pollMinMs' | 'pollMaxMs'>): (retryAfterMs: number | undefined) => number {
  let fallback = FALLBACK_FIRST_MS;
  return (retryAfterMs) => {
    let wait = retryAfterMs;
    if (wait === undefined) {
      wait = fallback;
      fallback = Math.min(fallback * 2, FALLBACK_MAX_MS);
    }
    return Math.min(Math.max(wait, settings.pollMinMs), settings.pollMaxMs);
  };
}

type Followed =
  | { readonly kind: 'done'; readonly connection: PrivateEndpointConnection | undefined }
  | { readonly kind: 'timed-out' }
  /** Polling failed or was not understood: the connection is re-read instead. */
  | { readonly kind: 'not-followed' };

async function followOperation(
  deps: PollDeps,
  ref: ConnectionRef,
  first: OperationRef,
  wait: { readonly deadline: number; readonly nextWait: (retryAfterMs: number | undefined) => number; readonly call: CallOptions },
): Promise<Followed> {
  const poll = deps.connections.pollOperation?.bind(deps.connections);
  if (!poll) return { kind: 'not-followed' };
  let operation = first;
  let retryAfterMs = first.retryAfterMs;
  for (;;) {
    const ms = wait.nextWait(retryAfterMs);
    if (deps.clock.now().getTime() + ms > wait.deadline) return { kind: 'timed-out' };
    await pause(deps, ms, wait.call);
    let answer: OperationPoll;
    try {
      answer = await poll(ref, operation, wait.call);
    } catch (error) {
      if (wait.call.signal?.aborted) throw error;
      deps.log.warn(`${ref.name}: following the change through its ${operation.kind === 'location' ? 'Location' : 'Azure-AsyncOperation'} URL failed (${(error as Error).message}); reading the connection instead`);
      return { kind: 'not-followed' };
    }
    if (answer.kind === 'done') {
      if (answer.status === 'Unknown') deps.log.info(`${ref.name}: Azure no longer knows the operation (404); reading the connection`);
      else if (answer.status !== 'Succeeded') deps.log.warn(`${ref.name}: Azure reports the operation ${answer.status}${answer.message ? ` (${answer.message})` : ''}; the connection says how it ended`);
      return { kind: 'done', connection: answer.connection };
    }
    operation = answer.operation ?? operation;
    retryAfterMs = answer.retryAfterMs;
  }
}

/** Sleeps on the clock, and throws once the caller's signal has ended the wait. */
async function pause(deps: Pick<StepDeps, 'clock'>, ms: number, call: CallOptions): Promise<void> {
  call.signal?.throwIfAborted();
  await deps.clock.sleep(ms, call.signal);
  call.signal?.throwIfAborted();
}

/** Lets another instance take the step over at once: the record stays in flight, its lease ends now. */
export async function releaseLease(deps: StepDeps, record: Versioned<ApprovalRecord>): Promise<void> {
  const latest = await deps.approvals.get(record.value.connection);
  if (latest && isInFlight(latest.value.state)) {
    await transition(deps, latest, { type: 'resume' }, { leaseUntil: deps.clock.now() });
  }
}

/**
 * The status a connection reads while its record still waits for Linkgate's decision: Pending
 * for a request, Approved for an out-of-band alert (approved outside Linkgate, waiting for a
 * person to reject or keep it).
 */
export function undecidedStatus(record: ApprovalRecord): 'Pending' | 'Approved' {
  return record.alert ? 'Approved' : 'Pending';
}

/**
 * Whether a connection's status is the result of setting `target`. Rejecting a connection that
 * was already approved (an out-of-band alert) disconnects it, and some providers then report
 * `Disconnected` rather than `Rejected` (which one is not documented): both mean it took effect.
 */
export function reachedTarget(record: ApprovalRecord, status: ConnectionStatus | undefined, target: 'Approved' | 'Rejected'): boolean {
  if (status === target) return true;
  return target === 'Rejected' && record.alert !== undefined && status === 'Disconnected';
}

/** Records what the connection turned out to be after an action. */
export async function settle(
  deps: StepDeps,
  record: Versioned<ApprovalRecord>,
  connection: PrivateEndpointConnection | undefined,
  target: 'Approved' | 'Rejected',
): Promise<ConnectionOutcome> {
  const context = auditContext(record.value);
  if (!connection) return foundElsewhere(deps, record, undefined);
  if (connection.provisioningState?.toLowerCase() === 'failed') {
    await fail(deps, record, new LinkgateError(`provisioningState is Failed after setting ${target}`), 'acting');
    return 'failed';
  }
  if (reachedTarget(record.value, connection.status, target)) {
    const outcome = target === 'Approved' ? 'approved' : 'rejected';
    const reported = connection.status === target ? '' : ` (Azure reports the connection as ${connection.rawStatus ?? connection.status})`;
    await audit(deps, 'result', outcome, decider(record.value), `${target}${reported}: "${connection.description ?? ''}"`, {
      ...context,
      ...(record.value.alert ? { detail: { status: connection.rawStatus ?? null } } : {}),
    });
    return (await transition(deps, record, { type: 'confirmed' }, {})) ? outcome : 'owned-elsewhere';
  }
  if (connection.status === undecidedStatus(record.value)) {
    await fail(deps, record, new LinkgateError(`Azure accepted ${target} but the connection still reads ${connection.status}`), 'acting');
    return 'failed';
  }
  return foundElsewhere(deps, record, connection);
}

/**
 * The connection is gone, or someone else set its status first: audited, and the record closed
 * as Vanished or DecidedElsewhere with one conditioned write (the loser of a race writes nothing).
 */
export async function foundElsewhere(
  deps: StepDeps,
  record: Versioned<ApprovalRecord>,
  connection: PrivateEndpointConnection | undefined,
): Promise<ConnectionOutcome> {
  const context = auditContext(record.value);
  if (!connection) {
    await audit(deps, 'result', 'vanished', systemActor('workflow'), 'The connection was gone before the change took effect.', context);
    return (await transition(deps, record, { type: 'vanished' }, {})) ? 'vanished' : 'owned-elsewhere';
  }
  await audit(
    deps,
    'result',
    'decided-elsewhere',
    systemActor('workflow'),
    `Someone else set the status to ${connection.rawStatus ?? 'unknown'} first; left as it is.`,
    { ...context, detail: { status: connection.rawStatus, description: connection.description } },
  );
  return (await transition(deps, record, { type: 'changedElsewhere' }, { observedStatus: connection.rawStatus })) ? 'decided-elsewhere' : 'owned-elsewhere';
}

/**
 * Audits a failure and moves the record to Failed with the time of its next attempt, so that
 * hints before then spend nothing and the retry timer tries again when it comes. The attempt
 * that reaches `maxAttempts` gives up instead (giveUp). Never throws: the original error is
 * what the caller rethrows.
 */
export async function fail(deps: StepDeps, record: Versioned<ApprovalRecord>, error: unknown, during: string): Promise<void> {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  deps.log.error(`${record.value.connection.name}: ${during} failed: ${message}`);
  try {
    // The record may have moved on (a stale copy); the state machine only allows Failed from in-flight states.
    const latest = await deps.approvals.get(record.value.connection);
    if (!latest || !isInFlight(latest.value.state)) {
      await audit(deps, 'error', 'failed', systemActor('workflow'), `Failed while ${during}: ${message}`, {
        ...auditContext(record.value),
        detail: { error: message, attempt: record.value.attempts + 1 },
      });
      return;
    }
    const attempts = latest.value.attempts + 1;
    const givingUp = attempts >= deps.settings.maxAttempts;
    const nextAttemptAt = givingUp ? undefined : new Date(deps.clock.now().getTime() + retryDelayMs(deps.settings, attempts));
    await audit(
      deps,
      'error',
      'failed',
      systemActor('workflow'),
      `Failed while ${during} (attempt ${attempts} of ${deps.settings.maxAttempts}): ${message}${nextAttemptAt ? `. Next attempt at ${nextAttemptAt.toISOString()}.` : ''}`,
      { ...auditContext(latest.value), detail: { error: message, attempt: attempts, maxAttempts: deps.settings.maxAttempts, nextAttemptAt: nextAttemptAt?.toISOString() ?? null } },
    );
    const failed = await transition(deps, latest, { type: 'failed' }, { attempts, lastError: message.slice(0, 1000), nextAttemptAt });
    if (failed && givingUp) await giveUp(deps, failed, { during: describeStep(latest.value, during), attempts, error: message.slice(0, 1000), at: deps.clock.now() });
  } catch (secondary) {
    // Losing this bookkeeping only delays a retry until the lease ends.
    deps.log.error(`Could not record the failure: ${(secondary as Error).message}`);
  }
}

/**
 * The last attempt failed: Linkgate stops trying by itself and hands the connection to a
 * person, so that nothing stays Pending unnoticed. With a review conversation (the record's
 * own, else LINKGATE_REVIEW_CONVERSATION), the record goes back to AwaitingReview with what
 * failed; its card shows the error and approvers decide as in any review, and a failure of
 * their decision is retried afresh. Without one, the record stays Failed and the error is
 * logged and audited, for an operator to act on in the portal.
 */
export async function giveUp(deps: StepDeps, record: Versioned<ApprovalRecord>, failure: GiveUp): Promise<Versioned<ApprovalRecord> | undefined> {
  const value = record.value;
  const defaults = resolveReview(undefined, deps.settings.reviewDefaults, deps.clock.now());
  const conversation = value.reviewConversationId ?? defaults.reviewConversationId;
  const what = `Linkgate gave up after ${failure.attempts} attempt${failure.attempts === 1 ? '' : 's'} while ${failure.during}: ${failure.error}`;
  const context = { ...auditContext(value), detail: { ...failure, at: failure.at.toISOString(), conversationId: conversation ?? null } };
  if (!conversation) {
    deps.log.error(`${value.connection.id}: ${what}. No review conversation is configured (LINKGATE_REVIEW_CONVERSATION), so nobody was asked; the connection stays Pending until someone decides it in the portal.`);
    await audit(deps, 'error', 'failed', systemActor('workflow'), `${what}. No review conversation is configured: decide the connection in the portal.`, context);
    return undefined;
  }
  await audit(deps, 'error', 'failed', systemActor('workflow'), `${what}. Sent to review in Teams conversation ${conversation} for a person to decide.`, context);
  const hasCard = value.card?.activityId !== undefined;
  const escalated = await transition(
    deps,
    record,
    { type: 'escalated' },
    {
      reviewConversationId: conversation,
      approvers: value.approvers && value.approvers.length > 0 ? value.approvers : defaults.approvers,
      requiredApprovals: value.requiredApprovals ?? defaults.requiredApprovals,
      approvals: [],
      failure,
      // A person's decision starts a fresh count of attempts.
      attempts: 0,
      nextAttemptAt: undefined,
      remindAt: defaults.remindAt,
      remindedAt: undefined,
      // No expiry: a review that expires would leave the connection Pending with nobody asked.
      expiresAt: undefined,
      card: hasCard ? { ...value.card, stale: true } : { ...value.card, claimUntil: leaseEnd(deps) },
    },
  );
  if (escalated && !hasCard) await notifyReviews(deps, 'awaitingReview', escalated);
  return escalated;
}

/** What failed, in words a person reads on the card: "setting the status to Approved" rather than "acting". */
function describeStep(record: ApprovalRecord, during: string): string {
  const state = record.state;
  if (during === 'acting' && (state === 'Approving' || state === 'Rejecting')) return `setting the status to ${targetStatusOf(state)}`;
  return during;
}

/**
 * Audit entries written together: within one look, entries are queued and go out as one
 * `appendMany` (one transaction per partition: the resource's and the month's) right before the
 * next approval-record replace, the next ARM write, or the end of the look, whichever comes first.
 * So every entry is still stored before the state change it describes, and a crash can repeat an
 * entry (the store keeps one per id and time) but never lose one. A failed write keeps its entries
 * queued, so the state change waiting on it fails too and the next flush tries them again.
 */
export function bufferAudit<D extends StepDeps>(deps: D): { deps: D; flush(): Promise<void> } {
  let queued: AuditInput[] = [];
  let writing: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    const run = writing.then(async () => {
      if (queued.length === 0) return;
      const batch = queued;
      queued = [];
      try {
        await deps.audit.appendMany(batch);
      } catch (error) {
        queued = [...batch, ...queued];
        throw error;
      }
    });
    writing = run.catch(() => undefined);
    return run;
  };
  // Entries of one look keep the order they were made in: the store lists entries of the same
  // millisecond by id, not by when they were made, so each queued entry without a time of its own
  // is at least a millisecond after the one before.
  let last = 0;
  const timed = (entry: AuditInput): AuditInput => {
    if (entry.time) return entry;
    last = Math.max(deps.clock.now().getTime(), last + 1);
    return { ...entry, time: new Date(last) };
  };
  const audit: AuditPort = {
    append: async (entry) => {
      queued.push(timed(entry));
    },
    appendMany: async (entries) => {
      queued.push(...entries.map(timed));
      await flush();
    },
  };
  // A record is created as a new request's claim, which no entry describes: what is queued goes
  // out with the next write that one does describe (a redelivered event is audited again under
  // its own id and time, so a crash in between loses nothing).
  const approvals = withOverrides<ApprovalsPort>(deps.approvals, {
    replace: async (record, etag) => {
      await flush();
      return deps.approvals.replace(record, etag);
    },
  });
  const connections = withOverrides<ConnectionsPort>(deps.connections, {
    setStatus: async (ref, change, options) => {
      await flush();
      return deps.connections.setStatus(ref, change, options);
    },
  });
  return { deps: { ...deps, audit, approvals, connections }, flush };
}

export type AuditFields = Omit<AuditInput, 'kind' | 'outcome' | 'actor' | 'summary'>;

export function audit(deps: Pick<StepDeps, 'audit'>, kind: AuditKind, outcome: AuditOutcome, actor: Actor, summary: string, fields: AuditFields) {
  return deps.audit.append({ kind, outcome, actor, summary, ...withoutUndefined(fields) });
}

/** What every audit entry about a record names: the resource, the connection, the requester, the rule. */
export function auditContext(record: ApprovalRecord) {
  return withoutUndefined({
    resourceId: record.connection.resource.key,
    connectionId: record.connection.key,
    privateEndpointId: record.privateEndpointId,
    requesterSubscriptionId: record.requesterSubscriptionId,
    requesterTenantId: record.requesterTenantId,
    requestMessage: record.requestMessage,
    ruleName: record.ruleName,
  });
}

/** The approve/reject a record already carries (from a rule or a person), if any. */
export function decidedAction(record: ApprovalRecord): 'approve' | 'reject' | undefined {
  return record.decisionAction === 'approve' || record.decisionAction === 'reject' ? record.decisionAction : undefined;
}

/** False only when both endpoints are known and differ: the connection belongs to another request. */
export function sameEndpoint(record: ApprovalRecord, connection: PrivateEndpointConnection): boolean {
  const current = endpointKeyOf(connection);
  const recorded = idKey(record.privateEndpointId);
  return current === undefined || recorded === undefined || current === recorded;
}

/** Who the action and its result are audited as: whoever decided, or the workflow itself. */
export function decider(record: ApprovalRecord): Actor {
  return record.decidedBy ? auditActor(record.decidedBy) : systemActor('workflow');
}

export function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** The PUT carries the endpoint back as Azure reported it: Azure Policy definitions that restrict approvals evaluate it. */
function endpointOf(connection: PrivateEndpointConnection): { privateEndpointId?: string } {
  return connection.rawPrivateEndpointId ? { privateEndpointId: connection.rawPrivateEndpointId } : {};
}
