/**
 * Audit queries at scale: 100,000 entries (quick: 10,000) in Azurite through the real
 * TableAuditStore, then every query shape GET /api/audit serves, through the API's own parser
 * (src/app/audit-trail.ts), counting what Table Storage has to read for each.
 *
 * What is counted. Table Storage evaluates a query by walking the rows of one partition in RowKey
 * order from the start of the query's key range, testing the other filters on each row, until it
 * has `$top` matches (or 1,000, or reaches the end of the range); rows that fail a property filter
 * are read but not sent. So for each request the store sends, a pipeline policy on the audit
 * table's client records its key range (PartitionKey and RowKey bounds from `$filter`) and the rows
 * the service sent back; the rows read are those of that key range, in a model of every stored key,
 * from where the request starts (the range's start, or just after the previous page's last row
 * when it follows the service's continuation) up to its last row sent (when a continuation
 * followed) or to the range's end (when none did). The ratio is rows read ÷ entries returned to
 * the caller; the goal is ≤ 2× for every shape.
 *
 * Times are Azurite's and only printed: Azurite's in-memory store tests every entity of the table
 * against each query's filter and sorts the matches (LokiTableMetadataStore.queryTableEntities),
 * so its time grows with the whole table, where Table Storage's grows with the rows read.
 *
 * Seeding: `appendMany` (entity-group transactions per partition), with ids and times given so the
 * expected answer of each query is known; entries cover every kind, the three actor types, 5
 * connections and 5 requester subscriptions per resource, resources of every registered type,
 * over the twelve months of 2025, and ~3% without a resource (rule changes, sweep summaries).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { PipelinePolicy, PipelineRequest, PipelineResponse, SendRequest } from '@azure/core-rest-pipeline';
import type { TableClient } from '@azure/data-tables';
import { TableAuditStore } from '../../src/adapters/tables/audit-store.js';
import { createTableClient } from '../../src/adapters/tables/table-clients.js';
import type { AuditInput } from '../../src/app/ports.js';
import { readAuditTrail } from '../../src/app/audit-trail.js';
import { TABLES } from '../../src/composition.js';
import type { AuditEntry, AuditKind, AuditOutcome } from '../../src/domain/audit.js';
import { connectionRef, resourceRef, type ResourceRef } from '../../src/domain/resource-id.js';
import { RESOURCE_TYPES } from '../../src/domain/resource-types.js';
import { startAzuriteTables } from '../../src/dev/azurite.js';
import { mulberry32 } from '../lib/stack.js';
import { fmtMs, median, rssMiB, type BenchCheck, type BenchGoal, type BenchOptions, type BenchRow, type BenchScenario, type ScenarioResult } from '../lib/report.js';

const FULL_ENTRIES = 100_000;
const QUICK_ENTRIES = 10_000;
/** Entries per resource stay the same in both modes, so a resource's partition looks the same. */
const ENTRIES_PER_RESOURCE = 500;
const CONNECTIONS_PER_RESOURCE = 5;
const YEAR_START = Date.UTC(2025, 0, 1);
const YEAR_END = Date.UTC(2026, 0, 1);
const GOAL_RATIO = 2;
const SUBSCRIPTIONS = Array.from({ length: 8 }, (_, i) => `5ab00000-0000-4000-8000-${String(i).padStart(12, '0')}`);
const USERS = Array.from({ length: 5 }, (_, i) => `ada00000-0000-4000-8000-${String(i).padStart(12, '0')}`);

/** What one entry is, with how often it occurs (weights, not percentages). */
interface Template {
  readonly weight: number;
  readonly kind: AuditKind;
  readonly outcome: AuditOutcome;
  readonly actor: 'rule:in-tenant' | 'rule:deny-listed' | 'rule:everyone-else' | 'user' | `system:${string}`;
  /** An entry about no resource (only the time index row). */
  readonly global?: boolean;
}

const TEMPLATES: readonly Template[] = [
  { weight: 30, kind: 'hint', outcome: 'received', actor: 'system:resourceEvents' },
  { weight: 15, kind: 'decision', outcome: 'approve', actor: 'rule:in-tenant' },
  { weight: 3, kind: 'decision', outcome: 'reject', actor: 'rule:deny-listed' },
  { weight: 8, kind: 'decision', outcome: 'review', actor: 'rule:everyone-else' },
  { weight: 12, kind: 'result', outcome: 'approved', actor: 'system:workflow' },
  { weight: 3, kind: 'result', outcome: 'rejected', actor: 'system:workflow' },
  { weight: 6, kind: 'action', outcome: 'posted', actor: 'system:reviews' },
  { weight: 5, kind: 'human', outcome: 'approve', actor: 'user' },
  { weight: 1, kind: 'human', outcome: 'reject', actor: 'user' },
  { weight: 4, kind: 'skip', outcome: 'duplicate', actor: 'system:resourceEvents' },
  { weight: 1, kind: 'error', outcome: 'failed', actor: 'system:workflow' },
  { weight: 5, kind: 'sweep', outcome: 'out-of-band', actor: 'system:sweep' },
  { weight: 2, kind: 'admin', outcome: 'rule-changed', actor: 'user', global: true },
  { weight: 1, kind: 'sweep', outcome: 'sweep', actor: 'system:sweep', global: true },
];

interface Shape {
  readonly name: string;
  /** The query string GET /api/audit receives. */
  readonly params: URLSearchParams;
  /** Follow continuation tokens to the end, or read the first page only. */
  readonly allPages: boolean;
  /** Why a miss is a miss, and what would close it. */
  readonly whyMissed?: string;
}

interface ShapeFigures {
  readonly shape: string;
  readonly query: string;
  readonly allPages: boolean;
  readonly pages: number;
  readonly requests: number;
  readonly sent: number;
  readonly read: number;
  readonly returned: number;
  readonly expected: number;
  readonly sameEntries: boolean;
  readonly ratio: number;
  readonly ms: number;
  readonly msRuns: readonly number[];
}

export const scenario: BenchScenario = {
  name: 'audit-query',
  async run(options: BenchOptions): Promise<ScenarioResult> {
    const started = performance.now();
    const total = options.quick ? QUICK_ENTRIES : FULL_ENTRIES;
    const resources = Array.from({ length: total / ENTRIES_PER_RESOURCE }, (_, r) =>
      resourceRef(RESOURCE_TYPES[r % RESOURCE_TYPES.length]!, SUBSCRIPTIONS[r % 2]!, `rg-audit-${r % 5}`, `lgaudit${r}`),
    );
    const azurite = await startAzuriteTables();
    try {
      const client = createTableClient({ kind: 'connectionString', connectionString: azurite.connectionString }, `${TABLES.audit}${randomBytes(4).toString('hex')}`);
      const traffic = countEntityQueries(client);
      const store = new TableAuditStore(client);

      const seedStarted = performance.now();
      const inputs = seedInputs(total, resources);
      const entries: AuditEntry[] = [];
      for (let i = 0; i < inputs.length; i += 5_000) entries.push(...(await store.appendMany(inputs.slice(i, i + 5_000))));
      const seedMs = performance.now() - seedStarted;
      const model = keyModel(entries);
      options.print(`audit-query: seeded ${entries.length.toLocaleString('en')} entries (${(model.rows - 2).toLocaleString('en')} index rows, ${model.partitions.size - 1} partitions) on ${resources.length} resources in ${fmtMs(seedMs)}`);

      const shapes = queryShapes(resources, entries);
      const results: ShapeFigures[] = [];
      for (const shape of shapes) {
        // One counted pass (the rows read and sent), then the timed ones with the counter idle.
        traffic.start();
        const counted = await walk(store, shape);
        const requests = traffic.stop();
        const msRuns: number[] = [];
        for (let i = 0; i < options.runs; i += 1) {
          const t0 = performance.now();
          await walk(store, shape);
          msRuns.push(performance.now() - t0);
        }
        const expected = expectedEntries(entries, shape);
        const read = requests.reduce((sum, r) => sum + model.read(r), 0);
        const sent = requests.reduce((sum, r) => sum + r.rowKeys.length, 0);
        const figures: ShapeFigures = {
          shape: shape.name,
          query: decodeURIComponent(shape.params.toString()),
          allPages: shape.allPages,
          pages: counted.pages,
          requests: requests.length,
          sent,
          read,
          returned: counted.ids.length,
          expected: expected.length,
          sameEntries: counted.ids.length === expected.length && counted.ids.every((id, i) => id === expected[i]),
          ratio: read / Math.max(counted.ids.length, 1),
          ms: median(msRuns),
          msRuns,
        };
        results.push(figures);
        options.print(`  ${shape.name}: ${figures.returned} returned, ${figures.read} read, ${figures.sent} sent in ${figures.requests} requests, ${fmtMs(figures.ms)}`);
        const unknown = requests.flatMap((r) => r.rowKeys.filter((key) => !model.has(r.partition, key)));
        if (unknown.length > 0) throw new Error(`audit-query: the key model does not match the stored keys (${unknown.length} rows sent that the model lacks, e.g. ${unknown[0]})`);
      }

      const rows: BenchRow[] = results.map((f) => ({
        figure: `${f.shape}: rows read ÷ returned`,
        value: `${f.read.toLocaleString('en')} read (${f.sent.toLocaleString('en')} sent), ${fmtMs(f.ms)}`,
        baseline: `${f.returned.toLocaleString('en')} returned`,
        ratio: f.ratio,
        goal: `≤ ${GOAL_RATIO.toFixed(2)}×`,
        met: f.ratio <= GOAL_RATIO,
      }));
      const checks: BenchCheck[] = results.flatMap((f) => [
        { what: `${f.shape}: ${f.returned} entries returned, ${f.expected} expected`, ok: f.returned === f.expected && f.expected > 0 },
        { what: `${f.shape}: the expected entries, newest first`, ok: f.sameEntries },
      ]);
      checks.push({ what: `seeded ${total} entries (got ${entries.length})`, ok: entries.length === total });
      const goals: BenchGoal[] = results.map((f, i) => {
        const what = `audit ${f.shape}: rows read ≤ ${GOAL_RATIO}× entries returned`;
        if (f.ratio <= GOAL_RATIO) return { what, met: true };
        return { what, met: false, why: `${f.read.toLocaleString('en')} rows read for ${f.returned.toLocaleString('en')} returned (${f.ratio.toFixed(1)}×). ${shapes[i]!.whyMissed ?? ''}`.trim() };
      });
      return {
        name: 'audit-query',
        title: `audit queries on ${total.toLocaleString('en')} entries (Azurite, TableAuditStore)`,
        size: { entries: total, resources: resources.length, entriesPerResource: ENTRIES_PER_RESOURCE, connectionsPerResource: CONNECTIONS_PER_RESOURCE, months: 12, indexRows: model.rows - 2, runs: options.runs },
        rows,
        checks,
        goals,
        figures: { seedMs: Math.round(seedMs), goalRatio: GOAL_RATIO, shapes: results },
        rssMiB: rssMiB(),
        wallMs: performance.now() - started,
      };
    } finally {
      await azurite.close();
    }
  },
};

// ---------------------------------------------------------------------------------------------
// Seeding

function seedInputs(total: number, resources: readonly ResourceRef[]): AuditInput[] {
  const random = mulberry32(0xa0d17);
  const weights = TEMPLATES.reduce((sum, t) => sum + t.weight, 0);
  const pick = (): Template => {
    let x = random() * weights;
    for (const t of TEMPLATES) if ((x -= t.weight) < 0) return t;
    return TEMPLATES[0]!;
  };
  const inputs: AuditInput[] = [];
  const perResource = new Array<number>(resources.length).fill(0);
  let next = 0;
  while (inputs.length < total) {
    const template = pick();
    // Entries about a resource are dealt round-robin so every resource ends with the same count.
    const r = next % resources.length;
    if (!template.global && perResource[r]! >= ENTRIES_PER_RESOURCE) {
      next += 1;
      continue;
    }
    const ms = YEAR_START + Math.floor(random() * (YEAR_END - YEAR_START));
    const time = new Date(ms);
    const id = `${ms.toString(36).padStart(9, '0')}${inputs.length.toString(36).padStart(4, '0')}`;
    const actor = actorOf(template, random);
    if (template.global) {
      inputs.push({ id, time, kind: template.kind, outcome: template.outcome, actor, summary: `${template.kind} ${template.outcome}` });
      continue;
    }
    perResource[r]! += 1;
    next += 1;
    const resource = resources[r]!;
    const c = Math.floor(random() * CONNECTIONS_PER_RESOURCE);
    const connection = connectionRef(resource, `pe-${r}-${c}.${c}`);
    inputs.push({
      id,
      time,
      kind: template.kind,
      outcome: template.outcome,
      actor,
      summary: `${template.kind} ${template.outcome} for ${connection.name}`,
      resourceId: resource.key,
      connectionId: connection.key,
      privateEndpointId: `/subscriptions/${SUBSCRIPTIONS[(r + c) % SUBSCRIPTIONS.length]}/resourcegroups/rg-pe/providers/microsoft.network/privateendpoints/pe-${r}-${c}`,
      requesterSubscriptionId: SUBSCRIPTIONS[(r + c) % SUBSCRIPTIONS.length],
      requesterTenantId: 'f0e1d2c3-b4a5-4968-8776-655443322110',
      ...(template.actor.startsWith('rule:') ? { ruleName: template.actor.slice(5) } : {}),
      correlationId: `evt-${inputs.length}`,
      detail: { step: template.kind, attempt: 1 },
    });
  }
  return inputs;
}

function actorOf(template: Template, random: () => number): AuditInput['actor'] {
  if (template.actor === 'user') return { type: 'user', id: USERS[Math.floor(random() * USERS.length)]! };
  const [type, id] = template.actor.split(':') as ['rule' | 'system', string];
  return { type, id };
}

// ---------------------------------------------------------------------------------------------
// The query shapes GET /api/audit serves (src/app/audit-trail.ts, TableAuditStore.query)

function queryShapes(resources: readonly ResourceRef[], entries: readonly AuditEntry[]): Shape[] {
  const resource = resources[3]!;
  // The connection of that resource with the most entries, and a person who decided there.
  const connection = mostCommon(entries.filter((e) => e.resourceId === resource.key).map((e) => e.connectionId!));
  const user = mostCommon(entries.filter((e) => e.resourceId === resource.key && e.actor.type === 'user').map((e) => e.actor.id));
  const subscription = entries.find((e) => e.connectionId === connection)!.requesterSubscriptionId!;
  const q = (params: Record<string, string>) => new URLSearchParams(params);
  // Table Storage serves a key range; any other filter is tested row by row inside the partition.
  const inPartition = (what: string, key: string) =>
    `The ${what} filter is tested row by row inside the resource's partition: rows are read until a page is full or the partition ends, so the cost is bounded by one resource's history (${ENTRIES_PER_RESOURCE} entries here). A third index row per entry keyed by ${key} (one more write per entry) would make it a key range.`;
  const inMonths = (what: string, key: string) =>
    `The ${what} filter is tested row by row inside each month partition walked: rows of every resource are read until a page is full or the period ends, so the cost grows with the whole trail's volume. A third index row per entry keyed by ${key} and month (one more write per entry) would make it a key range.`;
  return [
    { name: 'resource, newest page', params: q({ resource: resource.id }), allPages: false },
    { name: 'resource, every page', params: q({ resource: resource.id, pageSize: '100' }), allPages: true },
    { name: 'resource in one month, every page', params: q({ resource: resource.id, from: '2025-06-01', to: '2025-07-01' }), allPages: true },
    { name: 'resource + connection', params: q({ resource: resource.id, connection }), allPages: false, whyMissed: inPartition('connection', 'connection ID') },
    { name: 'connection alone, every page', params: q({ connection }), allPages: true, whyMissed: inPartition('connection', 'connection ID') },
    { name: 'resource + actor, every page', params: q({ resource: resource.id, actor: user }), allPages: true, whyMissed: inPartition('actor', 'resource and actor') },
    { name: 'resource + outcome', params: q({ resource: resource.id, outcome: 'approved' }), allPages: false, whyMissed: inPartition('outcome', 'resource and outcome') },
    { name: 'resource + requester subscription', params: q({ resource: resource.id, subscription }), allPages: false, whyMissed: inPartition('requester subscription', 'resource and requester subscription') },
    { name: 'newest page of everything', params: q({}), allPages: false },
    { name: 'one week, every page', params: q({ from: '2025-06-09', to: '2025-06-16', pageSize: '1000' }), allPages: true },
    { name: 'one quarter, every page', params: q({ from: '2025-07-01', to: '2025-10-01', pageSize: '1000' }), allPages: true },
    { name: 'type in one month', params: q({ type: 'storage', from: '2025-06-01', to: '2025-07-01' }), allPages: false, whyMissed: inMonths('type', 'type') },
    { name: 'type alone', params: q({ type: 'storage' }), allPages: false, whyMissed: inMonths('type', 'type') },
    { name: 'outcome in one month, every page', params: q({ outcome: 'failed', from: '2025-06-01', to: '2025-07-01' }), allPages: true, whyMissed: inMonths('outcome', 'outcome') },
    { name: 'actor alone', params: q({ actor: user }), allPages: false, whyMissed: inMonths('actor', 'actor') },
    { name: 'requester subscription alone', params: q({ subscription }), allPages: false, whyMissed: inMonths('requester subscription', 'requester subscription') },
  ];
}

async function walk(store: TableAuditStore, shape: Shape): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const params = new URLSearchParams(shape.params);
    if (token !== undefined) params.set('continuationToken', token);
    const page = await readAuditTrail({ audit: store }, params);
    ids.push(...page.entries.map((e) => e.id));
    token = page.continuationToken;
    pages += 1;
  } while (shape.allPages && token !== undefined);
  return { ids, pages };
}

/** What the store must answer, from the seeded entries: the same filters, newest first (RowKey order). */
function expectedEntries(entries: readonly AuditEntry[], shape: Shape): string[] {
  const p = shape.params;
  const lower = (name: string) => p.get(name)?.toLowerCase();
  const resource = lower('resource');
  const connection = lower('connection');
  const type = p.get('type') ? RESOURCE_TYPES.find((t) => t.key === p.get('type'))!.type.toLowerCase() : undefined;
  const actor = lower('actor');
  const subscription = lower('subscription');
  const outcome = p.get('outcome');
  const from = p.get('from') ? new Date(p.get('from')!).getTime() : undefined;
  const to = p.get('to') ? new Date(p.get('to')!).getTime() : undefined;
  const matching = entries.filter(
    (e) =>
      (resource === undefined || e.resourceId === resource) &&
      (connection === undefined || e.connectionId === connection) &&
      (type === undefined || e.resourceType?.toLowerCase() === type) &&
      (actor === undefined || e.actor.id.toLowerCase() === actor) &&
      (subscription === undefined || e.requesterSubscriptionId?.toLowerCase() === subscription) &&
      (outcome === null || e.outcome === outcome) &&
      (from === undefined || e.time.getTime() >= from) &&
      (to === undefined || e.time.getTime() < to),
  );
  const sorted = matching.map((e) => ({ key: rowKeyOf(e), id: e.id })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const pageSize = Number(p.get('pageSize') ?? 50);
  return (shape.allPages ? sorted : sorted.slice(0, pageSize)).map((s) => s.id);
}

// ---------------------------------------------------------------------------------------------
// Counting what Table Storage reads

interface EntityQuery {
  readonly partition: string;
  /** RowKey bounds from $filter: [lower, inclusive], [upper, inclusive]. */
  readonly lower?: { readonly key: string; readonly inclusive: boolean };
  readonly upper?: { readonly key: string; readonly inclusive: boolean };
  /** The scan resumes after this RowKey (a request that follows the service's continuation). */
  readonly after?: string;
  readonly rowKeys: readonly string[];
  readonly continued: boolean;
}

interface Traffic {
  start(): void;
  stop(): EntityQuery[];
}

/**
 * A pipeline policy on the audit table's client: for every entity query, its key range and the
 * RowKeys of the rows the service sent back. Idle (a pass-through) between start and stop.
 */
function countEntityQueries(client: TableClient): Traffic {
  let recording: EntityQuery[] | undefined;
  /** Last RowKey sent for a $filter whose answer carried a continuation. */
  const lastSent = new Map<string, string>();
  const policy: PipelinePolicy = {
    name: 'benchCountEntityQueries',
    async sendRequest(request: PipelineRequest, next: SendRequest): Promise<PipelineResponse> {
      const response = await next(request);
      if (recording === undefined || request.method !== 'GET') return response;
      const url = new URL(request.url);
      const filter = url.searchParams.get('$filter');
      if (filter === null || response.status !== 200) return response;
      const partition = /PartitionKey eq '((?:[^']|'')*)'/.exec(filter)?.[1]?.replace(/''/g, "'");
      if (partition === undefined) throw new Error(`audit-query: an entity query without a partition: ${filter}`);
      const body = JSON.parse(response.bodyAsText ?? '{"value":[]}') as { value: Array<{ RowKey: string }> };
      const rowKeys = body.value.map((row) => row.RowKey);
      const continued = response.headers.get('x-ms-continuation-nextrowkey') !== undefined;
      let lower: EntityQuery['lower'];
      let upper: EntityQuery['upper'];
      for (const match of filter.matchAll(/RowKey (gt|ge|lt|le) '((?:[^']|'')*)'/g)) {
        const key = match[2]!.replace(/''/g, "'");
        const op = match[1]!;
        if (op === 'gt' || op === 'ge') {
          if (lower === undefined || key > lower.key) lower = { key, inclusive: op === 'ge' };
        } else if (upper === undefined || key < upper.key) upper = { key, inclusive: op === 'le' };
      }
      const after = url.searchParams.has('NextRowKey') ? lastSent.get(filter) : undefined;
      if (url.searchParams.has('NextRowKey') && after === undefined) throw new Error('audit-query: a continued request without its previous page');
      if (continued && rowKeys.length > 0) lastSent.set(filter, rowKeys[rowKeys.length - 1]!);
      else lastSent.delete(filter);
      recording.push({ partition, lower, upper, after, rowKeys, continued });
      return response;
    },
  };
  client.pipeline.addPolicy(policy);
  return {
    start() {
      recording = [];
      lastSent.clear();
    },
    stop() {
      const out = recording ?? [];
      recording = undefined;
      return out;
    },
  };
}

interface KeyModel {
  readonly partitions: ReadonlyMap<string, readonly string[]>;
  readonly rows: number;
  /** Rows Table Storage walks for one request. */
  read(query: EntityQuery): number;
  has(partition: string, rowKey: string): boolean;
}

/**
 * Every stored key, by partition, sorted: the keys TableAuditStore writes (its file comment):
 * `t|<yyyy-mm>` and `v|<encoded resource id>`, RowKey `<reverse ticks>|<id>`, and the two markers.
 * Every RowKey a query is sent back is checked against it.
 */
function keyModel(entries: readonly AuditEntry[]): KeyModel {
  const partitions = new Map<string, string[]>();
  const add = (partition: string, rowKey: string) => {
    let keys = partitions.get(partition);
    if (!keys) partitions.set(partition, (keys = []));
    keys.push(rowKey);
  };
  for (const e of entries) {
    const rowKey = rowKeyOf(e);
    const d = e.time;
    add(`t|${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`, rowKey);
    if (e.resourceId) add(`v|${encodeURIComponent(e.resourceId)}`, rowKey);
  }
  add('meta', 'earliest-month');
  add('meta', 'latest-month');
  for (const keys of partitions.values()) keys.sort();
  const sets = new Map([...partitions].map(([p, keys]) => [p, new Set(keys)]));
  let rows = 0;
  for (const keys of partitions.values()) rows += keys.length;
  return {
    partitions,
    rows,
    has: (partition, rowKey) => sets.get(partition)?.has(rowKey) ?? false,
    read(query) {
      const keys = partitions.get(query.partition) ?? [];
      // First index at or after the scan's start.
      let start = 0;
      if (query.lower) start = lowerBound(keys, query.lower.key, !query.lower.inclusive);
      if (query.after !== undefined) start = Math.max(start, lowerBound(keys, query.after, true));
      // One past the last row walked: the last row sent when a continuation followed, else the range's end.
      let end = keys.length;
      if (query.upper) end = lowerBound(keys, query.upper.key, query.upper.inclusive);
      if (query.continued && query.rowKeys.length > 0) end = Math.min(end, lowerBound(keys, query.rowKeys[query.rowKeys.length - 1]!, true));
      return Math.max(0, end - start);
    },
  };
}

/** The first index whose key is ≥ `key` (or > `key` when `strictlyAfter`). */
function lowerBound(sorted: readonly string[], key: string, strictlyAfter: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const k = sorted[mid]!;
    if (k < key || (strictlyAfter && k === key)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function rowKeyOf(e: AuditEntry): string {
  return `${String(9_999_999_999_999 - e.time.getTime()).padStart(13, '0')}|${e.id}`;
}

function mostCommon(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]![0];
}
