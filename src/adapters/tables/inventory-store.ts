/**
 * The inventory in Azure Table Storage (table `connections`): one row per private endpoint
 * connection Linkgate has ever seen (vocabulary: src/domain/inventory.ts).
 *
 *   PartitionKey  encodeURIComponent(lower-case resource ID)   all connections of one resource together
 *                 (the ID names the type, so resources of every type share the table)
 *   RowKey        encodeURIComponent(lower-case connection name, the last segment of the connection ID)
 *
 * Columns: every InventoryEntry field under its own name (dates as DateTime), plus lower-case
 * copies for the filters that must match case-insensitively: `statusKey`, `resourceTypeKey`,
 * `requesterTenantKey`, `requesterSubscriptionKey`. `decidedBy` and `outOfBand` hold only the
 * lower-case words of their vocabularies and are filtered as they are.
 *
 * Queries served:
 *   - one resource's entries (the sweep, before it compares a resource): one partition, `listResource`;
 *   - every entry's comparison fields (the sweep, once per run): one scan with `select` of
 *     connectionId, status, privateEndpointId and decidedBy, read in service pages of 1,000, so
 *     128,000 entries are 128 requests of a few columns each; `index`;
 *   - listings for people (`query`, GET /api/connections): in PartitionKey/RowKey order (by
 *     resource, then connection name). A resource filter is `PartitionKey eq`, one partition;
 *     status, type, requester tenant and subscription, who decided and the out-of-band verdict are
 *     property filters, which the service evaluates while it scans. A scan that finds few matches
 *     may come back with short or empty service pages; one call reads at most
 *     MAX_SERVICE_PAGES of them and then answers what it found with a continuation token, so no
 *     single request walks the whole table.
 *
 * Writes: `write` upserts in Replace mode (a row holds the whole entry, never a merge of two). The
 * entries of one partition go together as entity-group transactions: at most 100 operations and
 * about 3 MiB of entities each (the service allows 4 MiB), so a resource with more connections
 * takes several transactions, each all-or-nothing on its own. Partitions are written a few at a
 * time. Two entries for the same connection in one call: the later one wins (a transaction may
 * not name an entity twice).
 *
 * Paging: the continuation token is base64url JSON of the service's own continuation
 * (nextPartitionKey / nextRowKey), a marker naming this table's tokens, and a fingerprint of the
 * query's filters. A token that does not parse, lacks the marker, or was issued for other filters
 * is refused with AuditQueryError. A token may be followed by an empty page when the service
 * could not tell that nothing more matched.
 *
 * Limits: keys are at most 512 characters (Azure allows 1 KiB of UTF-16, Azurite 512
 * characters); IDs that registered resource types produce stay far below, and an entry whose
 * keys would not fit is refused rather than stored under a different key. Resource, connection
 * and endpoint IDs are capped at 2,048 characters, other strings at 1,024, keeping a row near
 * 40 KiB at the very worst (the service allows 1 MiB and 255 properties; a row has 23).
 */
import { createHash } from 'node:crypto';
import { odata, type TableClient, type TableEntity, type TransactionAction } from '@azure/data-tables';
import type { InventoryPort } from '../../app/ports.js';
import { AuditQueryError } from '../../domain/errors.js';
import {
  DECIDED_BY,
  OUT_OF_BAND,
  SEEN_VIA,
  type DecidedBy,
  type InventoryEntry,
  type InventoryIndexEntry,
  type InventoryPage,
  type InventoryQuery,
  type OutOfBandVerdict,
  type SeenVia,
} from '../../domain/inventory.js';
import { truncateUnits } from '../../shared/text.js';
import { asDate, ensureTable, isTableError } from './table-clients.js';

export const INVENTORY_TABLE_NAME = 'connections';
export const INVENTORY_DEFAULT_PAGE_SIZE = 100;
export const INVENTORY_MAX_PAGE_SIZE = 1000;
/** Service pages one `query` call reads at most before it answers with a continuation token. */
export const MAX_SERVICE_PAGES = 10;

/** The service's entity-group transaction limit. */
const MAX_TRANSACTION_OPERATIONS = 100;
/** Estimated bytes of entities per transaction; the service allows a 4 MiB request. */
const MAX_TRANSACTION_BYTES = 3 * 1024 * 1024;
/** Partitions written at the same time. */
const WRITE_CONCURRENCY = 4;
const SERVICE_PAGE_MAX = 1000;
const MAX_KEY_CHARS = 512;
const MAX_ID_CHARS = 2_048;
const MAX_TEXT_CHARS = 1_024;
/** Longest service continuation value accepted back from a token. */
const MAX_CONTINUATION_CHARS = 2_048;
const TOKEN_MARKER = 'linkgate-inventory';

export interface TableInventoryStoreOptions {
  /** Service pages per `query` call (default MAX_SERVICE_PAGES). */
  readonly maxServicePages?: number;
}

/** The stored shape of a row. */
interface InventoryRow {
  partitionKey: string;
  rowKey: string;
  connectionId: string;
  resourceId: string;
  resourceType: string;
  resourceTypeKey: string;
  status: string;
  statusKey: string;
  privateEndpointId?: string;
  requesterSubscriptionId?: string;
  requesterSubscriptionKey?: string;
  requesterTenantId?: string;
  requesterTenantKey?: string;
  firstSeenAt: Date;
  firstSeenStatus: string;
  firstSeenVia: string;
  createdBy?: string;
  statusChangedAt: Date;
  statusChangedBy?: string;
  decidedBy: string;
  decider?: string;
  outOfBand?: string;
  outOfBandRule?: string;
  owed?: string;
}

/** The columns `index` reads. */
const INDEX_COLUMNS = ['connectionId', 'status', 'privateEndpointId', 'decidedBy', 'firstSeenAt', 'firstSeenStatus', 'firstSeenVia', 'createdBy', 'owed'] as const;

interface TokenBody {
  m: typeof TOKEN_MARKER;
  v: 1;
  /** Fingerprint of the filters the token was issued for. */
  f: string;
  /** The service's continuation. */
  nextPartitionKey: string;
  nextRowKey?: string;
}

export class TableInventoryStore implements InventoryPort {
  private readonly maxServicePages: number;

  constructor(
    private readonly client: TableClient,
    options: TableInventoryStoreOptions = {},
  ) {
    this.maxServicePages = Math.max(1, options.maxServicePages ?? MAX_SERVICE_PAGES);
  }

  async listResource(resourceKey: string): Promise<InventoryEntry[]> {
    await ensureTable(this.client);
    const filter = odata`PartitionKey eq ${partitionKeyOf(resourceKey)}`;
    const out: InventoryEntry[] = [];
    for await (const row of this.client.listEntities<InventoryRow>({ queryOptions: { filter } })) out.push(toEntry(row));
    return out;
  }

  async index(): Promise<Map<string, InventoryIndexEntry>> {
    return this.readIndex(undefined);
  }

  async indexOf(resourceKey: string): Promise<Map<string, InventoryIndexEntry>> {
    return this.readIndex(odata`PartitionKey eq ${partitionKeyOf(resourceKey)}`);
  }

  async claim(entry: InventoryEntry, expected: string): Promise<boolean> {
    const row = toRow(entry) as unknown as TableEntity;
    await ensureTable(this.client);
    try {
      if (expected === 'absent') await this.client.createEntity(row);
      else await this.client.updateEntity(row, 'Replace', { etag: expected });
      return true;
    } catch (error) {
      if (isTableError(error, 409) || isTableError(error, 412) || isTableError(error, 404)) return false;
      throw error;
    }
  }

  async claimMany(claims: readonly { readonly entry: InventoryEntry; readonly expected: string }[]): Promise<boolean[]> {
    const results: boolean[] = new Array<boolean>(claims.length).fill(false);
    // First-seen entries of one resource are inserted together; a transaction refused as a whole
    // (one of them exists: another observer was first) is claimed entry by entry.
    const fresh = new Map<string, number[]>();
    const single: number[] = [];
    claims.forEach(({ entry, expected }, index) => {
      if (expected !== 'absent') return single.push(index);
      const key = partitionKeyOf(entry.resourceId);
      fresh.set(key, [...(fresh.get(key) ?? []), index]);
    });
    await ensureTable(this.client);
    for (const indexes of fresh.values()) {
      for (let i = 0; i < indexes.length; i += 100) {
        const chunk = indexes.slice(i, i + 100);
        const rows = chunk.map((index) => toRow((claims[index] as { entry: InventoryEntry }).entry));
        if (new Set(rows.map((r) => r.rowKey)).size !== rows.length) {
          single.push(...chunk);
          continue;
        }
        try {
          await this.client.submitTransaction(rows.map((row) => ['create', row as unknown as TableEntity] as TransactionAction));
          for (const index of chunk) results[index] = true;
        } catch (error) {
          if (!isTableError(error, 409) && !isTableError(error, 400)) throw error;
          single.push(...chunk);
        }
      }
    }
    for (const index of single) {
      const { entry, expected } = claims[index] as { entry: InventoryEntry; expected: string };
      results[index] = await this.claim(entry, expected);
    }
    return results;
  }

  private async readIndex(filter: string | undefined): Promise<Map<string, InventoryIndexEntry>> {
    await ensureTable(this.client);
    const out = new Map<string, InventoryIndexEntry>();
    const pages = this.client
      .listEntities<Pick<InventoryRow, (typeof INDEX_COLUMNS)[number]> & { etag?: string }>({ queryOptions: { select: [...INDEX_COLUMNS], ...(filter ? { filter } : {}) } })
      .byPage({ maxPageSize: SERVICE_PAGE_MAX });
    for await (const page of pages) {
      for (const row of page) {
        if (typeof row.connectionId !== 'string') continue;
        const endpointKey = typeof row.privateEndpointId === 'string' ? row.privateEndpointId.toLowerCase() : undefined;
        out.set(row.connectionId.toLowerCase(), {
          status: typeof row.status === 'string' ? row.status : '',
          ...(endpointKey ? { endpointKey } : {}),
          decidedBy: decidedByOf(row.decidedBy),
          firstSeenAt: asDate(row.firstSeenAt) ?? new Date(0),
          firstSeenStatus: typeof row.firstSeenStatus === 'string' ? row.firstSeenStatus : '',
          firstSeenVia: SEEN_VIA.includes(row.firstSeenVia as SeenVia) ? (row.firstSeenVia as SeenVia) : 'sweep',
          ...(typeof row.createdBy === 'string' ? { createdBy: row.createdBy } : {}),
          ...(typeof row.etag === 'string' ? { etag: row.etag } : {}),
          ...(typeof row.owed === 'string' && row.owed !== '' ? { owed: true } : {}),
        });
      }
    }
    return out;
  }

  async write(entries: readonly InventoryEntry[]): Promise<void> {
    if (entries.length === 0) return;
    // Rows are built (and checked) before anything is sent, so a bad entry writes nothing.
    const partitions = new Map<string, Map<string, InventoryRow>>();
    for (const entry of entries) {
      const row = toRow(entry);
      let rows = partitions.get(row.partitionKey);
      if (!rows) partitions.set(row.partitionKey, (rows = new Map()));
      rows.delete(row.rowKey);
      rows.set(row.rowKey, row);
    }
    await ensureTable(this.client);
    const batches = [...partitions.values()].flatMap((rows) => transactions([...rows.values()]));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < batches.length) {
        const batch = batches[next++] as InventoryRow[];
        const actions: TransactionAction[] = batch.map((row) => ['upsert', row as unknown as TableEntity, 'Replace']);
        await this.client.submitTransaction(actions);
      }
    };
    await Promise.all(Array.from({ length: Math.min(WRITE_CONCURRENCY, batches.length) }, worker));
  }

  async query(q: InventoryQuery): Promise<InventoryPage> {
    const pageSize = q.pageSize ?? INVENTORY_DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > INVENTORY_MAX_PAGE_SIZE) {
      throw new AuditQueryError(`pageSize must be a whole number from 1 to ${INVENTORY_MAX_PAGE_SIZE}`, 'invalid-page-size');
    }
    const clauses = filterClauses(q);
    const fp = fingerprint(clauses);
    let continuation = q.continuationToken === undefined ? undefined : decodeToken(q.continuationToken, fp);

    await ensureTable(this.client);
    const filter = clauses.length === 0 ? undefined : clauses.map((c) => `(${c})`).join(' and ');
    const entries: InventoryEntry[] = [];
    // Each service page is asked for exactly what the page still lacks, so the service's own
    // continuation is always the exact point to resume at.
    for (let servicePages = 0; servicePages < this.maxServicePages; servicePages++) {
      const pages = this.client
        .listEntities<InventoryRow>({ queryOptions: filter === undefined ? {} : { filter } })
        .byPage({ maxPageSize: Math.min(SERVICE_PAGE_MAX, pageSize - entries.length), ...(continuation ? { continuationToken: continuation } : {}) });
      const first = await pages.next();
      if (first.done) {
        continuation = undefined;
        break;
      }
      for (const row of first.value) entries.push(toEntry(row));
      continuation = first.value.continuationToken;
      if (continuation === undefined || entries.length >= pageSize) break;
    }
    return continuation === undefined ? { entries } : { entries, continuationToken: encodeToken(fp, continuation) };
  }
}

// ---------------------------------------------------------------------------------------------
// Keys

/** The PartitionKey of a resource, from its lower-case ID (InventoryQuery.resourceKey) or any spelling of it. */
export function partitionKeyOf(resourceId: string): string {
  return encodeURIComponent(resourceId.toLowerCase());
}

/** The RowKey of a connection: its name, the last segment of its ID. */
export function rowKeyOf(connectionId: string): string {
  const name = connectionId.replace(/\/+$/, '').split('/').pop() ?? '';
  return encodeURIComponent(name.toLowerCase());
}

// ---------------------------------------------------------------------------------------------
// Rows

function toRow(entry: InventoryEntry): InventoryRow {
  const partitionKey = partitionKeyOf(entry.resourceId);
  const rowKey = rowKeyOf(entry.connectionId);
  if (partitionKey.length > MAX_KEY_CHARS || rowKey.length > MAX_KEY_CHARS || rowKey === '' || partitionKey === '') {
    throw new RangeError(`Inventory entry ${truncateUnits(entry.connectionId, 200)} cannot be keyed: its resource ID or connection name is empty or too long for a table key`);
  }
  if (!SEEN_VIA.includes(entry.firstSeenVia)) throw new TypeError(`Unknown firstSeenVia '${String(entry.firstSeenVia)}'`);
  if (!DECIDED_BY.includes(entry.decidedBy)) throw new TypeError(`Unknown decidedBy '${String(entry.decidedBy)}'`);
  if (entry.outOfBand !== undefined && !OUT_OF_BAND.includes(entry.outOfBand)) throw new TypeError(`Unknown outOfBand '${String(entry.outOfBand)}'`);
  const firstSeenAt = validDate(entry.firstSeenAt, 'firstSeenAt');
  const statusChangedAt = validDate(entry.statusChangedAt, 'statusChangedAt');
  const status = text(entry.status);
  const resourceType = text(entry.resourceType);
  const row: InventoryRow = {
    partitionKey,
    rowKey,
    connectionId: id(entry.connectionId),
    resourceId: id(entry.resourceId),
    resourceType,
    resourceTypeKey: resourceType.toLowerCase(),
    status,
    statusKey: status.toLowerCase(),
    firstSeenAt,
    firstSeenStatus: text(entry.firstSeenStatus),
    firstSeenVia: entry.firstSeenVia,
    statusChangedAt,
    decidedBy: entry.decidedBy,
  };
  if (entry.privateEndpointId !== undefined) row.privateEndpointId = id(entry.privateEndpointId);
  if (entry.requesterSubscriptionId !== undefined) {
    row.requesterSubscriptionId = text(entry.requesterSubscriptionId);
    row.requesterSubscriptionKey = row.requesterSubscriptionId.toLowerCase();
  }
  if (entry.requesterTenantId !== undefined) {
    row.requesterTenantId = text(entry.requesterTenantId);
    row.requesterTenantKey = row.requesterTenantId.toLowerCase();
  }
  if (entry.createdBy !== undefined) row.createdBy = text(entry.createdBy);
  if (entry.statusChangedBy !== undefined) row.statusChangedBy = text(entry.statusChangedBy);
  if (entry.decider !== undefined) row.decider = text(entry.decider);
  if (entry.outOfBand !== undefined) row.outOfBand = entry.outOfBand;
  if (entry.outOfBandRule !== undefined) row.outOfBandRule = text(entry.outOfBandRule);
  if (entry.owed !== undefined) row.owed = entry.owed.slice(0, 30_000);
  return row;
}

/**
 * A row as an entry. Values outside the vocabularies (rows edited by hand) read as the
 * vocabulary's neutral word (`decidedBy` none, `firstSeenVia` manual) or as absent (`outOfBand`).
 */
function toEntry(row: InventoryRow): InventoryEntry {
  const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
  const outOfBand = OUT_OF_BAND.includes(row.outOfBand as OutOfBandVerdict) ? (row.outOfBand as OutOfBandVerdict) : undefined;
  const firstSeenVia = SEEN_VIA.includes(row.firstSeenVia as SeenVia) ? (row.firstSeenVia as SeenVia) : 'manual';
  const optional = {
    privateEndpointId: str(row.privateEndpointId),
    requesterSubscriptionId: str(row.requesterSubscriptionId),
    requesterTenantId: str(row.requesterTenantId),
    createdBy: str(row.createdBy),
    statusChangedBy: str(row.statusChangedBy),
    decider: str(row.decider),
    outOfBand,
    outOfBandRule: str(row.outOfBandRule),
    owed: str(row.owed),
  };
  const entry: Record<string, unknown> = {
    connectionId: str(row.connectionId) ?? '',
    resourceId: str(row.resourceId) ?? '',
    resourceType: str(row.resourceType) ?? '',
    status: str(row.status) ?? '',
    firstSeenAt: asDate(row.firstSeenAt) ?? new Date(0),
    firstSeenStatus: str(row.firstSeenStatus) ?? '',
    firstSeenVia,
    statusChangedAt: asDate(row.statusChangedAt) ?? new Date(0),
    decidedBy: decidedByOf(row.decidedBy),
  };
  for (const [key, value] of Object.entries(optional)) if (value !== undefined) entry[key] = value;
  return entry as unknown as InventoryEntry;
}

function decidedByOf(value: unknown): DecidedBy {
  return DECIDED_BY.includes(value as DecidedBy) ? (value as DecidedBy) : 'none';
}

function id(value: string): string {
  return truncateUnits(value, MAX_ID_CHARS);
}

function text(value: string): string {
  return truncateUnits(value, MAX_TEXT_CHARS);
}

function validDate(value: Date, field: string): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new TypeError(`Inventory entry ${field} is not a valid date`);
  return value;
}

/** One partition's rows in transactions within the operation and size limits. */
function transactions(rows: readonly InventoryRow[]): InventoryRow[][] {
  const out: InventoryRow[][] = [];
  let current: InventoryRow[] = [];
  let bytes = 0;
  for (const row of rows) {
    const size = Buffer.byteLength(JSON.stringify(row)) + 200;
    if (current.length > 0 && (current.length >= MAX_TRANSACTION_OPERATIONS || bytes + size > MAX_TRANSACTION_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(row);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Queries

function filterClauses(q: InventoryQuery): string[] {
  const clauses: string[] = [];
  if (q.resourceKey !== undefined) clauses.push(odata`PartitionKey eq ${partitionKeyOf(q.resourceKey)}`);
  if (q.status !== undefined) clauses.push(odata`statusKey eq ${q.status.toLowerCase()}`);
  if (q.type !== undefined) clauses.push(odata`resourceTypeKey eq ${q.type.key.toLowerCase()}`);
  if (q.requesterTenantId !== undefined) clauses.push(odata`requesterTenantKey eq ${q.requesterTenantId.toLowerCase()}`);
  if (q.requesterSubscriptionId !== undefined) clauses.push(odata`requesterSubscriptionKey eq ${q.requesterSubscriptionId.toLowerCase()}`);
  if (q.decidedBy !== undefined) clauses.push(odata`decidedBy eq ${q.decidedBy}`);
  if (q.outOfBand !== undefined) clauses.push(odata`outOfBand eq ${q.outOfBand}`);
  return clauses;
}

function fingerprint(clauses: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(clauses)).digest('base64url').slice(0, 16);
}

/** Our token around the SDK's continuation (base64 JSON of nextPartitionKey / nextRowKey). */
function encodeToken(fp: string, sdkToken: string): string {
  const service = parseJson(Buffer.from(sdkToken, 'base64').toString('utf8')) as { nextPartitionKey?: unknown; nextRowKey?: unknown } | undefined;
  if (typeof service?.nextPartitionKey !== 'string') throw new Error('Table Storage answered with a continuation Linkgate cannot read');
  const body: TokenBody = {
    m: TOKEN_MARKER,
    v: 1,
    f: fp,
    nextPartitionKey: service.nextPartitionKey,
    ...(typeof service.nextRowKey === 'string' && service.nextRowKey !== '' ? { nextRowKey: service.nextRowKey } : {}),
  };
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
}

/** The SDK's continuation for a token this store issued for these filters; anything else is refused. */
function decodeToken(token: string, fp: string): string {
  const body = /^[A-Za-z0-9_-]{1,8192}$/.test(token) ? (parseJson(Buffer.from(token, 'base64url').toString('utf8')) as Partial<TokenBody> | undefined) : undefined;
  const continuationOk = (value: unknown): value is string => typeof value === 'string' && value !== '' && value.length <= MAX_CONTINUATION_CHARS && /^[\x20-\x7e]*$/.test(value);
  if (
    typeof body !== 'object' ||
    body === null ||
    body.m !== TOKEN_MARKER ||
    body.v !== 1 ||
    typeof body.f !== 'string' ||
    !continuationOk(body.nextPartitionKey) ||
    (body.nextRowKey !== undefined && !continuationOk(body.nextRowKey))
  ) {
    throw new AuditQueryError('The continuation token is not one Linkgate issued for the connection inventory; start again without it', 'invalid-token');
  }
  if (body.f !== fp) {
    throw new AuditQueryError('The continuation token belongs to a query with other filters; repeat the filters it was issued for, or start again without it', 'token-mismatch');
  }
  const service = { nextPartitionKey: body.nextPartitionKey, ...(body.nextRowKey !== undefined ? { nextRowKey: body.nextRowKey } : {}) };
  return Buffer.from(JSON.stringify(service), 'utf8').toString('base64');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
