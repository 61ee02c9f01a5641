import { odata, type TableClient, type TableEntityResult } from '@azure/data-tables';
import type { ApprovalsPort, CreateResult, ReplaceResult } from '../../app/ports.js';
import type { ApprovalRecord, Versioned } from '../../domain/approval.js';
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
 *   - records awaiting review or with a stale card, for the review timer: a filter on `state`
 *     and `cardStale` across partitions (same size argument as below);
 *   - resources with open records, for the sweep: a filter on `open` across partitions. The
 *     table holds one row per connection ever seen (a vault has at most 64 endpoints), so this
 *     scan stays small; an index row per open record would make it a point query if it grows.
 * encodeURIComponent escapes `/`, `\`, `#` and `?`, the characters keys may not contain.
 * Rows written before resource types were registered carry `vaultId` instead of `resourceId`;
 * both are read.
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

function toEntity(record: ApprovalRecord) {
  const ref = parseConnectionId(record.connectionId);
  const entity: Record<string, unknown> = {
    partitionKey: partitionKey(ref.resource),
    rowKey: rowKey(ref.name),
    open: !isTerminal(record.state),
  };
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined) continue;
    // Table Storage has no list type; lists are kept as JSON text.
    entity[key] = Array.isArray(value) ? JSON.stringify(value) : value;
  }
  return entity as { partitionKey: string; rowKey: string };
}

function fromEntity(entity: TableEntityResult<Record<string, unknown>>): Versioned<ApprovalRecord> {
  const state = entity.state as ApprovalState;
  if (!APPROVAL_STATES.includes(state)) {
    throw new InvalidInputError(`approvals row ${entity.partitionKey}/${entity.rowKey} has unknown state '${String(entity.state)}'`, 'state');
  }
  const record: ApprovalRecord = {
    connectionId: String(entity.connectionId),
    connectionName: String(entity.connectionName),
    resourceId: String(entity.resourceId ?? entity.vaultId),
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
    ...optionalString(entity, 'decidedBy'),
    ...optionalString(entity, 'statusDescription'),
    ...optionalString(entity, 'lastError'),
    ...optionalString(entity, 'reviewConversationId'),
    ...optionalString(entity, 'observedStatus'),
    ...optionalString(entity, 'cardError'),
    ...optionalDate(entity, 'cardRetryAt'),
    ...optionalString(entity, 'cardConversationId'),
    ...optionalString(entity, 'cardActivityId'),
    ...optionalString(entity, 'cardState'),
    ...optionalString(entity, 'decidedByName'),
    ...optionalString(entity, 'decisionComment'),
    ...optionalDate(entity, 'remindAt'),
    ...optionalDate(entity, 'remindedAt'),
    ...optionalDate(entity, 'expiresAt'),
    ...optionalDate(entity, 'cardPostedAt'),
    ...optionalDate(entity, 'cardClaimUntil'),
    ...(entity.cardStale === true ? { cardStale: true } : {}),
    ...(entity.timeoutAction === 'reject' || entity.timeoutAction === 'leave-pending' ? { timeoutAction: entity.timeoutAction } : {}),
    ...(typeof entity.approvers === 'string' ? { approvers: parseList(entity.approvers) } : {}),
    ...(RULE_ACTIONS.includes(entity.decisionAction as RuleAction) ? { decisionAction: entity.decisionAction as RuleAction } : {}),
    ...(asDate(entity.leaseUntil) ? { leaseUntil: asDate(entity.leaseUntil) as Date } : {}),
  };
  return { value: record, etag: requireEtag(entity.etag) };
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


function requireEtag(etag: string | undefined): string {
  if (!etag) throw new Error('Table Storage answered without an ETag');
  return etag;
}
