import type { ApprovalRecord, OutOfBandAlert, Versioned } from '../domain/approval.js';
import { isTerminal } from '../domain/approval-state-machine.js';
import { ruleActor, systemActor } from '../domain/audit.js';
import { endpointKeyOf, type PrivateEndpointConnection } from '../domain/connection.js';
import type { DecidedBy, InventoryEntry, InventoryIndexEntry, OutOfBandVerdict, SeenVia } from '../domain/inventory.js';

import { judgeOutOfBand, type OutOfBandJudgement, type RequesterTenant } from '../domain/policy/engine.js';
import { idKey, parseConnectionId } from '../domain/resource-id.js';
import { resolveReview } from '../domain/review.js';
import { randomUUID } from 'node:crypto';
import type { AuditInput, Clock, Hint, InventoryPort, RulesPort, TenantResolver } from './ports.js';
import { leaseEnd, notifyReviews, withoutUndefined, type StepDeps } from './steps.js';

/**
 * The inventory use case: what Linkgate sees of a connection is compared with what it recorded
 * before, and only a difference is written (src/domain/inventory.ts). A connection found Approved
 * that Linkgate did not approve is an out-of-band approval: the out-of-band rules ignore it or
 * flag it, and a flagged one becomes an alert for a person (an approval record awaiting review
 * with `alert`, whose card offers Reject and Keep, never Approve).
 *
 * What Linkgate observes comes from ARM (a hint's list, a re-read) or from Resource Graph (the
 * sweep); Resource Graph lags ARM, so nothing is ever acted on from it: an alert is only raised
 * after the connection was read again through ARM and judged again on what ARM said.
 */

/** What an observation needs of a connection: ARM's full reading or Resource Graph's row. */
export type Observed = Pick<PrivateEndpointConnection, 'ref' | 'rawStatus' | 'status' | 'privateEndpoint' | 'rawPrivateEndpointId'> & {
  readonly description?: string;
};

export interface InventoryDeps extends StepDeps {
  readonly inventory: InventoryPort;
  readonly rules: RulesPort;
  readonly tenants: TenantResolver;
  readonly settings: StepDeps['settings'] & { readonly homeTenantId: string };
}

/** How one observation came out, for the caller's counts. */
export type ObservationOutcome =
  | 'unchanged'
  | 'first-seen'
  | 'changed'
  /** Approved outside Linkgate: ignored by a rule. */
  | 'out-of-band-ignored'
  /** Approved outside Linkgate and flagged; an alert was raised (from ARM data) or is owed a re-read (from the graph). */
  | 'out-of-band-flagged'
  /** Resource Graph says flag: read it through ARM before anything is raised. */
  | 'needs-reread'
  /** Could not be judged now (a transient tenant lookup failure); nothing written, the next look tries again. */
  | 'deferred';

export interface ObservationContext {
  readonly via: SeenVia;
  readonly hint?: Hint;
  /** True when the observation is ARM's own reading (a flagged approval may then raise its alert at once). */
  readonly fromArm: boolean;
  /** The record Linkgate keeps for the connection, when the caller already read it (null: none; omitted: read it). */
  readonly record?: Versioned<ApprovalRecord> | null;
  /** Otherwise the records of the connection's resource, read once for many observations when first needed. */
  readonly records?: () => Promise<ReadonlyMap<string, Versioned<ApprovalRecord>>>;
  /** The status the connection had when read, when Linkgate has just changed it (recorded as first seen). */
  readonly readAs?: string;
  /** Memo of tenant lookups for one sweep, so each requester subscription is looked up once. */
  readonly tenantMemo?: Map<string, Promise<RequesterTenant>>;
  /** Where claims, audit entries and alerts wait to be done together; without it each is done at once. */
  readonly effects?: EffectQueue;
  /** The rules and hold, read once for many observations (a sweep, a hint's resource). */
  readonly policy?: () => Promise<Policy>;
}

export type Policy = Awaited<ReturnType<RulesPort['forDecision']>>;

/**
 * The rules as a batch of decisions sees them: read at most every `maxAgeMs` (a sweep decides
 * hundreds of connections; each would otherwise read the rules table), so a rule change or a
 * break-glass hold reaches a running sweep within that time. Writes go straight through.
 */
export function rulesForBatch(rules: RulesPort, clock: Clock, maxAgeMs: number): RulesPort {
  let read: { at: number; value: Promise<Policy> } | undefined;
  const batch = Object.create(rules) as RulesPort;
  batch.forDecision = () => {
    const now = clock.now().getTime();
    if (!read || now - read.at >= maxAgeMs) {
      const value = rules.forDecision();
      read = { at: now, value };
      value.catch(() => {
        if (read?.value === value) read = undefined;
      });
    }
    return read.value;
  };
  return batch;
}

/** Reads the rules once, on first need, for a batch of observations. */
export function policyOnce(rules: RulesPort): () => Promise<Policy> {
  let read: Promise<Policy> | undefined;
  return () => {
    read ??= rules.forDecision();
    read.catch(() => {
      read = undefined;
    });
    return read;
  };
}

/**
 * Compares one connection with its inventory entry (`previous`, undefined when never seen) and
 * returns the entry to write, if any, and what came of it. An out-of-band approval flagged from
 * ARM's reading raises its alert here.
 */
export async function observe(
  deps: InventoryDeps,
  connection: Observed,
  previous: InventoryIndexEntry | undefined,
  context: ObservationContext,
): Promise<{ readonly outcome: ObservationOutcome; readonly entry?: InventoryEntry }> {
  const status = connection.rawStatus ?? '(none)';
  const endpointKey = endpointKeyOf(connection as PrivateEndpointConnection);
  const sameEndpoint = previous !== undefined && previous.endpointKey === endpointKey;
  const unchanged = previous !== undefined && previous.status.toLowerCase() === status.toLowerCase() && sameEndpoint;
  if (unchanged) return { outcome: 'unchanged' };

  const now = deps.clock.now();
  const record =
    context.record !== undefined
      ? (context.record ?? undefined)
      : context.records
        ? (await context.records()).get(connection.ref.key)
        : await deps.approvals.get(connection.ref);
  const linkgate = decidedByLinkgate(record?.value, connection);
  const decidedBy: DecidedBy = connection.status === 'Pending' ? 'none' : linkgate ? 'linkgate' : 'elsewhere';
  const firstSeen = previous === undefined || !sameEndpoint;
  const subject = context.hint?.subject ? idKey(context.hint.subject) : undefined;
  const namedInEvent = context.hint?.callerObjectId && subject === connection.ref.key ? context.hint.callerObjectId : undefined;
  const requestEvent = context.hint?.callerObjectId && /privateendpointconnectionproxies/i.test(context.hint.operationName ?? '') ? context.hint.callerObjectId : undefined;

  let tenant: RequesterTenant | undefined;
  try {
    tenant = connection.privateEndpoint ? await lookupTenant(deps, connection.privateEndpoint.subscriptionId, context.tenantMemo) : { kind: 'unknown' };
  } catch (error) {
    deps.log.warn(`${connection.ref.id}: the requester's tenant could not be looked up (${(error as Error).message}); it is recorded at the next look.`);
    return { outcome: 'deferred' };
  }

  const base: InventoryEntry = withoutUndefined({
    connectionId: connection.ref.id,
    resourceId: connection.ref.resource.id,
    resourceType: connection.ref.resource.type.key,
    status,
    privateEndpointId: connection.privateEndpoint?.id ?? connection.rawPrivateEndpointId,
    requesterSubscriptionId: connection.privateEndpoint?.subscriptionId,
    requesterTenantId: tenant.kind === 'visible' ? tenant.tenantId.toLowerCase() : tenant.kind,
    firstSeenAt: firstSeen ? now : previous.firstSeenAt,
    firstSeenStatus: firstSeen ? (context.readAs ?? status) : previous.firstSeenStatus,
    firstSeenVia: firstSeen ? context.via : previous.firstSeenVia,
    createdBy: firstSeen ? (requestEvent ?? record?.value.requestedBy) : (previous.createdBy ?? record?.value.requestedBy),
    statusChangedAt: now,
    statusChangedBy: linkgate ? record?.value.decidedBy?.id : namedInEvent,
    decidedBy,
    decider: linkgate && record?.value.decidedBy ? `${record.value.decidedBy.type}:${record.value.decidedBy.id}` : undefined,
  }) as InventoryEntry;

  // What is audited is claimed first: of several observers (a hint and the sweep, two sweeps)
  // only the one whose conditional write lands writes the entry, its audit entry and its alert.
  const owe = async (entry: InventoryEntry, auditEntry: AuditInput, alert?: OwedAlert): Promise<void> => {
    const queue = context.effects ?? new EffectQueue();
    queue.add({ entry, expected: previous?.etag ?? (previous ? '*' : 'absent'), audit: { ...auditEntry, id: `inv-${randomUUID()}`, time: now }, ...(alert ? { alert } : {}) });
    if (!context.effects) await queue.flush(deps);
  };
  if (connection.status !== 'Approved' || linkgate) {
    if (!firstSeen && !linkgate && connection.status !== 'Pending' && !(record && !isTerminal(record.value.state))) {
      // A change nobody told Linkgate about, on a connection it has no open request for (an open
      // one is reconciled, and audited, by the workflow).
      await owe(base, {
        kind: 'result',
        outcome: 'decided-elsewhere',
        actor: systemActor('inventory'),
        summary: `Status changed from ${previous?.status} to ${status} outside Linkgate.`,
        resourceId: connection.ref.resource.key,
        connectionId: connection.ref.key,
        ...withoutUndefined({ privateEndpointId: base.privateEndpointId, requesterSubscriptionId: base.requesterSubscriptionId, requesterTenantId: base.requesterTenantId }),
        detail: { previousStatus: previous?.status, status, by: namedInEvent ?? null, via: context.via },
      });
      return { outcome: 'changed' };
    }
    return { outcome: firstSeen ? 'first-seen' : 'changed', entry: base };
  }

  // Approved, and not by Linkgate: out of band.
  if (record?.value.alert && !isTerminal(record.value.state) && sameAlertEndpoint(record.value, connection)) {
    return { outcome: 'out-of-band-flagged', entry: { ...base, outOfBand: 'flagged', ...(record.value.alert.ruleName ? { outOfBandRule: record.value.alert.ruleName } : {}) } };
  }
  const { rules, hold } = await (context.policy ?? (() => deps.rules.forDecision()))();
  const judgement = judgeOutOfBand(
    rules,
    { resource: connection.ref.resource, connectionName: connection.ref.name, privateEndpoint: connection.privateEndpoint, requesterTenant: tenant, requestMessage: undefined },
    deps.settings.homeTenantId,
    hold,
  );
  if (judgement.verdict === 'flag' && !context.fromArm) return { outcome: 'needs-reread' };
  const verdict: OutOfBandVerdict = judgement.verdict === 'flag' ? 'flagged' : 'ignored';
  const entry: InventoryEntry = { ...base, outOfBand: verdict, ...(judgement.ruleName ? { outOfBandRule: judgement.ruleName } : {}) };
  await owe(
    entry,
    {
      kind: 'decision',
      outcome: 'out-of-band',
      actor: judgement.ruleName ? ruleActor(judgement.ruleName) : systemActor('default-policy'),
      summary: `Approved outside Linkgate${namedInEvent ? ` by ${namedInEvent}` : ''}. ${judgement.summary}`,
      resourceId: connection.ref.resource.key,
      connectionId: connection.ref.key,
      ...withoutUndefined({ privateEndpointId: entry.privateEndpointId, requesterSubscriptionId: entry.requesterSubscriptionId, requesterTenantId: entry.requesterTenantId, ruleName: judgement.ruleName }),
      detail: { verdict, approvedBy: namedInEvent ?? null, description: connection.description ?? null, via: context.via, firstSeen, evaluations: judgement.evaluations },
    },
    verdict === 'flagged' ? { connection, judgement, record, approvedBy: namedInEvent, requesterTenantId: entry.requesterTenantId } : undefined,
  );
  return { outcome: verdict === 'flagged' ? 'out-of-band-flagged' : 'out-of-band-ignored' };
}

interface OwedAlert {
  readonly connection: Observed;
  readonly judgement: OutOfBandJudgement;
  readonly record: Versioned<ApprovalRecord> | undefined;
  readonly approvedBy: string | undefined;
  readonly requesterTenantId: string | undefined;
}

interface OwedEffect {
  readonly entry: InventoryEntry;
  readonly expected: string;
  readonly audit: AuditInput;
  readonly alert?: OwedAlert;
}

/**
 * Claims with their audit entries and alerts, done together: the claims in few requests (the
 * store inserts a resource's first-seen entries in one transaction), the audit entries of the
 * winners in few requests, then their alerts. An entry carries what it owes (`owed`) from its
 * claim until its audit entry and alert are done, so a crash in between is finished by a later
 * sweep (finishOwed) and nothing is lost or written twice (the audit entry keeps its id and time).
 */
export class EffectQueue {
  private readonly items: OwedEffect[] = [];

  get size(): number {
    return this.items.length;
  }

  add(effect: OwedEffect): void {
    this.items.push(effect);
  }

  async flush(deps: InventoryDeps): Promise<number> {
    const batch = this.items.splice(0);
    if (batch.length === 0) return 0;
    const claims = batch.map((effect) => ({ entry: { ...effect.entry, owed: owedJson(effect) }, expected: effect.expected }));
    const won = await deps.inventory.claimMany(claims);
    const winners = batch.filter((_, i) => won[i]);
    if (winners.length === 0) return 0;
    await deps.audit.appendMany(winners.map((w) => w.audit));
    for (const { alert } of winners) {
      if (alert) await raiseAlert(deps, alert.connection, alert.judgement, alert.record, { approvedBy: alert.approvedBy, requesterTenantId: alert.requesterTenantId });
    }
    await deps.inventory.write(winners.map((w) => w.entry));
    return winners.length;
  }
}

function owedJson(effect: OwedEffect): string {
  const audit = { ...effect.audit, time: effect.audit.time?.toISOString() };
  const alert = effect.alert ? { ruleName: effect.alert.judgement.ruleName ?? null, summary: effect.alert.judgement.summary, review: effect.alert.judgement.review ?? null, approvedBy: effect.alert.approvedBy ?? null } : undefined;
  const text = JSON.stringify({ audit, ...(alert ? { alert } : {}) });
  // A table property holds at most 32K characters: the evaluations go first when it would not fit.
  return text.length <= 30_000 ? text : JSON.stringify({ audit: { ...audit, detail: { truncated: true } }, ...(alert ? { alert } : {}) });
}

/**
 * Finishes what a crashed writer left owed: the audit entry (same id and time, so written once)
 * and the alert of a flagged approval (raised unless its record already holds one), then clears
 * the mark. Only entries marked longer ago than `settledMs` are taken, so a writer still at work
 * is left to finish.
 */
export async function finishOwed(deps: InventoryDeps, index: ReadonlyMap<string, InventoryIndexEntry>, settledMs = 5 * 60_000): Promise<number> {
  const partitions = new Set<string>();
  for (const [key, entry] of index) if (entry.owed) partitions.add(key.slice(0, key.toLowerCase().lastIndexOf('/privateendpointconnections/')));
  let finished = 0;
  for (const resourceKey of partitions) {
    for (const entry of await deps.inventory.listResource(resourceKey)) {
      if (!entry.owed) continue;
      let owed: { audit: AuditInput & { time?: string }; alert?: { ruleName: string | null; summary: string; review: unknown; approvedBy: string | null } };
      try {
        owed = JSON.parse(entry.owed) as typeof owed;
      } catch {
        owed = { audit: undefined as never };
      }
      const time = owed.audit?.time ? new Date(owed.audit.time) : undefined;
      if (time && deps.clock.now().getTime() - time.getTime() < settledMs) continue;
      if (owed.audit && time) await deps.audit.appendMany([{ ...owed.audit, time }]);
      if (owed.alert) {
        const ref = parseConnectionId(entry.connectionId);
        const record = await deps.approvals.get(ref);
        if (!(record?.value.alert && !isTerminal(record.value.state))) {
          const connection = await deps.connections.get(ref);
          if (connection?.status === 'Approved') {
            const judgement = { verdict: 'flag', ruleName: owed.alert.ruleName ?? undefined, summary: owed.alert.summary, shadowMatches: [], evaluations: [], ...(owed.alert.review ? { review: owed.alert.review } : {}) } as OutOfBandJudgement;
            await raiseAlert(deps, connection, judgement, record, { approvedBy: owed.alert.approvedBy ?? undefined, requesterTenantId: entry.requesterTenantId });
          }
        }
      }
      await deps.inventory.write([withoutUndefined({ ...entry, owed: undefined })]);
      finished += 1;
    }
  }
  return finished;
}

/** Linkgate set this status itself: its record says so, for the same endpoint. */
function decidedByLinkgate(record: ApprovalRecord | undefined, connection: Observed): boolean {
  if (!record) return false;
  const sameEndpoint = idKey(record.privateEndpointId) === undefined || endpointKeyOf(connection as PrivateEndpointConnection) === undefined || idKey(record.privateEndpointId) === endpointKeyOf(connection as PrivateEndpointConnection);
  if (!sameEndpoint) return false;
  // An alert's approval was made outside Linkgate; its rejection, if a person chose it, was Linkgate's.
  if (connection.status === 'Approved') return !record.alert && (record.state === 'Approved' || record.state === 'Approving');
  if (connection.status === 'Rejected' || connection.status === 'Disconnected') return record.state === 'Rejected' || record.state === 'Rejecting';
  return false;
}

function sameAlertEndpoint(record: ApprovalRecord, connection: Observed): boolean {
  const recorded = idKey(record.privateEndpointId);
  const current = endpointKeyOf(connection as PrivateEndpointConnection);
  return recorded === undefined || current === undefined || recorded === current;
}

function lookupTenant(deps: InventoryDeps, subscriptionId: string, memo: Map<string, Promise<RequesterTenant>> | undefined): Promise<RequesterTenant> {
  if (!memo) return deps.tenants.resolve(subscriptionId);
  const key = subscriptionId.toLowerCase();
  let pending = memo.get(key);
  if (!pending) {
    pending = deps.tenants.resolve(subscriptionId);
    // A failure is not remembered: the next connection from the subscription tries again.
    pending.catch(() => memo.delete(key));
    memo.set(key, pending);
  }
  return pending;
}

/**
 * A flagged out-of-band approval becomes a record awaiting review with its alert, in the
 * conversation the flag rule names (or the review default), and its card is posted. The record
 * replaces a terminal one (a closed earlier request under the same name) or an open one the
 * workflow has just closed; one that is still open and not an alert is left to the workflow.
 */
export async function raiseAlert(
  deps: InventoryDeps,
  connection: Observed,
  judgement: OutOfBandJudgement,
  existing: Versioned<ApprovalRecord> | undefined,
  known: { readonly approvedBy?: string; readonly requesterTenantId?: string },
): Promise<Versioned<ApprovalRecord> | undefined> {
  const now = deps.clock.now();
  const review = resolveReview(judgement.review, deps.settings.reviewDefaults, now);
  const alert: OutOfBandAlert = withoutUndefined({
    kind: 'out-of-band' as const,
    approvedBy: known.approvedBy,
    description: connection.description,
    observedAt: now,
    ruleName: judgement.ruleName,
    summary: judgement.summary,
  });
  const record: ApprovalRecord = withoutUndefined({
    connection: connection.ref,
    state: 'AwaitingReview' as const,
    generation: existing ? existing.value.generation + (existing.value.state === 'DecidedElsewhere' ? 0 : 1) : 1,
    privateEndpointId: connection.privateEndpoint?.id ?? connection.rawPrivateEndpointId,
    requesterSubscriptionId: connection.privateEndpoint?.subscriptionId,
    requesterTenantId: known.requesterTenantId,
    requestedBy: existing?.value.requestedBy,
    ruleName: judgement.ruleName,
    decisionSummary: judgement.summary,
    reviewConversationId: review.reviewConversationId,
    approvers: review.approvers,
    // One rejection ends an alert; keeping it is one person's call too.
    requiredApprovals: 1,
    remindAt: review.remindAt,
    alert,
    attempts: 0,
    detectedAt: existing?.value.detectedAt ?? now,
    updatedAt: now,
    ...(review.reviewConversationId ? { card: { claimUntil: leaseEnd(deps) } } : {}),
  }) as ApprovalRecord;
  if (existing && !isTerminal(existing.value.state)) {
    deps.log.warn(`${connection.ref.id}: approved outside Linkgate while its request is still open; the workflow reconciles it first.`);
    return undefined;
  }
  const written = existing ? await deps.approvals.replace(record, existing.etag) : await deps.approvals.create(record);
  if (written.kind !== 'created' && written.kind !== 'replaced') return undefined; // another instance raised it
  if (!review.reviewConversationId) {
    deps.log.error(`${connection.ref.id} was approved outside Linkgate and flagged, but no review conversation is configured (LINKGATE_REVIEW_CONVERSATION): nobody was told.`);
    return written.record;
  }
  await notifyReviews(deps, 'awaitingReview', written.record);
  return written.record;
}

