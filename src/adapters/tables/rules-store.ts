import type { TableClient } from '@azure/data-tables';
import type { RulesPort } from '../../app/ports.js';
import type { StoredRule } from '../../domain/policy/engine.js';
import { isRuleName, parseRule, type Rule } from '../../domain/policy/rule.js';
import { asDate, ensureTable, isTableError } from './table-clients.js';
import type { AutomationHold } from '../../domain/automation.js';

/**
 * Table `rules`: PartitionKey `rule`, RowKey the lower-case rule name. Every read is the
 * whole (small) partition, since the engine needs all rules in priority order. Beside them,
 * PartitionKey `setting`, RowKey `automation-hold`: the break-glass hold on automatic decisions,
 * read with the rules in the same query for each decision (forDecision).
 * `conditions` and `review` are stored as JSON. Rows are parsed with the same validator the write path
 * uses, so a row edited by hand that cannot be understood is reported, not guessed at. That
 * includes a request-message pattern stored when patterns were JavaScript ones and that RE2
 * cannot compile (a lookahead, a backreference): the row is unreadable, the message says so,
 * and the engine withholds automatic decisions while it exists (policy/engine.ts).
 */
export class TableRulesStore implements RulesPort {
  constructor(private readonly client: TableClient) {}

  async list(): Promise<StoredRule[]> {
    return (await this.read("PartitionKey eq 'rule'")).rules;
  }

  /** The rules and the hold in one query: what each decision reads. */
  async forDecision(): Promise<{ rules: StoredRule[]; hold?: AutomationHold }> {
    return this.read(`PartitionKey eq 'rule' or (PartitionKey eq '${HOLD_KEY.partitionKey}' and RowKey eq '${HOLD_KEY.rowKey}')`);
  }

  private async read(filter: string): Promise<{ rules: StoredRule[]; hold?: AutomationHold }> {
    await ensureTable(this.client);
    const rules: StoredRule[] = [];
    let hold: AutomationHold | undefined;
    for await (const row of this.client.listEntities<Record<string, unknown>>({ queryOptions: { filter } })) {
      if (row.partitionKey === HOLD_KEY.partitionKey) hold = holdOf(row);
      else rules.push(fromRow(row));
    }
    return hold ? { rules, hold } : { rules };
  }

  async get(name: string): Promise<{ stored: StoredRule; version: string } | undefined> {
    await ensureTable(this.client);
    try {
      const row = await this.client.getEntity<Record<string, unknown>>('rule', rowKeyOf(name));
      return { stored: fromRow(row), version: String(row.etag) };
    } catch (error) {
      if (isTableError(error, 404)) return undefined;
      throw error;
    }
  }

  async put(rule: Rule): Promise<void> {
    await ensureTable(this.client);
    await this.client.upsertEntity(toRow(rule), 'Replace');
  }

  async putIf(rule: Rule, expected: string): Promise<boolean> {
    await ensureTable(this.client);
    try {
      if (expected === 'absent') await this.client.createEntity(toRow(rule));
      else await this.client.updateEntity(toRow(rule), 'Replace', { etag: expected });
      return true;
    } catch (error) {
      if (isTableError(error, 409) || isTableError(error, 412) || isTableError(error, 404)) return false;
      throw error;
    }
  }

  async delete(name: string): Promise<boolean> {
    await ensureTable(this.client);
    try {
      await this.client.deleteEntity('rule', rowKeyOf(name));
      return true;
    } catch (error) {
      if (isTableError(error, 404)) return false;
      throw error;
    }
  }

  async hold(): Promise<AutomationHold | undefined> {
    await ensureTable(this.client);
    try {
      return holdOf(await this.client.getEntity<Record<string, unknown>>(HOLD_KEY.partitionKey, HOLD_KEY.rowKey));
    } catch (error) {
      if (isTableError(error, 404)) return undefined;
      throw error;
    }
  }

  async setHold(hold: AutomationHold | undefined): Promise<void> {
    await ensureTable(this.client);
    if (hold) {
      await this.client.upsertEntity({ ...HOLD_KEY, byId: hold.by.objectId, byName: hold.by.name, at: hold.at, reason: hold.reason }, 'Replace');
      return;
    }
    try {
      await this.client.deleteEntity(HOLD_KEY.partitionKey, HOLD_KEY.rowKey);
    } catch (error) {
      if (!isTableError(error, 404)) throw error;
    }
  }

  async deleteIf(name: string, expected: string): Promise<boolean> {
    await ensureTable(this.client);
    try {
      await this.client.deleteEntity('rule', rowKeyOf(name), { etag: expected });
      return true;
    } catch (error) {
      if (isTableError(error, 404) || isTableError(error, 412)) return false;
      throw error;
    }
  }
}

/** The break-glass hold lives beside the rules, in its own partition, so rule listings never see it. */
const HOLD_KEY = { partitionKey: 'setting', rowKey: 'automation-hold' } as const;

function holdOf(row: Record<string, unknown>): AutomationHold {
  return { by: { objectId: String(row.byId), name: String(row.byName ?? row.byId) }, at: asDate(row.at) ?? new Date(0), reason: String(row.reason ?? '') };
}

/**
 * The RowKey of a rule. Rule names are checked against parseRule's name pattern before they get
 * here (letters, digits, `.`, `_`, `-`), so the key can never hold a character Table Storage
 * refuses in keys (`/ \ # ?`, control characters); this refuses anything else loudly.
 */
function rowKeyOf(name: string): string {
  if (!isRuleName(name)) throw new Error(`'${name.slice(0, 80)}' cannot name a rule`);
  return name.toLowerCase();
}

function toRow(rule: Rule) {
  const validated = parseRule(rule);
  return {
    partitionKey: 'rule',
    rowKey: rowKeyOf(validated.name),
    name: validated.name,
    priority: validated.priority,
    enabled: validated.enabled,
    mode: validated.mode,
    action: validated.action,
    ...(validated.appliesTo ? { appliesTo: validated.appliesTo } : {}),
    conditions: JSON.stringify(validated.conditions),
    ...(validated.review ? { review: JSON.stringify(validated.review) } : {}),
    ...(validated.description ? { description: validated.description } : {}),
    updatedAt: new Date(),
  };
}

/** A column holding JSON text; undefined when absent. Errors name the column. */
function jsonColumn(row: Record<string, unknown>, column: string): unknown {
  const value = row[column];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new Error(`${column}: must be a JSON string`);
  try {
    return JSON.parse(value) as unknown;
  } catch (error) {
    throw new Error(`${column}: is not valid JSON (${(error as Error).message})`);
  }
}

function fromRow(row: Record<string, unknown>): StoredRule {
  const name = typeof row.name === 'string' ? row.name : String(row.rowKey);
  try {
    const conditions = jsonColumn(row, 'conditions') ?? {};
    const review = jsonColumn(row, 'review');
    const rule = parseRule({
      name,
      priority: typeof row.priority === 'bigint' ? Number(row.priority) : row.priority,
      enabled: row.enabled,
      mode: row.mode,
      action: row.action,
      ...(row.appliesTo === undefined ? {} : { appliesTo: row.appliesTo }),
      conditions,
      ...(row.description === undefined ? {} : { description: row.description }),
      ...(review === undefined ? {} : { review }),
    });
    return { ok: true, rule };
  } catch (error) {
    return { ok: false, name, error: (error as Error).message };
  }
}
