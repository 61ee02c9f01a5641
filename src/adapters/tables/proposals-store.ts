import type { TableClient } from '@azure/data-tables';
import type { ProposalsPort, ReplaceResult } from '../../app/ports.js';
import type { Versioned } from '../../domain/approval.js';
import { parseRule, type Rule } from '../../domain/policy/rule.js';
import { PROPOSAL_STATUSES, type PersonRef, type ProposalStatus, type RuleProposal } from '../../domain/rule-proposal.js';
import { asDate, ensureTable, isTableError } from './table-clients.js';

/**
 * Table `ruleproposals`: rule changes waiting for a second person, and what became of them.
 *
 *   PartitionKey  `proposal`        one small partition: a row per proposed change
 *   RowKey        the proposal ID   `YYYYMMDDhhmmss-` and 8 hex digits: sortable, and only
 *                                   characters Table keys allow
 *   before/after  the rule as JSON, read back through parseRule like a rule row
 *
 * Queries served: one proposal (point read) and all of them (one partition scan, newest first in
 * memory). Every status change is an ETag-guarded replace, so two people acting on one proposal
 * at once cannot both win.
 */
const PARTITION = 'proposal';
const ID_PATTERN = /^\d{14}-[0-9a-f]{8}$/;

export function isProposalId(id: string): boolean {
  return ID_PATTERN.test(id);
}

export class TableProposalsStore implements ProposalsPort {
  constructor(private readonly client: TableClient) {}

  async create(proposal: RuleProposal): Promise<void> {
    await ensureTable(this.client);
    await this.client.createEntity(toEntity(proposal));
  }

  async get(id: string): Promise<Versioned<RuleProposal> | undefined> {
    if (!isProposalId(id)) return undefined;
    await ensureTable(this.client);
    try {
      const row = await this.client.getEntity<Record<string, unknown>>(PARTITION, id);
      return { value: fromEntity(row), etag: String(row.etag) };
    } catch (error) {
      if (isTableError(error, 404)) return undefined;
      throw error;
    }
  }

  async list(): Promise<Versioned<RuleProposal>[]> {
    await ensureTable(this.client);
    const out: Versioned<RuleProposal>[] = [];
    for await (const row of this.client.listEntities<Record<string, unknown>>({ queryOptions: { filter: `PartitionKey eq '${PARTITION}'` } })) {
      out.push({ value: fromEntity(row), etag: String(row.etag) });
    }
    return out.sort((a, b) => b.value.id.localeCompare(a.value.id));
  }

  async replace(proposal: RuleProposal, etag: string): Promise<ReplaceResult<RuleProposal>> {
    await ensureTable(this.client);
    try {
      const result = await this.client.updateEntity(toEntity(proposal), 'Replace', { etag });
      return { kind: 'replaced', record: { value: proposal, etag: String(result.etag) } };
    } catch (error) {
      if (isTableError(error, 412) || isTableError(error, 404)) return { kind: 'conflict' };
      throw error;
    }
  }
}

function toEntity(p: RuleProposal) {
  if (!isProposalId(p.id)) throw new Error(`'${p.id}' is not a proposal ID`);
  return {
    partitionKey: PARTITION,
    rowKey: p.id,
    ruleName: p.ruleName,
    ...(p.before ? { before: JSON.stringify(p.before) } : {}),
    beforeVersion: p.beforeVersion,
    after: JSON.stringify(p.after),
    reason: p.reason,
    proposedById: p.proposedBy.objectId,
    proposedByName: p.proposedBy.name,
    proposedAt: p.proposedAt,
    expiresAt: p.expiresAt,
    status: p.status,
    ...(p.decidedBy ? { decidedById: p.decidedBy.objectId, decidedByName: p.decidedBy.name } : {}),
    ...(p.decidedAt ? { decidedAt: p.decidedAt } : {}),
    ...(p.comment ? { comment: p.comment } : {}),
  };
}

function fromEntity(row: Record<string, unknown>): RuleProposal {
  const status = String(row.status) as ProposalStatus;
  if (!PROPOSAL_STATUSES.includes(status)) throw new Error(`Proposal ${String(row.rowKey)} has an unknown status '${String(row.status)}'`);
  const decidedBy = person(row.decidedById, row.decidedByName);
  const decidedAt = row.decidedAt === undefined ? undefined : asDate(row.decidedAt);
  return {
    id: String(row.rowKey),
    ruleName: String(row.ruleName),
    ...(typeof row.before === 'string' ? { before: ruleColumn(row.before) } : {}),
    beforeVersion: String(row.beforeVersion),
    after: ruleColumn(String(row.after)),
    reason: String(row.reason ?? ''),
    proposedBy: person(row.proposedById, row.proposedByName) ?? { objectId: 'unknown', name: 'unknown' },
    proposedAt: asDate(row.proposedAt) ?? new Date(0),
    expiresAt: asDate(row.expiresAt) ?? new Date(0),
    status,
    ...(decidedBy ? { decidedBy } : {}),
    ...(decidedAt ? { decidedAt } : {}),
    ...(typeof row.comment === 'string' ? { comment: row.comment } : {}),
  };
}

function ruleColumn(text: string): Rule {
  return parseRule(JSON.parse(text) as unknown);
}

function person(id: unknown, name: unknown): PersonRef | undefined {
  return typeof id === 'string' ? { objectId: id, name: typeof name === 'string' ? name : id } : undefined;
}
