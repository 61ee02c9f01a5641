import { odata, type TableClient, type TableEntityResult } from '@azure/data-tables';
import type { ApprovalsPort, CreateResult, ReplaceResult } from '../../app/ports.js';
import type { ApprovalRecord, ApprovalVote, CardState, GiveUp, OutOfBandAlert, Versioned } from '../../domain/approval.js';
import { ACTOR_TYPES, type Actor, type ActorType } from '../../domain/audit.js';
import { APPROVAL_STATES, isTerminal, type ApprovalState } from '../../domain/approval-state-machine.js';
import { InvalidInputError } from '../../domain/errors.js';
import { RULE_ACTIONS, type RuleAction } from '../../domain/policy/rule.js';
import { parseConnectionId, type ConnectionRef, type ResourceRef } from '../../domain/resource-id.js';
import { asDate, ensureTable, isTableError } from './table-clients.js';

/**
 * Table `approvals`: one row per private endpoint connection, moved only by ETag-conditioned
 * writes (a 412 means another instance won; the loser re-reads and moves on).
 *
 *   PartitionKey  encodeURIComponent(lower-case resource ID)   all connections of one resource together
 *                 (the ID names the type, so resources of every type share the table)
 *   RowKey        encodeURIComponent(lower-case connection name)
 *   open          true while the state is not terminal
 *
 * Queries served:
 *   - one connection's record: point read (PK + RK);
 *   - a resource's open records, to reconcile after a hint: one partition, filter `open eq true`;
 *   - a resource's records, to tell Linkgate's decisions from others' when its connections are observed: one partition;
 *   - records awaiting review or with a stale card, for the review timer: a filter on `state`
 *     and `cardStale` across partitions (same size argument as below);
 *   - failed records, for the retry timer (it retries those whose `nextAttemptAt` has come): a
 *     filter on `state` across partitions, same size argument;
 *   - every record, once per sweep (to tell Linkgate's own decisions from others' and find open
 *     records Resource Graph no longer reports): one scan, one row per connection ever decided;
 *   - resources with open records, for the sweep: a filter on `open` across partitions. The
 *     table holds one row per connection ever seen (a vault has at most 64 endpoints), so this
 *     scan stays small; an index row per open record would make it a point query if it grows.
 * encodeURIComponent escapes `/`, `\`, `#` and `?`, the characters keys may not contain.
 * Rows written before resource types were registered carry `vaultId` instead of `resourceId`;
 * both are read (the record itself is keyed by its `connectionId` column).
 */
export class TableApprovalsStore implements ApprovalsPort {
  constructor(private readonly client: TableClient) {}

  async get(connection: ConnectionRef): Promise<Versioned<ApprovalRecord> | undefined> {
    await ensureTable(this.client);
    try {
      const entity = await this.client.getEntity<Record<string, unknown>>(partitionKey(connection.resource), rowKey(connection.name));
      return fromEntity(entity);
    } catch (error) {
      if (isTableError(error, 404)) return undefined;
      throw error;
    }
  }

  async listResource(resource: ResourceRef): Promise<Versioned<ApprovalRecord>[]> {
    await ensureTable(this.client);
    const out: Versioned<ApprovalRecord>[] = [];
    for await (const entity of this.client.listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`PartitionKey eq ${partitionKey(resource)}` } })) {
      out.push(fromEntity(entity));
    }
    return out;
  }

  async listOpen(resource: ResourceRef): Promise<Versioned<ApprovalRecord>[]> {
    await ensureTable(this.client);
    const filter = odata`PartitionKey eq ${partitionKey(resource)} and open eq true`;
    const out: Versioned<ApprovalRecord>[] = [];
    for await (const entity of this.client.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
      out.push(fromEntity(entity));
    }
    return out;
  }

  async resourcesWithOpenRecords(): Promise<string[]> {
    await ensureTable(this.client);
    const resources = new Set<string>();
    const entities = this.client.listEntities<{ resourceId?: string; vaultId?: string }>({
      queryOptions: { filter: 'open eq true', select: ['resourceId', 'vaultId'] },
    });
    for await (const entity of entities) {
      const id = entity.resourceId ?? entity.vaultId;
      if (typeof id === 'string') resources.add(id);
    }
    return [...resources];
  }

  async listForReviewTimer(): Promise<Versioned<ApprovalRecord>[]> {
    await ensureTable(this.client);
    const filter = "state eq 'AwaitingReview' or cardStale eq true";
    const out: Versioned<ApprovalRecord>[] = [];
    for await (const entity of this.client.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
      out.push(fromEntity(entity));
    }
    return out;
  }

  async listAll(): Promise<Versioned<ApprovalRecord>[]> {
    await ensureTable(this.client);
    const out: Versioned<ApprovalRecord>[] = [];
    for await (const entity of this.client.listEntities<Record<string, unknown>>()) out.push(fromEntity(entity));
    return out;
  }

  async listFailed(): Promise<Versioned<ApprovalRecord>[]> {
    await ensureTable(this.client);
    const out: Versioned<ApprovalRecord>[] = [];
    for await (const entity of this.client.listEntities<Record<string, unknown>>({ queryOptions: { filter: "state eq 'Failed'" } })) {
      out.push(fromEntity(entity));
    }
    return out;
  }

  async create(record: ApprovalRecord): Promise<CreateResult<ApprovalRecord>> {
    await ensureTable(this.client);
    try {
      const response = await this.client.createEntity(toEntity(record));
      return { kind: 'created', record: { value: record, etag: requireEtag(response.etag) } };
    } catch (error) {
      if (isTableError(error, 409)) return { kind: 'exists' };
      throw error;
    }
  }

  async replace(record: ApprovalRecord, etag: string): Promise<ReplaceResult<ApprovalRecord>> {
    await ensureTable(this.client);
    try {
      const response = await this.client.updateEntity(toEntity(record), 'Replace', { etag });
      return { kind: 'replaced', record: { value: record, etag: requireEtag(response.etag) } };
    } catch (error) {
      if (isTableError(error, 412) || isTableError(error, 404)) return { kind: 'conflict' };
      throw error;
    }
  }
}

function partitionKey(resource: ResourceRef): string {
  return encodeURIComponent(resource.key);
}

function rowKey(connectionName: string): string {
  return encodeURIComponent(connectionName.toLowerCase());
}

/**
 * A record as one row. Card state is kept in flat `card*` columns, because the review timer
 * filters on `cardStale`; who decided is three typed columns (`deciderType`, `deciderId`,
 * `decidedByName`). Rows written before those existed carry `decidedBy` as `rule:NAME`,
 * `user:OBJECTID` or `system:NAME` (with `decidedByName` beside it), and `vaultId` instead of
 * `resourceId`: fromEntity reads both. The approvals given towards a quorum (`approvals`) and
 * why Linkgate gave up (`failure`) are JSON text: each is read and written whole in the same
 * ETag-conditioned write as the state, and rows without them read as none.
 */
export function toEntity(record: ApprovalRecord): { partitionKey: string; rowKey: string } & Record<string, unknown> {
  const { connection, card, decidedBy, approvers, approvals, failure, alert, ...rest } = record;
  const columns: Record<string, unknown> = {
    ...rest,
    connectionId: connection.id,
    connectionName: connection.name,
    resourceId: connection.resource.id,
    // Table Storage has no list type; lists are kept as JSON text.
    ...(approvers ? { approvers: JSON.stringify(approvers) } : {}),
    ...(approvals && approvals.length > 0 ? { approvals: JSON.stringify(approvals) } : {}),
    ...(failure ? { failure: JSON.stringify(failure) } : {}),
    ...(alert ? { alert: JSON.stringify(alert) } : {}),
    ...(decidedBy ? { deciderType: decidedBy.type, deciderId: decidedBy.id, decidedByName: decidedBy.name } : {}),
    ...(card
      ? {
          cardConversationId: card.conversationId,
          cardActivityId: card.activityId,
          cardPostedAt: card.postedAt,
          cardState: card.shownState,
          cardStale: card.stale,
          cardError: card.error,
          cardRetryAt: card.retryAt,
          cardClaimUntil: card.claimUntil,
        }
      : {}),
  };
  const entity: { partitionKey: string; rowKey: string } & Record<string, unknown> = {
    partitionKey: partitionKey(connection.resource),
    rowKey: rowKey(connection.name),
    open: !isTerminal(record.state),
  };
  for (const [key, value] of Object.entries(columns)) if (value !== undefined) entity[key] = value;
  return entity;
}

export function fromEntity(entity: TableEntityResult<Record<string, unknown>>): Versioned<ApprovalRecord> {
  const state = entity.state as ApprovalState;
  if (!APPROVAL_STATES.includes(state)) {
    throw new InvalidInputError(`approvals row ${entity.partitionKey}/${entity.rowKey} has unknown state '${String(entity.state)}'`, 'state');
  }
  const decidedBy = deciderOf(entity);
  const card = cardOf(entity);
  const record: ApprovalRecord = {
    connection: parseConnectionId(String(entity.connectionId)),
    state,
    generation: Number(entity.generation ?? 1),
    attempts: Number(entity.attempts ?? 0),
    detectedAt: asDate(entity.detectedAt) ?? new Date(0),
    updatedAt: asDate(entity.updatedAt) ?? new Date(0),
    ...optionalString(entity, 'privateEndpointId'),
    ...optionalString(entity, 'requesterSubscriptionId'),
    ...optionalString(entity, 'requesterTenantId'),
    ...optionalString(entity, 'requestedBy'),
    ...optionalString(entity, 'requestMessage'),
    ...optionalString(entity, 'ruleName'),
    ...optionalString(entity, 'decisionSummary'),
    ...optionalString(entity, 'statusDescription'),
    ...optionalString(entity, 'lastError'),
    ...optionalString(entity, 'reviewConversationId'),
    ...optionalString(entity, 'observedStatus'),
    ...optionalString(entity, 'decisionComment'),
    ...optionalDate(entity, 'remindAt'),
    ...optionalDate(entity, 'remindedAt'),
    ...optionalDate(entity, 'expiresAt'),
    ...optionalDate(entity, 'nextAttemptAt'),
    ...(typeof entity.requiredApprovals === 'number' && Number.isInteger(entity.requiredApprovals) ? { requiredApprovals: entity.requiredApprovals } : {}),
    ...(typeof entity.approvals === 'string' ? { approvals: parseVotes(entity.approvals) } : {}),
    ...(typeof entity.failure === 'string' && parseGiveUp(entity.failure) ? { failure: parseGiveUp(entity.failure) as GiveUp } : {}),
    ...(typeof entity.alert === 'string' && parseAlert(entity.alert) ? { alert: parseAlert(entity.alert) as OutOfBandAlert } : {}),
    ...(decidedBy ? { decidedBy } : {}),
    ...(card ? { card } : {}),
    ...(entity.timeoutAction === 'reject' || entity.timeoutAction === 'leave-pending' ? { timeoutAction: entity.timeoutAction } : {}),
    ...(typeof entity.approvers === 'string' ? { approvers: parseList(entity.approvers) } : {}),
    ...(RULE_ACTIONS.includes(entity.decisionAction as RuleAction) ? { decisionAction: entity.decisionAction as RuleAction } : {}),
    ...(asDate(entity.leaseUntil) ? { leaseUntil: asDate(entity.leaseUntil) as Date } : {}),
  };
  return { value: record, etag: requireEtag(entity.etag) };
}

/** The typed columns, or an older row's `decidedBy` string (`type:id`, split at the first colon). */
function deciderOf(entity: Record<string, unknown>): Actor | undefined {
  const name = typeof entity.decidedByName === 'string' ? entity.decidedByName : undefined;
  let type: unknown = entity.deciderType;
  let id: unknown = entity.deciderId;
  if (type === undefined && typeof entity.decidedBy === 'string') {
    const colon = entity.decidedBy.indexOf(':');
    type = colon < 0 ? 'system' : entity.decidedBy.slice(0, colon);
    id = colon < 0 ? entity.decidedBy : entity.decidedBy.slice(colon + 1);
  }
  if (typeof id !== 'string' || !(ACTOR_TYPES as readonly unknown[]).includes(type)) return undefined;
  const actor = { type: type as ActorType, id };
  return (name === undefined ? actor : { ...actor, name }) as Actor;
}

function cardOf(entity: Record<string, unknown>): CardState | undefined {
  const shown = entity.cardState;
  const card: CardState = {
    ...(typeof entity.cardConversationId === 'string' ? { conversationId: entity.cardConversationId } : {}),
    ...(typeof entity.cardActivityId === 'string' ? { activityId: entity.cardActivityId } : {}),
    ...(asDate(entity.cardPostedAt) ? { postedAt: asDate(entity.cardPostedAt) as Date } : {}),
    ...(APPROVAL_STATES.includes(shown as ApprovalState) ? { shownState: shown as ApprovalState } : {}),
    ...(entity.cardStale === true ? { stale: true } : {}),
    ...(typeof entity.cardError === 'string' ? { error: entity.cardError } : {}),
    ...(asDate(entity.cardRetryAt) ? { retryAt: asDate(entity.cardRetryAt) as Date } : {}),
    ...(asDate(entity.cardClaimUntil) ? { claimUntil: asDate(entity.cardClaimUntil) as Date } : {}),
  };
  return Object.keys(card).length > 0 ? card : undefined;
}

function optionalString(entity: Record<string, unknown>, key: keyof ApprovalRecord): Partial<ApprovalRecord> {
  const value = entity[key];
  return typeof value === 'string' ? { [key]: value } : {};
}

function optionalDate(entity: Record<string, unknown>, key: keyof ApprovalRecord): Partial<ApprovalRecord> {
  const date = asDate(entity[key]);
  return date ? { [key]: date } : {};
}

function parseList(text: string): string[] {
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
  } catch {
    return [];
  }
}

/** The `approvals` column; an entry that is not a whole vote is dropped rather than counted. */
function parseVotes(text: string): ApprovalVote[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(value)) return [];
  const votes: ApprovalVote[] = [];
  for (const item of value as unknown[]) {
    if (typeof item !== 'object' || item === null) continue;
    const { id, name, at, comment } = item as Record<string, unknown>;
    const when = asDate(at);
    if (typeof id !== 'string' || typeof name !== 'string' || !when) continue;
    votes.push({ id, name, at: when, ...(typeof comment === 'string' ? { comment } : {}) });
  }
  return votes;
}

function parseGiveUp(text: string): GiveUp | undefined {
  try {
    const { during, attempts, error, at } = JSON.parse(text) as Record<string, unknown>;
    const when = asDate(at);
    if (typeof during !== 'string' || typeof attempts !== 'number' || typeof error !== 'string' || !when) return undefined;
    return { during, attempts, error, at: when };
  } catch {
    return undefined;
  }
}

function requireEtag(etag: string | undefined): string {
  if (!etag) throw new Error('Table Storage answered without an ETag');
  return etag;
}

/** The `alert` column; one that is not a whole alert reads as none (the record is then an ordinary review). */
function parseAlert(text: string): OutOfBandAlert | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const raw = value as Record<string, unknown>;
  const observedAt = typeof raw.observedAt === 'string' ? new Date(raw.observedAt) : undefined;
  if (raw.kind !== 'out-of-band' || !observedAt || Number.isNaN(observedAt.getTime()) || typeof raw.summary !== 'string') return undefined;
  return {
    kind: 'out-of-band',
    observedAt,
    summary: raw.summary,
    ...(typeof raw.approvedBy === 'string' ? { approvedBy: raw.approvedBy } : {}),
    ...(typeof raw.description === 'string' ? { description: raw.description } : {}),
    ...(typeof raw.ruleName === 'string' ? { ruleName: raw.ruleName } : {}),
  };
}
