import { createHash } from 'node:crypto';
import type { ArmResult } from './arm-handlers.js';
import { isRecord } from './http-io.js';
import type { CallerIdentity } from './identity.js';
import { idKey } from './resource-ids.js';
import { fixtureFor } from './resource-fixtures.js';
import {
  canonicalQuery,
  CONNECTION_QUERY_COLUMNS,
  parseGraphQuery,
  QueryParseError,
  RESOURCE_QUERY_COLUMNS,
  type GraphQuery,
} from './resource-graph-query.js';
import type { ResourceStore, StoredResource } from './store.js';
import { formatResetsAfter, type QueryQuota } from './throttling.js';

/**
 * Azure Resource Graph's query endpoint, `POST /providers/Microsoft.ResourceGraph/resources`, answered from
 * the same store ARM serves: every resource as its own GET renders it. Resource Graph lags ARM, so with
 * `lagMs` it answers from a copy of the store that is renewed once it is older than the lag.
 */
export const RESOURCE_GRAPH_API_VERSIONS = ['2024-04-01', '2022-10-01', '2021-06-01-preview', '2021-03-01', '2020-04-01-preview', '2019-04-01'];
export const RESOURCE_GRAPH_PATH = '/providers/microsoft.resourcegraph/resources';

const DEFAULT_TOP = 100;
const MAX_TOP = 1000;

export interface GraphRequest {
  rawBody: string;
  caller: CallerIdentity;
  correlationId: string;
}

export interface ResourceGraphOptions {
  store: ResourceStore;
  now: () => Date;
  lagMs: number;
  quota: QueryQuota;
}

type Row = Record<string, string>;

/** A resource as Resource Graph indexed it. */
interface IndexedResource {
  id: string;
  /** Resource Graph reports types in lower case. */
  type: string;
  subscriptionId: string;
  subscriptionKey: string;
  properties: Record<string, unknown>;
  /** The connection query's rows by expand limit, filled on first use. */
  expanded: Map<number, ExpandedRows>;
}

interface ExpandedRows {
  rows: Row[];
  /** Whether every row's id lies under the resource's ID, which lets rows be ordered resource by resource. */
  underResource: boolean;
}

const CONNECTION_SEGMENT = '/privateEndpointConnections/';

interface Snapshot {
  takenAtMs: number;
  revision: number;
  resources: IndexedResource[];
  /** Each resource with the store revision it was indexed at, so the next snapshot renders only what changed. */
  byKey: Map<string, { revision: number; indexed: IndexedResource }>;
  /** Sorted answers by query and scope, so paging through a large answer sorts it once. */
  answers: Map<string, Row[]>;
}

export class ResourceGraph {
  private snapshot: Snapshot;

  constructor(private readonly options: ResourceGraphOptions) {
    this.snapshot = this.takeSnapshot();
  }

  /** Indexes the store now, as if Resource Graph had just caught up. */
  refresh(): void {
    this.snapshot = this.takeSnapshot();
  }

  handle(req: GraphRequest): ArmResult {
    const nowMs = this.options.now().getTime();
    const admission = this.options.quota.take(idKey(req.caller.objectId), nowMs);
    const quotaHeaders = {
      'x-ms-user-quota-remaining': String(admission.remaining),
      'x-ms-user-quota-resets-after': formatResetsAfter(admission.resetsAfterMs),
    };
    if (!admission.admitted) {
      const seconds = admission.retryAfterSeconds;
      return {
        status: 429,
        headers: { ...quotaHeaders, 'Retry-After': String(seconds) },
        body: {
          error: {
            code: 'RateLimiting',
            message: `${this.supportInfo(req)}. Too many requests. Please retry after ${seconds} seconds.`,
          },
        },
      };
    }
    try {
      return { ...this.answer(req), headers: quotaHeaders };
    } catch (error) {
      if (error instanceof GraphRequestError) return { status: 400, body: this.errorBody(req, error.details), headers: quotaHeaders };
      throw error;
    }
  }

  private answer(req: GraphRequest): ArmResult {
    const request = parseRequest(req.rawBody);
    let query: GraphQuery;
    try {
      query = parseGraphQuery(request.query);
    } catch (error) {
      if (!(error instanceof QueryParseError)) throw error;
      throw new GraphRequestError([
        {
          code: 'InvalidQuery',
          message: 'Query is invalid. Please refer to the documentation for the Azure Resource Graph service and fix the error before retrying.',
        },
        { code: 'ParserFailure', message: 'ParserFailure', line: error.line, characterPositionInLine: error.characterPositionInLine, token: error.token },
      ]);
    }
    const scope = this.scope(request.subscriptions);
    const answerKey = `${canonicalQuery(query)}#${[...scope].sort().join(',')}`;
    const rows = this.rows(query, scope, answerKey);
    const offset = request.skipToken !== undefined ? decodeSkipToken(request.skipToken, answerKey) : request.skip;
    const page = rows.slice(offset, offset + request.top);
    const end = offset + page.length;
    const columns = query.kind === 'connections' ? CONNECTION_QUERY_COLUMNS : RESOURCE_QUERY_COLUMNS;
    return {
      status: 200,
      body: {
        totalRecords: rows.length,
        count: page.length,
        resultTruncated: 'false',
        ...(end < rows.length ? { $skipToken: encodeSkipToken(answerKey, end) } : {}),
        data:
          request.resultFormat === 'table'
            ? { columns: columns.map((name) => ({ name, type: 'string' })), rows: page.map((row) => columns.map((name) => row[name])) }
            : page,
      },
    };
  }

  /** Subscription keys the query covers: those asked for, or all, less those the caller cannot see. */
  private scope(subscriptions: string[] | undefined): Set<string> {
    const visible = new Set(
      this.options.store
        .listSubscriptions()
        .filter((s) => s.visibility === 'visible')
        .map((s) => idKey(s.subscriptionId)),
    );
    if (subscriptions === undefined || subscriptions.length === 0) return visible;
    return new Set(subscriptions.map(idKey).filter((key) => visible.has(key)));
  }

  private rows(query: GraphQuery, scope: Set<string>, answerKey: string): Row[] {
    const snapshot = this.current();
    const cached = snapshot.answers.get(answerKey);
    if (cached) return cached;
    const types = new Set(query.types.map((t) => t.toLowerCase()));
    const matching = snapshot.resources.filter((r) => types.has(r.type) && scope.has(r.subscriptionKey));
    let rows: Row[];
    if (query.kind === 'resources') {
      rows = matching.map((r) => ({ id: r.id, type: r.type, subscriptionId: r.subscriptionId })).sort(byId);
    } else {
      const parts = matching.map((resource) => ({ resource, expanded: this.connectionRows(resource, query.expandLimit) }));
      if (parts.every((part) => part.expanded.underResource)) {
        // Every connection ID extends its resource's ID by `/privateEndpointConnections/`, so ordering the
        // resources by that prefix and each resource's rows among themselves orders all rows by id.
        const keyed = parts.map((part) => ({ key: `${part.resource.id}${CONNECTION_SEGMENT}`, rows: part.expanded.rows }));
        rows = keyed.sort((a, b) => ordinal(a.key, b.key)).flatMap((part) => part.rows);
      } else {
        rows = parts.flatMap((part) => part.expanded.rows).sort(byId);
      }
    }
    snapshot.answers.set(answerKey, rows);
    return rows;
  }

  /**
   * The connection query's rows for one indexed resource, ordered by id. They are kept with the resource,
   * so a snapshot that re-indexes only what changed also expands only what changed.
   */
  private connectionRows(resource: IndexedResource, limit: number): ExpandedRows {
    const known = resource.expanded.get(limit);
    if (known) return known;
    const rows: Row[] = [];
    for (const connection of mvExpand(resource.properties['privateEndpointConnections'], limit)) {
      if (!isNotEmpty(connection)) continue;
      rows.push({
        id: toKqlString(path(connection, 'id')),
        resourceId: resource.id,
        type: resource.type,
        subscriptionId: resource.subscriptionId,
        status: toKqlString(path(connection, 'properties', 'privateLinkServiceConnectionState', 'status')),
        privateEndpointId: toKqlString(path(connection, 'properties', 'privateEndpoint', 'id')),
      });
    }
    rows.sort(byId);
    const prefix = `${resource.id}${CONNECTION_SEGMENT}`;
    const expanded = { rows, underResource: rows.every((row) => (row['id'] ?? '').startsWith(prefix)) };
    resource.expanded.set(limit, expanded);
    return expanded;
  }


  /** Without a lag the index follows every change to the store; with one it is renewed once older than the lag. */
  private current(): Snapshot {
    const nowMs = this.options.now().getTime();
    const stale =
      this.options.lagMs === 0
        ? this.snapshot.revision !== this.options.store.revision
        : nowMs - this.snapshot.takenAtMs >= this.options.lagMs;
    if (stale) this.snapshot = this.takeSnapshot();
    return this.snapshot;
  }

  private takeSnapshot(): Snapshot {
    const { store } = this.options;
    const previous = this.snapshot as Snapshot | undefined;
    const byKey: Snapshot['byKey'] = new Map();
    const resources = store.resourceEntries().map(({ key, resource, revision }) => {
      const known = previous?.byKey.get(key);
      const indexed = known && known.revision === revision ? known.indexed : this.index(resource);
      byKey.set(key, { revision, indexed });
      return indexed;
    });
    return { takenAtMs: this.options.now().getTime(), revision: store.revision, resources, byKey, answers: new Map() };
  }

  /** A resource as its GET renders it, less what Resource Graph does not report for its type. */
  private index(resource: StoredResource): IndexedResource {
    const wire = this.options.store.resourceToWire(resource);
    const properties = { ...(isRecord(wire['properties']) ? wire['properties'] : {}) };
    // Resource Graph indexes some types at an API version older than their connections.
    if (fixtureFor(resource.type)?.graphReportsConnections === false) delete properties['privateEndpointConnections'];
    return {
      id: String(wire['id']),
      type: String(wire['type']).toLowerCase(),
      subscriptionId: resource.subscriptionId,
      subscriptionKey: idKey(resource.subscriptionId),
      properties,
      expanded: new Map(),
    };
  }

  private supportInfo(req: GraphRequest): string {
    return `Please provide below info when asking for support: timestamp = ${this.options.now().toISOString()}, correlationId = ${req.correlationId}`;
  }

  private errorBody(req: GraphRequest, details: GraphErrorDetail[]): unknown {
    return { error: { code: 'BadRequest', message: `${this.supportInfo(req)}.`, details } };
  }
}

interface GraphErrorDetail {
  code: string;
  message: string;
  [field: string]: unknown;
}

class GraphRequestError extends Error {
  constructor(readonly details: GraphErrorDetail[]) {
    super(details.map((d) => d.message).join(' '));
    this.name = 'GraphRequestError';
  }
}

interface QueryRequest {
  query: string;
  subscriptions: string[] | undefined;
  top: number;
  skip: number;
  skipToken: string | undefined;
  resultFormat: 'objectArray' | 'table';
}

function invalid(code: string, message: string): GraphRequestError {
  return new GraphRequestError([{ code, message }]);
}

function parseRequest(rawBody: string): QueryRequest {
  let body: unknown;
  try {
    body = JSON.parse(rawBody) as unknown;
  } catch {
    throw invalid('InvalidRequestContent', 'The request content was invalid and could not be deserialized.');
  }
  if (!isRecord(body)) throw invalid('InvalidRequestContent', 'The request body must be a JSON object.');
  const query = body['query'];
  if (typeof query !== 'string' || query.trim() === '') throw invalid('InvalidRequestContent', "The 'query' field is required and must be a string.");
  const subscriptions = body['subscriptions'];
  if (subscriptions !== undefined && subscriptions !== null && (!Array.isArray(subscriptions) || subscriptions.some((s) => typeof s !== 'string'))) {
    throw invalid('InvalidRequestContent', "The 'subscriptions' field must be an array of subscription IDs.");
  }
  const managementGroups = body['managementGroups'];
  if (Array.isArray(managementGroups) && managementGroups.length > 0) {
    throw invalid('UnsupportedScope', 'The emulator answers queries over subscriptions or the tenant, not management groups.');
  }
  const options = body['options'] ?? {};
  if (!isRecord(options)) throw invalid('InvalidRequestContent', "The 'options' field must be an object.");
  const top = integerOption(options, '$top', DEFAULT_TOP, 1, MAX_TOP);
  const skip = integerOption(options, '$skip', 0, 0, Number.MAX_SAFE_INTEGER);
  const skipToken = options['$skipToken'];
  if (skipToken !== undefined && skipToken !== null && typeof skipToken !== 'string') throw invalid('InvalidSkipToken', 'The $skipToken must be a string.');
  const resultFormat = options['resultFormat'] ?? 'objectArray';
  if (resultFormat !== 'objectArray' && resultFormat !== 'table') {
    throw invalid('InvalidRequestContent', `The resultFormat '${String(resultFormat)}' is not valid. Allowed values: objectArray, table.`);
  }
  return {
    query,
    subscriptions: (subscriptions ?? undefined) as string[] | undefined,
    top,
    skip,
    skipToken: typeof skipToken === 'string' && skipToken !== '' ? skipToken : undefined,
    resultFormat,
  };
}

function integerOption(options: Record<string, unknown>, name: string, fallback: number, min: number, max: number): number {
  const value = options[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid('InvalidParameterValue', `The value of ${name} must be an integer between ${min} and ${max}, got '${String(value)}'.`);
  }
  return value;
}

/** Opaque to callers: the position of the next row and a digest of the query and scope it belongs to. */
function encodeSkipToken(answerKey: string, offset: number): string {
  return Buffer.from(JSON.stringify({ q: digest(answerKey), o: offset })).toString('base64url');
}

function decodeSkipToken(token: string, answerKey: string): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
  } catch {
    parsed = undefined;
  }
  if (!isRecord(parsed) || typeof parsed['o'] !== 'number' || !Number.isInteger(parsed['o']) || parsed['o'] < 0 || typeof parsed['q'] !== 'string') {
    throw invalid('InvalidSkipToken', 'The $skipToken is not valid. Send back the $skipToken of a previous answer unchanged.');
  }
  if (parsed['q'] !== digest(answerKey)) {
    throw invalid('InvalidSkipToken', 'The $skipToken was issued for another query or scope. Send it with the query and subscriptions it came with.');
  }
  return parsed['o'];
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

/** mv-expand: an array gives one row per element (at most `limit`), any other value one row with itself. */
function mvExpand(value: unknown, limit: number): unknown[] {
  return Array.isArray(value) ? value.slice(0, limit) : [value];
}

function isNotEmpty(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

function path(value: unknown, ...names: string[]): unknown {
  let current = value;
  for (const name of names) current = isRecord(current) ? current[name] : undefined;
  return current;
}

/** tostring(): null and missing values become the empty string, objects their JSON. */
function toKqlString(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function byId(a: Row, b: Row): number {
  return ordinal(a['id'] ?? '', b['id'] ?? '');
}

function ordinal(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
