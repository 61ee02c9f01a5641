import https from 'node:https';
import http from 'node:http';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import type { ResourceGraphClient } from '@azure/arm-resourcegraph';
import type { Clock, ConnectionGraph, GraphConnection, GraphScope, Logger } from '../../app/ports.js';
import { toConnectionStatus } from '../../domain/connection.js';
import { LinkgateError } from '../../domain/errors.js';
import { parseConnectionId, parsePrivateEndpointId, parseResourceId, type ResourceRef } from '../../domain/resource-id.js';
import type { ResourceType } from '../../domain/resource-types.js';
import { loadOnFirstUse } from '../load-on-first-use.js';
import { parseRetryAfter } from '../../shared/http.js';
import { fullJitter } from '../../shared/backoff.js';
import type { ArmConnection } from './arm-client-options.js';

/**
 * Azure Resource Graph through @azure/arm-resourcegraph (POST /providers/Microsoft.ResourceGraph/resources,
 * api-version 2021-03-01). Two query shapes, and only these (the local ARM emulator answers exactly
 * them and refuses anything else):
 *
 *   connections  every private endpoint connection of the given types, from each resource's
 *                properties.privateEndpointConnections: its ID, status and private endpoint ID;
 *   resources    the IDs of the resources of the given types (for types whose connections
 *                Resource Graph does not report: they are then listed one resource at a time).
 *
 * What is known, and from where:
 * - Resource Graph indexes each resource as its GET returns it, minutes after ARM changes it
 *   (docs: "Azure Resource Graph overview", data latency), so a row nominates a candidate and is
 *   never acted on before the connection is read again through ARM.
 * - mv-expand expands at most 128 elements of an array by default, up to 2,000 with `limit`
 *   (docs: "Resource Graph query language", supported KQL operators). A private endpoint
 *   connection list is far shorter than 2,000 for every registered type.
 * - Pages hold at most 1,000 rows; the next page is asked for with the previous answer's
 *   $skipToken and the same query and scopes, and paging needs `id` in the projection
 *   (docs: "Working with large Azure resource data sets"). Results are ordered by `id` so pages
 *   are stable. An answer marked `resultTruncated` without a token would silently drop rows, so
 *   it is an error: the sweep then lists the affected types one resource at a time.
 * - Throttling is per user over short windows (docs: "Guidance for throttled requests in Azure
 *   Resource Graph"): every answer carries x-ms-user-quota-remaining and
 *   x-ms-user-quota-resets-after (hh:mm:ss). When the quota is spent, the next query waits for the
 *   reset instead of being refused; a 429 is waited out for its Retry-After (or the reset, or a
 *   backoff when neither is given) and tried again.
 * - Subscriptions are sent in groups of at most 300, the group size the same guidance suggests;
 *   with no subscriptions at all the query runs at tenant scope (every subscription the identity
 *   can read).
 */

const API_GROUP_SIZE = 300;
const PAGE_SIZE = 1_000;
const MV_EXPAND_LIMIT = 2_000;

export interface ResourceGraphOptions {
  readonly clock: Clock;
  readonly log: Logger;
  /** Attempts per page after the first, for 429 and 5xx. */
  readonly maxRetries?: number;
  /** A wait longer than this (Retry-After or a quota reset) is not waited out: the query fails. */
  readonly maxWaitMs?: number;
  /** For tests: a client factory instead of the SDK's. */
  readonly createClient?: () => Promise<GraphClientLike>;
  readonly random?: () => number;
}

/** The one SDK call used, so tests can stand in for the SDK where the wire does not matter. */
export interface GraphClientLike {
  resources(query: GraphQueryRequest): Promise<GraphQueryResponse>;
}

export interface GraphQueryRequest {
  subscriptions?: string[];
  query: string;
  options: { top: number; skipToken?: string; resultFormat: 'objectArray' };
}

export interface GraphQueryResponse {
  totalRecords: number;
  count: number;
  resultTruncated: string;
  skipToken?: string;
  data: unknown;
  _response?: { headers: { get(name: string): string | undefined } };
}

/** Counters of one instance's queries, for the sweep's report. */
export interface GraphStats {
  queries: number;
  pages: number;
  rows: number;
  throttled: number;
  waitedMs: number;
}

export class ResourceGraph implements ConnectionGraph {
  readonly stats: GraphStats = { queries: 0, pages: 0, rows: 0, throttled: 0, waitedMs: 0 };
  private readonly client: () => Promise<GraphClientLike>;
  /** Epoch ms before which no query is sent: the quota is spent until then. */
  private quietUntil = 0;

  constructor(
    arm: ArmConnection,
    private readonly options: ResourceGraphOptions,
  ) {
    this.client = loadOnFirstUse(options.createClient ?? (() => createSdkClient(arm)));
  }

  async connections(scope: GraphScope, types: readonly ResourceType[]): Promise<GraphConnection[]> {
    if (types.length === 0) return [];
    const rows = await this.query(scope, connectionsQuery(types));
    const out: GraphConnection[] = [];
    for (const row of rows) {
      const connection = toGraphConnection(row);
      if (connection) out.push(connection);
      else this.options.log.warn(`Resource Graph returned a connection row Linkgate cannot read; it is left to the next sweep: ${JSON.stringify(row).slice(0, 300)}`);
    }
    return out;
  }

  async resources(scope: GraphScope, types: readonly ResourceType[]): Promise<ResourceRef[]> {
    if (types.length === 0) return [];
    const rows = await this.query(scope, resourcesQuery(types));
    const out: ResourceRef[] = [];
    for (const row of rows) {
      const id = (row as Record<string, unknown>).id;
      try {
        if (typeof id !== 'string') throw new Error('no id');
        out.push(parseResourceId(id));
      } catch {
        this.options.log.warn(`Resource Graph returned a resource row Linkgate cannot read: ${JSON.stringify(row).slice(0, 300)}`);
      }
    }
    return out;
  }

  private async query(scope: GraphScope, query: string): Promise<unknown[]> {
    const groups = scope.kind === 'tenant' ? [undefined] : chunk([...new Set(scope.subscriptionIds.map((s) => s.toLowerCase()))], API_GROUP_SIZE);
    const rows: unknown[] = [];
    this.stats.queries += 1;
    for (const subscriptions of groups) {
      let skipToken: string | undefined;
      do {
        const request: GraphQueryRequest = {
          ...(subscriptions ? { subscriptions } : {}),
          query,
          options: { top: PAGE_SIZE, resultFormat: 'objectArray', ...(skipToken ? { skipToken } : {}) },
        };
        const page = await this.send(request);
        if (!Array.isArray(page.data)) throw new LinkgateError('Resource Graph answered without a data array (resultFormat objectArray was asked for)');
        if (String(page.resultTruncated).toLowerCase() === 'true' && !page.skipToken) {
          throw new LinkgateError('Resource Graph truncated the result without a skip token; rows would be missed');
        }
        rows.push(...(page.data as unknown[]));
        this.stats.pages += 1;
        this.stats.rows += page.data.length;
        skipToken = page.skipToken || undefined;
      } while (skipToken);
    }
    return rows;
  }

  /** One page, waiting out the quota and 429s, retrying 5xx. */
  private async send(request: GraphQueryRequest): Promise<GraphQueryResponse> {
    const client = await this.client();
    const maxRetries = this.options.maxRetries ?? 6;
    const maxWaitMs = this.options.maxWaitMs ?? 60_000;
    for (let attempt = 0; ; attempt += 1) {
      await this.waitForQuota(maxWaitMs);
      try {
        const page = await client.resources(request);
        this.noteQuota(page._response?.headers);
        return page;
      } catch (error) {
        const status = statusOf(error);
        const headers = headersOf(error);
        this.noteQuota(headers);
        const retryable = status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
        if (!retryable || attempt >= maxRetries) throw describe(error);
        const hinted = parseRetryAfter(headers?.get('retry-after')) ?? (status === 429 ? parseResetsAfter(headers?.get('x-ms-user-quota-resets-after')) : undefined);
        const wait = hinted ?? fullJitter(attempt, { baseDelayMs: 1_000, maxDelayMs: 16_000 }, this.options.random ?? Math.random);
        if (wait > maxWaitMs) throw describe(error);
        if (status === 429) this.stats.throttled += 1;
        this.quietUntil = Math.max(this.quietUntil, this.options.clock.now().getTime() + wait);
      }
    }
  }

  private async waitForQuota(maxWaitMs: number): Promise<void> {
    const wait = this.quietUntil - this.options.clock.now().getTime();
    if (wait <= 0) return;
    if (wait > maxWaitMs) throw new LinkgateError(`Resource Graph's quota resets only in ${Math.ceil(wait / 1000)} s`);
    this.stats.waitedMs += wait;
    await this.options.clock.sleep(wait);
  }

  /** A spent quota means: send nothing more until it resets. */
  private noteQuota(headers: { get(name: string): string | undefined } | undefined): void {
    const remaining = Number.parseInt(headers?.get('x-ms-user-quota-remaining') ?? '', 10);
    if (!Number.isFinite(remaining) || remaining > 0) return;
    const resets = parseResetsAfter(headers?.get('x-ms-user-quota-resets-after'));
    if (resets !== undefined) this.quietUntil = Math.max(this.quietUntil, this.options.clock.now().getTime() + resets);
  }
}

/** `hh:mm:ss` (optionally with fractional seconds) → ms; undefined when it is not that. */
export function parseResetsAfter(value: string | undefined): number | undefined {
  const match = /^(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(value?.trim() ?? '');
  if (!match) return undefined;
  const [, h, m, s] = match;
  return Math.ceil((Number(h) * 3600 + Number(m) * 60 + Number(s)) * 1000);
}

/** Types are matched with `in~` (case-insensitive); Resource Graph reports them in lower case. */
function typeList(types: readonly ResourceType[]): string {
  return types.map((t) => `'${t.type.toLowerCase()}'`).join(', ');
}

export function connectionsQuery(types: readonly ResourceType[]): string {
  return [
    'resources',
    `| where type in~ (${typeList(types)})`,
    `| mv-expand connection = properties.privateEndpointConnections limit ${MV_EXPAND_LIMIT}`,
    '| where isnotempty(connection)',
    '| project id = tostring(connection.id), resourceId = id, type, subscriptionId, status = tostring(connection.properties.privateLinkServiceConnectionState.status), privateEndpointId = tostring(connection.properties.privateEndpoint.id)',
    '| order by id asc',
  ].join('\n');
}

export function resourcesQuery(types: readonly ResourceType[]): string {
  return ['resources', `| where type in~ (${typeList(types)})`, '| project id, type, subscriptionId', '| order by id asc'].join('\n');
}

/** A row read at the boundary: IDs parsed, status understood or kept raw; undefined when the IDs cannot be read. */
function toGraphConnection(row: unknown): GraphConnection | undefined {
  if (typeof row !== 'object' || row === null) return undefined;
  const r = row as Record<string, unknown>;
  if (typeof r.id !== 'string' || typeof r.resourceId !== 'string') return undefined;
  let ref;
  try {
    ref = parseConnectionId(r.id);
  } catch {
    return undefined;
  }
  if (ref.resource.key !== r.resourceId.toLowerCase().replace(/\/+$/, '')) return undefined;
  const rawStatus = typeof r.status === 'string' && r.status !== '' ? r.status : undefined;
  const rawEndpoint = typeof r.privateEndpointId === 'string' && r.privateEndpointId !== '' ? r.privateEndpointId : undefined;
  let privateEndpoint;
  try {
    privateEndpoint = rawEndpoint ? parsePrivateEndpointId(rawEndpoint) : undefined;
  } catch {
    privateEndpoint = undefined;
  }
  return { ref, rawStatus, status: toConnectionStatus(rawStatus), privateEndpoint, rawPrivateEndpointId: rawEndpoint };
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out.length > 0 ? out : [[]];
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { statusCode?: unknown })?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

function headersOf(error: unknown): { get(name: string): string | undefined } | undefined {
  const headers = (error as { response?: { headers?: { get?: unknown } } })?.response?.headers;
  return headers && typeof headers.get === 'function' ? (headers as { get(name: string): string | undefined }) : undefined;
}

/** The SDK's RestError carries Resource Graph's error body; say what it said. */
function describe(error: unknown): Error {
  const status = statusOf(error);
  const body = (error as { body?: { error?: { code?: string; message?: string; details?: { code?: string; message?: string }[] } } })?.body?.error;
  if (!body) return error instanceof Error ? error : new LinkgateError(String(error));
  const details = (body.details ?? []).map((d) => d.code).filter(Boolean).join(', ');
  return new LinkgateError(`Resource Graph answered ${status ?? 'an error'} ${body.code ?? ''}${details ? ` (${details})` : ''}: ${body.message ?? ''}`.trim());
}

/**
 * The SDK client, loaded on first use (it brings its own HTTP stack, which the other functions
 * need not load). Its own retry policies are off: throttling and retries are handled above, in
 * the open. A configured CA (the local emulator's) goes to the HTTPS agent; the token is always
 * asked for the ARM endpoint's own audience, as for every other ARM call.
 */
async function createSdkClient(arm: ArmConnection): Promise<GraphClientLike> {
  const { ResourceGraphClient: Client } = await import('@azure/arm-resourcegraph');
  const endpoint = arm.endpoint.replace(/\/+$/, '');
  const scope = `${new URL(endpoint).origin}/.default`;
  const credential: TokenCredential = {
    getToken: (_scopes: string | string[], options?: GetTokenOptions): Promise<AccessToken | null> => arm.credential.getToken(scope, options),
  };
  const client: ResourceGraphClient = new Client(credential, {
    baseUri: endpoint,
    noRetryPolicy: true,
    userAgent: (defaultAgent: string) => `linkgate ${defaultAgent}`,
    ...(arm.caPem ? { agentSettings: { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ ca: arm.caPem, keepAlive: true }) } } : {}),
  });
  return {
    resources: (query) => client.resources({ ...query, options: { ...query.options } }) as unknown as Promise<GraphQueryResponse>,
  };
}
