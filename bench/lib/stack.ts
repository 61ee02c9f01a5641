/**
 * The local stack a hint benchmark runs against, in this process: the ARM emulator (HTTPS, real
 * SDK clients), Azurite, Linkgate's services built from configuration exactly as in Azure, a
 * webhook that collects the events the emulator publishes, and counters of every Table Storage
 * request (Node's HTTP client diagnostics channels).
 */
import diagnostics from 'node:diagnostics_channel';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type ClientRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../src/app/ports.js';
import { createServices, TABLES, type Services } from '../../src/composition.js';
import { loadConfig } from '../../src/config.js';
import { startArmEmulator, type ArmEmulator, type ArmEmulatorOptions, type CallRecord } from '../../src/dev/arm-emulator/index.js';
import { startAzuriteTables, type AzuriteTables } from '../../src/dev/azurite.js';

export const HOME_TENANT = '0c8f3f9e-6a53-4b3e-9d0f-3f4b1a2c5d6e';
export const RESOURCE_SUB = '5f2d8c1a-3b4e-4c6d-8e9f-0a1b2c3d4e5f';
export const REQUESTER_SUB = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';

export interface TableTraffic {
  total: number;
  failures: number;
  readonly by: Map<string, number>;
  reset(): void;
  stop(): void;
}

export interface EventCollector {
  readonly url: string;
  /** Every event delivered so far, in delivery order (Event Grid schema, as the wire carries it). */
  readonly events: Record<string, unknown>[];
  take(): Record<string, unknown>[];
  close(): Promise<void>;
}

export interface BenchStack {
  readonly emulator: ArmEmulator;
  readonly tables: AzuriteTables;
  readonly traffic: TableTraffic;
  readonly collector: EventCollector;
  /** Linkgate's services on tables of their own (a fresh prefix), configured through the environment. */
  services(extraEnv?: Record<string, string>, log?: Logger): Services;
  close(): Promise<void>;
}

export async function startBenchStack(options: ArmEmulatorOptions): Promise<BenchStack> {
  const closers: Array<() => Promise<void>> = [];
  const stateDir = mkdtempSync(join(tmpdir(), 'linkgate-bench-'));
  closers.push(async () => rmSync(stateDir, { recursive: true, force: true }));
  try {
    const emulator = await startArmEmulator(options);
    closers.push(() => emulator.close());
    const tables = await startAzuriteTables();
    closers.push(() => tables.close());
    const traffic = watchTables(new URL(tables.url).port);
    closers.push(async () => traffic.stop());
    const collector = await collectEvents();
    closers.push(() => collector.close());
    await emulator.subscribe(collector.url);
    const caFile = join(stateDir, 'arm-emulator-ca.pem');
    writeFileSync(caFile, emulator.caPem);
    let prefixes = 0;
    return {
      emulator,
      tables,
      traffic,
      collector,
      services(extraEnv = {}, log = silentLog) {
        prefixes += 1;
        const env = {
          LINKGATE_DEV_MODE: 'true',
          LINKGATE_HOME_TENANT_ID: HOME_TENANT,
          LINKGATE_TABLES_CONNECTION_STRING: tables.connectionString,
          LINKGATE_ARM_ENDPOINT: emulator.url,
          LINKGATE_ARM_CA_FILE: caFile,
          LINKGATE_CREDENTIAL: 'dev-token',
          LINKGATE_SWEEP_SUBSCRIPTIONS: RESOURCE_SUB,
          ...extraEnv,
        };
        return createServices(loadConfig(env), { tablePrefix: `b${prefixes}${Date.now().toString(36)}`, log });
      },
      async close() {
        for (const close of closers.reverse()) await close().catch(() => undefined);
      },
    };
  } catch (error) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw error;
  }
}

/**
 * Key Vaults with Pending connections from the home tenant's requester subscription, and the
 * events their requests raised (the collector is emptied first; the publisher delivers in the
 * background, so this waits until every request's events are in).
 */
export async function createPendingVaults(
  stack: BenchStack,
  options: { readonly prefix: string; readonly vaults: number; readonly perVault: number; readonly resourceGroup: string },
): Promise<{ names: string[]; events: Record<string, unknown>[] }> {
  stack.collector.take();
  const names: string[] = [];
  for (let v = 0; v < options.vaults; v += 1) {
    const name = `${options.prefix}${v}`;
    stack.emulator.createVault({ subscriptionId: RESOURCE_SUB, resourceGroup: options.resourceGroup, name, tenantId: HOME_TENANT });
    names.push(name);
    for (let c = 0; c < options.perVault; c += 1) {
      await stack.emulator.simulateRequest({ vault: name, fromSubscription: REQUESTER_SUB, endpointName: `pe-${name}-${c}` });
    }
  }
  for (let waited = 0; stack.collector.events.length < options.vaults * options.perVault && waited < 10_000; waited += 20) await sleep(20);
  return { names, events: stack.collector.take() };
}

/** How many connections of these vaults read Approved in the emulator. */
export function approvedIn(stack: BenchStack, resourceGroup: string, names: readonly string[]): number {
  return names
    .flatMap((name) => stack.emulator.listConnections(`/subscriptions/${RESOURCE_SUB}/resourceGroups/${resourceGroup}/providers/Microsoft.KeyVault/vaults/${name}`))
    .filter((c) => c.properties.privateLinkServiceConnectionState.status === 'Approved').length;
}

/** ARM calls by what they are, for the calls a scenario made. */
export function classifyCalls(calls: readonly CallRecord[]) {
  const is = (pattern: RegExp) => calls.filter((c) => pattern.test(c.path));
  const connectionLists = calls.filter((c) => c.method === 'GET' && /\/privateendpointconnections\/?$/i.test(c.path));
  const connectionReads = calls.filter((c) => c.method === 'GET' && /\/privateendpointconnections\/[^/]+$/i.test(c.path));
  const puts = calls.filter((c) => c.method === 'PUT' && /\/privateendpointconnections\/[^/]+$/i.test(c.path));
  const operationPolls = calls.filter((c) => c.method === 'GET' && /\/locations\/[^/]+\/(asyncoperations|operationresults)\/[^/]+$/i.test(c.path));
  const subscriptionReads = is(/^\/subscriptions\/[^/]+\/?$/i).filter((c) => c.method === 'GET');
  return {
    total: calls.length,
    connectionLists: connectionLists.length,
    connectionReads: connectionReads.length,
    puts: puts.length,
    operationPolls: operationPolls.length,
    subscriptionReads: subscriptionReads.length,
    throttled: calls.filter((c) => c.status === 429).length,
    putsByConnection: countBy(puts.map((c) => c.path.toLowerCase())),
    listsByResource: countBy(connectionLists.map((c) => c.path.toLowerCase().replace(/\/privateendpointconnections\/?$/, ''))),
  };
}

function countBy(keys: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}

/** Counts the HTTP requests this process sends to Azurite, by table and method. */
export function watchTables(port: string): TableTraffic {
  const traffic: TableTraffic = {
    total: 0,
    failures: 0,
    by: new Map(),
    reset() {
      traffic.total = 0;
      traffic.failures = 0;
      traffic.by.clear();
    },
    stop() {
      diagnostics.unsubscribe('http.client.request.start', onStart);
      diagnostics.unsubscribe('http.client.response.finish', onFinish);
    },
  };
  const isTables = (request: ClientRequest) => String(request.getHeader('host') ?? '').endsWith(`:${port}`);
  const onStart = (message: unknown) => {
    const { request } = message as { request: ClientRequest };
    if (!isTables(request)) return;
    traffic.total += 1;
    // /devstoreaccount1/<table>(…) or /devstoreaccount1/$batch: the table name without its prefix.
    const segment = decodeURIComponent(request.path.split('?')[0]!.split('/')[2] ?? '').replace(/\(.*$/, '');
    const table = segment.startsWith('$') ? segment : (Object.values(TABLES).find((name) => segment.toLowerCase().endsWith(name)) ?? segment);
    const key = `${table} ${request.method}`;
    traffic.by.set(key, (traffic.by.get(key) ?? 0) + 1);
  };
  const onFinish = (message: unknown) => {
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
    if (isTables(request) && (response.statusCode ?? 0) >= 400) traffic.failures += 1;
  };
  diagnostics.subscribe('http.client.request.start', onStart);
  diagnostics.subscribe('http.client.response.finish', onFinish);
  return traffic;
}

/** A webhook on 127.0.0.1 that answers Event Grid's validation handshake and keeps every event. */
async function collectEvents(): Promise<EventCollector> {
  const events: Record<string, unknown>[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const items = JSON.parse(Buffer.concat(chunks).toString('utf8') || '[]') as Record<string, unknown>[];
      const validation = items.find((item) => item['eventType'] === 'Microsoft.EventGrid.SubscriptionValidationEvent');
      if (validation) {
        const code = (validation['data'] as { validationCode?: string } | undefined)?.validationCode;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ validationResponse: code }));
        return;
      }
      events.push(...items);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/events`,
    events,
    take() {
      return events.splice(0, events.length);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export const silentLog: Logger = { info: () => {}, warn: () => {}, error: () => {} };

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
