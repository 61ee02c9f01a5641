/**
 * The append-only audit trail in Azure Table Storage (table `audit`).
 *
 * Table Storage answers quickly only for PartitionKey/RowKey lookups and ranges; anything else is a
 * scan. So every entry is written as two copies ("index rows") in the same table, each holding all
 * columns, keyed for one of the two questions the audit must answer:
 *
 *   by resource  PartitionKey `v|<encodeURIComponent(lower-case resource id)>`
 *             RowKey       `<reverse ticks>|<id>`
 *             serves "one resource's recent history" for every registered type (the resource ID
 *             names its type, so a storage account and a vault of the same name never share a
 *             partition), newest first, optionally within [from, to) (a RowKey range), optionally
 *             narrowed by connection, actor, outcome or requester subscription (property filters
 *             evaluated inside that single partition). The `v|` prefix dates from when only vaults
 *             were known; it is kept so that existing history stays where queries look for it.
 *
 *   by time   PartitionKey `t|<yyyy-mm>` (UTC month of the entry's time)
 *             RowKey       `<reverse ticks>|<id>`
 *             serves time-range listings across all resources, newest first: month partitions are
 *             walked from the newest month in range to the oldest; the other filters (the resource
 *             type among them) are property filters inside each month.
 *
 *   Entries without a resource (an unparseable payload, a system error) get only the time row.
 *
 * Reverse ticks are `9999999999999 - epochMillis`, zero-padded to 13 digits, so lexical RowKey order is
 * newest first (valid for times from 1970 to the year 2286). Rows in one millisecond are ordered by id.
 * Keys never contain `/ \ # ?` or control characters: the resource id is lower-cased and then
 * encodeURIComponent-encoded (which escapes all of them); ids are restricted to `[A-Za-z0-9._~-]`.
 * Keys stay under 512 characters (Azure allows 1 KiB of UTF-16, Azurite 512 characters): a resource id
 * whose encoded form is too long is keyed by its SHA-256 instead, and resource queries then also filter
 * on the `resourceId` column.
 *
 * Columns: `resourceType` holds the canonical ARM type (`Microsoft.Storage/storageAccounts`), derived
 * from the resource ID through the registry, and `resourceTypeKey` its lower-case form for filters.
 * Rows written before resource types were registered carry `vaultId` and no type; they are read as
 * Key Vault entries with that ID.
 *
 * Terminating the month walk: the table holds two marker rows, PartitionKey `meta`, RowKeys
 * `earliest-month` and `latest-month`. `append` widens them (optimistic concurrency on the ETag)
 * *before* writing the entry's rows, only when the entry's month lies outside the range this process
 * already knows, so the markers always cover every stored time row. A query without `from` stops at
 * the earliest month, without `to` starts at the latest month; a table with no markers is empty.
 *
 * Writes: `createEntity` only (insert, never update), so stored rows are never changed. The resource
 * and the time row are written concurrently; if either fails `append` throws and the caller retries
 * with the same `id` and `time` (a default id encodes its time, so the id alone is enough):
 * 409 EntityAlreadyExists then counts as success and a partial write heals.
 *
 * Paging: `query` collects pageSize + 1 matching rows (the extra one only tells whether more follow),
 * looping over `listEntities().byPage()` because the service may return short or even empty pages
 * with a continuation and at most 1000 rows per page. The continuation token is base64url JSON of
 * { partition, last RowKey returned, fingerprint of the query's filters }; the next page resumes with
 * `RowKey gt <last>` in that partition and then walks on to older months. A token presented with
 * different filters, or one that does not parse, is rejected with AuditQueryError.
 *
 * Limits: each row has about 25 properties (max 255). `detail` is JSON capped at 30,000 characters
 * (a string property holds at most 32K UTF-16 characters); a larger detail is stored as
 * `{ truncated: true, originalLength, excerpt }` and flagged by `detailTruncated`. Other strings are
 * capped at 4,096 characters, keeping an entity far below 1 MiB.
 */
import { createHash, randomBytes } from 'node:crypto';
import { odata, type TableClient, type TableEntity, type TransactionAction } from '@azure/data-tables';
import {
  ACTOR_TYPES,
  AUDIT_KINDS,
  AUDIT_OUTCOMES,
  type ActorType,
  type AuditEntry,
  type AuditKind,
  type AuditOutcome,
  type AuditPage,
  type AuditQuery,
} from '../../domain/audit.js';
import type { AuditInput } from '../../app/ports.js';
import { AuditQueryError } from '../../domain/errors.js';
import { resourceOf } from '../../domain/resource-id.js';
import { KEY_VAULT } from '../../domain/resource-types.js';
import { boundedJson } from '../../shared/bounded-json.js';
import { sliceUnits, truncateUnits } from '../../shared/text.js';
import { ensureTable, isTableError } from './table-clients.js';

export const AUDIT_TABLE_NAME = 'audit';

export const DEFAULT_PAGE_SIZE = 50;

/** Attempts per index row before an append gives up and the caller's trigger is retried. */
const APPEND_ATTEMPTS = 3;

/** A 4xx other than 408/429 will not change on a retry. */
function isClientError(error: unknown): boolean {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 && status !== 408 && status !== 429;
}
export const MAX_PAGE_SIZE = 1000;
/** JSON text of `detail` above this many characters is stored truncated. */
export const MAX_DETAIL_CHARS = 30_000;
/** Cap for every other string column. */
export const MAX_STRING_CHARS = 4_096;

const REVERSE_TICKS_MAX = 9_999_999_999_999;
const REVERSE_TICKS_WIDTH = 13;
/** Longest encoded resource id used verbatim in a PartitionKey; longer ones are hashed. */
const MAX_ENCODED_RESOURCE_CHARS = 400;
const SERVICE_PAGE_MAX = 1000;
const MARKER_ATTEMPTS = 10;

const META_PARTITION = 'meta';
const EARLIEST_MONTH = 'earliest-month';
const LATEST_MONTH = 'latest-month';

const ID_PATTERN = /^[A-Za-z0-9._~-]{1,128}$/;
/** Default ids: 9 base-36 digits of epoch millis, 3 of a per-process sequence, a dash, 12 hex random. */
const DEFAULT_ID_PATTERN = /^([0-9a-z]{9})[0-9a-z]{3}-[0-9a-f]{12}$/;
const ROW_KEY_PATTERN = /^\d{13}\|[A-Za-z0-9._~-]{1,128}$/;
const TIME_PARTITION_PATTERN = /^t\|(\d{4})-(\d{2})$/;

export interface TableAuditStoreOptions {
  readonly now?: () => Date;
  readonly idFactory?: () => string;
}

/** The stored shape of an index row. */
interface AuditRow {
  partitionKey: string;
  rowKey: string;
  id: string;
  time: Date;
  kind: string;
  outcome: string;
  actorType: string;
  actorId: string;
  actorKey: string;
  actorName?: string;
  summary: string;
  resourceId?: string;
  /** Rows written before resource types were registered. */
  vaultId?: string;
  resourceType?: string;
  resourceTypeKey?: string;
  connectionId?: string;
  connectionKey?: string;
  privateEndpointId?: string;
  requesterSubscriptionId?: string;
  requesterSubscriptionKey?: string;
  requesterTenantId?: string;
  requestMessage?: string;
  ruleName?: string;
  correlationId?: string;
  detail?: string;
  detailTruncated?: boolean;
}

interface MarkerRow {
  partitionKey: string;
  rowKey: string;
  month: string;
}

interface TokenState {
  readonly partition: string;
  readonly rowKey: string;
}

interface TokenBody {
  v: 1;
  f: string;
  p: string;
  r: string;
}

// ---------------------------------------------------------------------------------------------
// Keys

function reverseTicks(ms: number): string {
  return String(REVERSE_TICKS_MAX - ms).padStart(REVERSE_TICKS_WIDTH, '0');
}

function rowKeyFor(ms: number, id: string): string {
  return `${reverseTicks(ms)}|${id}`;
}

function monthOf(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getUTCFullYear()).padStart(4, '0')}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** Months as a running number (year * 12 + month index) for walking partitions. */
function monthIndex(month: string): number {
  const [y, m] = month.split('-');
  return Number(y) * 12 + Number(m) - 1;
}

function monthFromIndex(index: number): string {
  const y = Math.floor(index / 12);
  const m = (index % 12) + 1;
  return `${String(y).padStart(4, '0')}-${String(m).padStart(2, '0')}`;
}

function timePartition(month: string): string {
  return `t|${month}`;
}

interface ResourcePartition {
  readonly key: string;
  /** True when the key is a hash, so the resourceId column must be checked as well. */
  readonly hashed: boolean;
}

function resourcePartition(normalisedResourceId: string): ResourcePartition {
  const encoded = encodeURIComponent(normalisedResourceId);
  if (encoded.length <= MAX_ENCODED_RESOURCE_CHARS) return { key: `v|${encoded}`, hashed: false };
  return { key: `v|~sha256~${createHash('sha256').update(normalisedResourceId).digest('hex')}`, hashed: true };
}

// ---------------------------------------------------------------------------------------------
// Ids

let lastIdMillis = -1;
let idSequence = 0;

/**
 * A new sortable, unique id for an entry at `time`: epoch millis and a per-process sequence keep ids
 * from one process in order, the random tail keeps ids from different processes apart.
 */
export function createAuditId(time: Date = new Date()): string {
  const ms = time.getTime();
  if (ms === lastIdMillis) idSequence += 1;
  else {
    lastIdMillis = ms;
    idSequence = 0;
  }
  const seq = idSequence % 36 ** 3;
  return `${ms.toString(36).padStart(9, '0')}${seq.toString(36).padStart(3, '0')}-${randomBytes(6).toString('hex')}`;
}

/** The time encoded in an id made by createAuditId, so a retry that only repeats the id hits the same rows. */
function timeFromDefaultId(id: string): Date | undefined {
  const match = DEFAULT_ID_PATTERN.exec(id);
  if (match?.[1] === undefined) return undefined;
  const ms = parseInt(match[1], 36);
  return Number.isSafeInteger(ms) && ms <= REVERSE_TICKS_MAX ? new Date(ms) : undefined;
}

// ---------------------------------------------------------------------------------------------
// Columns

function cap(value: string | undefined): string | undefined {
  return value === undefined ? undefined : truncateUnits(value, MAX_STRING_CHARS);
}

function serialiseDetail(detail: unknown): { detail?: string; detailTruncated?: boolean } {
  if (detail === undefined) return {};
  let json: string | undefined;
  try {
    json = JSON.stringify(detail);
  } catch {
    // Too deep for JSON.stringify's recursion (or a cycle): keep a bounded excerpt instead.
    json = JSON.stringify({ unserialisable: true, excerpt: boundedJson(detail) });
  }
  // JSON.stringify returns undefined for functions and symbols; there is nothing to keep.
  if (json === undefined) return {};
  if (json.length <= MAX_DETAIL_CHARS) return { detail: json };

  // Store valid JSON even when truncated, so readers never meet half a document. Escaping can make
  // the excerpt longer than its source, hence the shrinking loop.
  let excerptLength = MAX_DETAIL_CHARS - 100;
  for (;;) {
    const wrapped = JSON.stringify({ truncated: true, originalLength: json.length, excerpt: sliceUnits(json, excerptLength) });
    if (wrapped.length <= MAX_DETAIL_CHARS) return { detail: wrapped, detailTruncated: true };
    excerptLength = Math.floor(excerptLength * (MAX_DETAIL_CHARS / wrapped.length)) - 16;
  }
}

function lower(value: string | undefined): string | undefined {
  return value === undefined ? undefined : value.toLowerCase();
}

/** Drops undefined properties so they are not sent as nulls. */
function compact<T extends object>(row: T): T {
  return Object.fromEntries(Object.entries(row).filter(([, v]) => v !== undefined)) as T;
}

function toEntry(row: AuditRow): AuditEntry {
  let detail: unknown;
  if (row.detail !== undefined) {
    try {
      detail = JSON.parse(row.detail);
    } catch {
      detail = row.detail;
    }
  }
  const actor =
    row.actorName === undefined
      ? { type: row.actorType as ActorType, id: row.actorId }
      : { type: row.actorType as ActorType, id: row.actorId, name: row.actorName };
  const entry: Record<string, unknown> = {
    id: row.id,
    time: row.time instanceof Date ? row.time : new Date(row.time),
    kind: row.kind as AuditKind,
    outcome: row.outcome as AuditOutcome,
    actor,
    summary: row.summary,
    resourceId: row.resourceId ?? row.vaultId,
    resourceType: row.resourceType ?? typeOf(row.resourceId ?? row.vaultId),
    connectionId: row.connectionId,
    privateEndpointId: row.privateEndpointId,
    requesterSubscriptionId: row.requesterSubscriptionId,
    requesterTenantId: row.requesterTenantId,
    requestMessage: row.requestMessage,
    ruleName: row.ruleName,
    correlationId: row.correlationId,
    detail,
  };
  return compact(entry) as unknown as AuditEntry;
}

/** The registered type a resource ID names, in its canonical spelling. */
function typeOf(resourceId: string | undefined): string | undefined {
  return resourceId ? resourceOf(resourceId)?.type.type : undefined;
}

// ---------------------------------------------------------------------------------------------
// Query helpers

function and(clauses: readonly string[]): string {
  return clauses.map((c) => `(${c})`).join(' and ');
}

function fail(message: string, code: AuditQueryError['code']): never {
  throw new AuditQueryError(message, code);
}

function validDate(value: Date | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : Number.NaN;
  if (Number.isNaN(ms)) fail(`${name} is not a valid date`, 'invalid-query');
  return ms;
}

interface NormalisedQuery {
  readonly resourceId?: string;
  readonly resourceTypeKey?: string;
  readonly connectionKey?: string;
  readonly subscriptionKey?: string;
  readonly actorKey?: string;
  readonly outcome?: AuditOutcome;
  readonly fromMs?: number;
  readonly toMs?: number;
}

function normaliseQuery(q: AuditQuery): NormalisedQuery {
  if (q.outcome !== undefined && !(AUDIT_OUTCOMES as readonly string[]).includes(q.outcome)) {
    fail(`Unknown outcome '${String(q.outcome)}'`, 'invalid-query');
  }
  return {
    resourceId: lower(q.resourceId),
    resourceTypeKey: lower(q.resourceType),
    connectionKey: lower(q.connectionId),
    subscriptionKey: lower(q.requesterSubscriptionId),
    actorKey: lower(q.actor),
    outcome: q.outcome,
    fromMs: validDate(q.from, 'from'),
    toMs: validDate(q.to, 'to'),
  };
}

function fingerprint(q: NormalisedQuery): string {
  const material = JSON.stringify([
    q.resourceId ?? null,
    q.resourceTypeKey ?? null,
    q.connectionKey ?? null,
    q.subscriptionKey ?? null,
    q.actorKey ?? null,
    q.outcome ?? null,
    q.fromMs ?? null,
    q.toMs ?? null,
  ]);
  return createHash('sha256').update(material).digest('base64url').slice(0, 22);
}

function encodeToken(fp: string, state: TokenState): string {
  const body: TokenBody = { v: 1, f: fp, p: state.partition, r: state.rowKey };
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

function decodeToken(token: string, fp: string): TokenState {
  let body: unknown;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new Error('not base64url');
    body = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    fail('Continuation token is not valid', 'invalid-token');
  }
  const b = body as Partial<TokenBody> | null;
  if (
    typeof b !== 'object' ||
    b === null ||
    b.v !== 1 ||
    typeof b.f !== 'string' ||
    typeof b.p !== 'string' ||
    typeof b.r !== 'string' ||
    !ROW_KEY_PATTERN.test(b.r)
  ) {
    fail('Continuation token is not valid', 'invalid-token');
  }
  if (b.f !== fp) fail('Continuation token belongs to a query with different filters', 'token-mismatch');
  return { partition: b.p, rowKey: b.r };
}

/** Property filters shared by both indexes. */
function propertyFilters(q: NormalisedQuery): string[] {
  const clauses: string[] = [];
  if (q.resourceTypeKey !== undefined) {
    // Rows from before resource types were registered have no type but a `vaultId` column: Key Vault.
    clauses.push(
      q.resourceTypeKey === KEY_VAULT.type.toLowerCase()
        ? odata`resourceTypeKey eq ${q.resourceTypeKey} or vaultId ge ${''}`
        : odata`resourceTypeKey eq ${q.resourceTypeKey}`,
    );
  }
  if (q.connectionKey !== undefined) clauses.push(odata`connectionKey eq ${q.connectionKey}`);
  if (q.subscriptionKey !== undefined) clauses.push(odata`requesterSubscriptionKey eq ${q.subscriptionKey}`);
  if (q.actorKey !== undefined) clauses.push(odata`actorKey eq ${q.actorKey}`);
  if (q.outcome !== undefined) clauses.push(odata`outcome eq ${q.outcome}`);
  return clauses;
}

/**
 * [from, to) as RowKey bounds. Reverse ticks invert the order: time >= from means the RowKey sorts
 * before reverseTicks(from - 1ms), and time < to means it sorts at or after reverseTicks(to - 1ms).
 * Comparing against a bare 13-digit prefix works because every RowKey starts with exactly 13 digits.
 * Callers have already answered ranges that end before 1970 or start after the last representable time.
 */
function rowKeyBounds(q: NormalisedQuery): string[] {
  const clauses: string[] = [];
  if (q.fromMs !== undefined && q.fromMs > 0) clauses.push(odata`RowKey lt ${reverseTicks(q.fromMs - 1)}`);
  if (q.toMs !== undefined && q.toMs <= REVERSE_TICKS_MAX) clauses.push(odata`RowKey ge ${reverseTicks(q.toMs - 1)}`);
  return clauses;
}

/** True when no storable time (0 .. REVERSE_TICKS_MAX) can satisfy the range. */
function rangeIsEmpty(q: NormalisedQuery): boolean {
  if (q.toMs !== undefined && q.toMs <= 0) return true;
  if (q.fromMs !== undefined && q.fromMs > REVERSE_TICKS_MAX) return true;
  return q.fromMs !== undefined && q.toMs !== undefined && q.fromMs >= q.toMs;
}

// ---------------------------------------------------------------------------------------------

export class TableAuditStore {
  private readonly now: () => Date;
  private readonly idFactory: (time: Date) => string;
  /** Month range the markers are known to cover; markers only ever widen, so this never goes stale. */
  private knownEarliest: string | undefined;
  private knownLatest: string | undefined;
  private readonly covering = new Map<string, Promise<void>>();

  constructor(
    private readonly client: TableClient,
    opts: TableAuditStoreOptions = {},
  ) {
    this.now = opts.now ?? (() => new Date());
    const custom = opts.idFactory;
    this.idFactory = custom === undefined ? createAuditId : () => custom();
  }

  async append(input: AuditInput): Promise<AuditEntry> {
    const { rows, month } = this.rowsOf(input);
    await ensureTable(this.client);
    // Markers first: a time row must never exist outside the month range the markers announce.
    await this.coverMonth(month);
    // Each row is retried here with the same keys (a repeat is a harmless 409), so a passing
    // fault does not leave an entry in one index and not the other.
    const results = await Promise.allSettled(rows.map((row) => this.insertWithRetry(row)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    return toEntry(rows[0] as AuditRow);
  }

  /**
   * Many entries at once (a sweep's out-of-band verdicts): the rows of each partition go out as
   * entity-group transactions of up to 100 inserts, so entries about one resource cost one request
   * for their resource rows and share the month's. A transaction refused as a whole (one of its
   * rows exists already: a repeated entry) is written row by row, where a repeat is a harmless 409.
   */
  async appendMany(inputs: readonly AuditInput[]): Promise<AuditEntry[]> {
    if (inputs.length === 0) return [];
    const built = inputs.map((input) => this.rowsOf(input));
    await ensureTable(this.client);
    for (const month of new Set(built.map((b) => b.month))) await this.coverMonth(month);
    const partitions = new Map<string, Map<string, AuditRow>>();
    for (const { rows } of built) {
      for (const row of rows) {
        let group = partitions.get(row.partitionKey);
        if (!group) partitions.set(row.partitionKey, (group = new Map()));
        group.set(row.rowKey, row);
      }
    }
    const chunks: AuditRow[][] = [];
    for (const group of partitions.values()) {
      let chunk: AuditRow[] = [];
      let bytes = 0;
      for (const row of group.values()) {
        const size = JSON.stringify(row).length * 2;
        if (chunk.length === 100 || bytes + size > 2 * 1024 * 1024) {
          chunks.push(chunk);
          chunk = [];
          bytes = 0;
        }
        chunk.push(row);
        bytes += size;
      }
      if (chunk.length > 0) chunks.push(chunk);
    }
    let next = 0;
    const worker = async () => {
      while (next < chunks.length) {
        const chunk = chunks[next++] as AuditRow[];
        try {
          await this.client.submitTransaction(chunk.map((row) => ['create', row as unknown as TableEntity] as TransactionAction));
        } catch {
          for (const row of chunk) await this.insertWithRetry(row);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, chunks.length) }, worker));
    return built.map(({ rows }) => toEntry(rows[0] as AuditRow));
  }

  /** The entry's rows (by time, and by resource when it names one) and its month. */
  private rowsOf(input: AuditInput): { rows: AuditRow[]; month: string } {
    const time = input.time ?? (input.id === undefined ? undefined : timeFromDefaultId(input.id)) ?? this.now();
    const ms = time instanceof Date ? time.getTime() : Number.NaN;
    if (!Number.isInteger(ms) || ms < 0 || ms > REVERSE_TICKS_MAX) throw new RangeError('Audit entry time is out of range');
    const id = input.id ?? this.idFactory(time);
    if (!ID_PATTERN.test(id)) throw new TypeError(`Audit entry id must match ${ID_PATTERN.source}`);
    if (!(AUDIT_KINDS as readonly string[]).includes(input.kind)) throw new TypeError(`Unknown audit kind '${input.kind}'`);
    if (!(AUDIT_OUTCOMES as readonly string[]).includes(input.outcome)) {
      throw new TypeError(`Unknown audit outcome '${input.outcome}'`);
    }
    if (!(ACTOR_TYPES as readonly string[]).includes(input.actor.type)) {
      throw new TypeError(`Unknown actor type '${input.actor.type}'`);
    }

    const resourceId = lower(input.resourceId);
    const resourceType = input.resourceType ?? typeOf(resourceId);
    const rowKey = rowKeyFor(ms, id);
    const month = monthOf(ms);
    const columns = compact<Omit<AuditRow, 'partitionKey' | 'rowKey'>>({
      id,
      time: new Date(ms),
      kind: input.kind,
      outcome: input.outcome,
      actorType: input.actor.type,
      actorId: cap(input.actor.id) ?? '',
      actorKey: cap(input.actor.id.toLowerCase()) ?? '',
      actorName: cap(input.actor.name),
      summary: cap(input.summary) ?? '',
      resourceId: cap(resourceId),
      resourceType: cap(resourceType),
      resourceTypeKey: cap(lower(resourceType)),
      connectionId: cap(input.connectionId),
      connectionKey: cap(lower(input.connectionId)),
      privateEndpointId: cap(input.privateEndpointId),
      requesterSubscriptionId: cap(input.requesterSubscriptionId),
      requesterSubscriptionKey: cap(lower(input.requesterSubscriptionId)),
      requesterTenantId: cap(input.requesterTenantId),
      requestMessage: cap(input.requestMessage),
      ruleName: cap(input.ruleName),
      correlationId: cap(input.correlationId),
      ...serialiseDetail(input.detail),
    });
    const rows: AuditRow[] = [{ partitionKey: timePartition(month), rowKey, ...columns }];
    if (resourceId !== undefined && resourceId !== '') rows.push({ partitionKey: resourcePartition(resourceId).key, rowKey, ...columns });
    return { rows, month };
  }

  private async insertWithRetry(row: AuditRow): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.insert(row);
        return;
      } catch (error) {
        if (attempt >= APPEND_ATTEMPTS || isClientError(error)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      }
    }
  }

  async query(q: AuditQuery): Promise<AuditPage> {
    const pageSize = q.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) {
      fail(`pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}`, 'invalid-page-size');
    }
    const nq = normaliseQuery(q);
    const fp = fingerprint(nq);
    const resume = q.continuationToken === undefined ? undefined : decodeToken(q.continuationToken, fp);

    if (rangeIsEmpty(nq)) return { entries: [] };

    await ensureTable(this.client);

    let partitions: { key: string; extra: string[] }[];
    if (nq.resourceId !== undefined) {
      const rp = resourcePartition(nq.resourceId);
      if (resume !== undefined && resume.partition !== rp.key) {
        fail('Continuation token belongs to a different resource', 'token-mismatch');
      }
      partitions = [{ key: rp.key, extra: rp.hashed ? [odata`resourceId eq ${nq.resourceId} or vaultId eq ${nq.resourceId}`] : [] }];
    } else {
      partitions = (await this.monthsToWalk(nq, resume)).map((m) => ({ key: timePartition(m), extra: [] }));
    }

    const bounds = rowKeyBounds(nq);
    const filters = propertyFilters(nq);
    // One row beyond the page tells whether another page exists, so the last page carries no token.
    const want = pageSize + 1;
    const found: { partition: string; row: AuditRow }[] = [];

    walk: for (const partition of partitions) {
      const clauses = [odata`PartitionKey eq ${partition.key}`, ...bounds, ...partition.extra, ...filters];
      if (resume !== undefined && partition.key === resume.partition) clauses.push(odata`RowKey gt ${resume.rowKey}`);
      // Each request asks only for the rows still missing: a page size fixed for the whole walk
      // would let the service read and send up to a full page more than the query needs.
      let continuation: string | undefined;
      do {
        const pages = this.client
          .listEntities<AuditRow>({ queryOptions: { filter: and(clauses) } })
          .byPage({ maxPageSize: Math.min(SERVICE_PAGE_MAX, want - found.length), ...(continuation ? { continuationToken: continuation } : {}) });
        const next = await pages.next();
        if (next.done === true) break;
        const page = next.value;
        for (const row of page) {
          found.push({ partition: partition.key, row });
          if (found.length >= want) break walk;
        }
        continuation = page.continuationToken;
      } while (continuation);
    }

    const entries = found.slice(0, pageSize).map((f) => toEntry(f.row));
    const last = found[pageSize - 1];
    if (found.length > pageSize && last !== undefined) {
      return { entries, continuationToken: encodeToken(fp, { partition: last.partition, rowKey: last.row.rowKey }) };
    }
    return { entries };
  }

  // -------------------------------------------------------------------------------------------

  private async insert(row: AuditRow): Promise<void> {
    try {
      await this.client.createEntity(row);
    } catch (err) {
      // Same id, same time, same keys: an earlier attempt already stored this row.
      if (isTableError(err, 409, 'EntityAlreadyExists')) return;
      throw err;
    }
  }

  /** Month partitions to read, newest first, bounded by the query range and the markers. */
  private async monthsToWalk(q: NormalisedQuery, resume: TokenState | undefined): Promise<string[]> {
    const markers = await this.readMarkers();
    if (markers.earliest === undefined || markers.latest === undefined) return [];

    let newest = monthIndex(markers.latest);
    let oldest = monthIndex(markers.earliest);
    if (q.toMs !== undefined) newest = Math.min(newest, monthIndex(monthOf(Math.max(q.toMs - 1, 0))));
    if (q.fromMs !== undefined) oldest = Math.max(oldest, monthIndex(monthOf(Math.max(q.fromMs, 0))));

    if (resume !== undefined) {
      const match = TIME_PARTITION_PATTERN.exec(resume.partition);
      const resumeIndex = match === null ? Number.NaN : monthIndex(`${match[1]}-${match[2]}`);
      if (Number.isNaN(resumeIndex) || resumeIndex > newest || resumeIndex < oldest) {
        fail('Continuation token does not belong to this query', 'token-mismatch');
      }
      newest = resumeIndex;
    }

    const months: string[] = [];
    for (let i = newest; i >= oldest; i--) months.push(monthFromIndex(i));
    return months;
  }

  private async readMarkers(): Promise<{ earliest?: string; latest?: string }> {
    const out: { earliest?: string; latest?: string } = {};
    const rows = this.client.listEntities<MarkerRow>({
      queryOptions: { filter: odata`PartitionKey eq ${META_PARTITION}` },
    });
    for await (const row of rows) {
      if (row.rowKey === EARLIEST_MONTH) out.earliest = row.month;
      else if (row.rowKey === LATEST_MONTH) out.latest = row.month;
    }
    return out;
  }

  /**
   * Concurrent appends for the same month share one marker update: without that, every append of
   * a burst that starts before the first has learned the markers would read them again.
   */
  private coverMonth(month: string): Promise<void> {
    const covered = (this.knownEarliest === undefined || month >= this.knownEarliest) && (this.knownLatest === undefined || month <= this.knownLatest);
    if (covered && this.knownEarliest !== undefined && this.knownLatest !== undefined) return Promise.resolve();
    let pending = this.covering.get(month);
    if (!pending) {
      pending = this.widenFor(month).finally(() => this.covering.delete(month));
      this.covering.set(month, pending);
    }
    return pending;
  }

  private async widenFor(month: string): Promise<void> {
    if (this.knownEarliest === undefined || month < this.knownEarliest) {
      this.knownEarliest = await this.widenMarker(EARLIEST_MONTH, month, (stored, m) => m < stored);
    }
    if (this.knownLatest === undefined || month > this.knownLatest) {
      this.knownLatest = await this.widenMarker(LATEST_MONTH, month, (stored, m) => m > stored);
    }
  }

  /**
   * Moves a marker to `month` if that widens it, racing other writers safely: create when absent
   * (409 means someone else did), replace only with the ETag that was read (412 means re-read).
   * Returns the marker's value afterwards.
   */
  private async widenMarker(
    rowKey: string,
    month: string,
    widens: (stored: string, month: string) => boolean,
  ): Promise<string> {
    for (let attempt = 0; attempt < MARKER_ATTEMPTS; attempt++) {
      let current: (MarkerRow & { etag: string }) | undefined;
      try {
        current = await this.client.getEntity<MarkerRow>(META_PARTITION, rowKey);
      } catch (err) {
        if (!isTableError(err, 404)) throw err;
      }
      if (current === undefined) {
        try {
          await this.client.createEntity<MarkerRow>({ partitionKey: META_PARTITION, rowKey, month });
          return month;
        } catch (err) {
          if (isTableError(err, 409)) continue;
          throw err;
        }
      }
      if (!widens(current.month, month)) return current.month;
      try {
        await this.client.updateEntity<MarkerRow>({ partitionKey: META_PARTITION, rowKey, month }, 'Replace', {
          etag: current.etag,
        });
        return month;
      } catch (err) {
        if (isTableError(err, 412)) continue;
        throw err;
      }
    }
    throw new Error(`Could not update audit marker '${rowKey}' after ${MARKER_ATTEMPTS} attempts`);
  }
}
