/**
 * A local stand-in for the Azure Functions host: it serves the same `FunctionSpec`s that
 * `functions/index.ts` registers with Azure, over plain HTTP on 127.0.0.1.
 *
 * What it reproduces, and where it knowingly differs:
 * - Event Grid webhook `POST /runtime/webhooks/eventgrid?functionName=NAME`, with the Event Grid
 *   `SubscriptionValidation` handshake and the CloudEvents `OPTIONS` handshake. Each event of a
 *   batch is one invocation (the trigger has cardinality one); any failure answers 500 so Event Grid
 *   redelivers the whole batch, which is why handlers must be idempotent. Azure starts the
 *   invocations of a batch concurrently; here they run one after the other, in order, so local runs
 *   are deterministic. Like Azure, a failure does not stop the remaining events of the batch.
 *   Azure answers 202 on success, this host answers 200 (Event Grid accepts any 2xx). Azure also
 *   insists on `aeg-event-type: Notification`; here a missing header counts as Notification so a
 *   hand-written `curl` works.
 * - HTTP functions under `/api/{route}`: `{name}`, `{name?}`, `{*rest}` and the constraints int,
 *   long, bool, alpha and guid (others are accepted without checking). Literal segments match
 *   case-insensitively and win over parameters, as in ASP.NET routing. `authLevel` is not enforced:
 *   locally every level is open, exactly as with `func start`. Cookies in responses are ignored.
 * - Timers with six-field NCRONTAB schedules in UTC (see ncrontab.ts), `%APP_SETTING%` schedules
 *   resolved from the environment as Azure resolves them from app settings, `runOnStartup`, and a
 *   per-function lock so runs of one timer never overlap (Azure's singleton lock).
 *
 * Handlers receive the real `HttpRequest` / `InvocationContext` classes of @azure/functions, so
 * they cannot tell this host from Azure's by their arguments.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { format } from 'node:util';
import { HttpRequest, HttpResponse, InvocationContext, output, trigger } from '@azure/functions';
import type {
  EffectiveFunctionOptions,
  EventGridEvent,
  HttpResponseInit,
  LogLevel,
  Timer,
  TriggerMetadata,
} from '@azure/functions';
import type {
  EventGridFunctionSpec,
  FunctionSpec,
  HttpFunctionSpec,
  TimerFunctionSpec,
} from '../../functions/registry.js';
import { nextOccurrence, parseNcrontab, type NcrontabSchedule } from './ncrontab.js';

export interface DevHostOptions {
  readonly functions: readonly FunctionSpec[];
  /** Default 7071, the port of `func start`; 0 picks a free port. */
  readonly port?: number;
  /** Default 127.0.0.1, so nothing is reachable from other machines. */
  readonly host?: string;
  /** One line per host event and per `context.log` call. Default: console.log. */
  readonly log?: (line: string) => void;
  /** Clock for timer schedules and trigger metadata. Default: the system clock. */
  readonly now?: () => Date;
  /** Schedule timers and honour runOnStartup. Default true; `runTimer` works either way. */
  readonly timers?: boolean;
}

export type DevRouteHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void | Promise<void>;

export interface DevHost {
  /** e.g. `http://127.0.0.1:7071`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  /** Stops timers and the server; resolves once the port is released. Safe to call twice. */
  close(): Promise<void>;
  /**
   * Runs a timer function now, outside its schedule. Rejects when the name is unknown or the
   * handler throws; resolves without running when a run of the same timer is still in progress.
   */
  runTimer(name: string): Promise<void>;
  /**
   * Serves an extra dev-only page (an emulator UI, say) on the same port. The path must match
   * exactly and may not lie under /api or /runtime, which belong to the functions. A path ending
   * in `/*` is a prefix route: it serves the prefix and everything below it (the handler reads
   * `req.url`); exact routes win over prefix routes, and longer prefixes over shorter ones.
   */
  addRoute(method: string, path: string, handler: DevRouteHandler): void;
  /**
   * Runs `listener` when close() starts, before the server stops, so dev pages can end
   * long-lived responses (Server-Sent Events) instead of holding close() for the grace period.
   */
  onClose(listener: () => void): void;
}

const DEFAULT_PORT = 7071;
const DEFAULT_HOST = '127.0.0.1';
/** Local safeguard only; Azure's own limit is far higher (Event Grid itself caps a batch at 1 MB). */
const MAX_BODY_BYTES = 32 * 1024 * 1024;
/** Keep-alive sockets and in-flight timer runs get this long before close() cuts them. */
const CLOSE_GRACE_MS = 2_000;
/** setTimeout cannot wait longer than this (about 24.8 days); longer waits are chained. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** What Azure reports as `scheduleStatus.last` before a timer has ever run (.NET DateTime.MinValue). */
const NEVER = new Date('0001-01-01T00:00:00.000Z');
const VALIDATION_EVENT_TYPE = 'Microsoft.EventGrid.SubscriptionValidationEvent';

interface CompiledRoute {
  readonly spec: HttpFunctionSpec;
  readonly template: string;
  readonly segments: readonly RouteSegment[];
  readonly methods: ReadonlySet<string>;
  readonly precedence: readonly number[];
  readonly options: Partial<EffectiveFunctionOptions>;
}

type RouteSegment =
  | { readonly kind: 'literal'; readonly value: string }
  | {
      readonly kind: 'param';
      readonly name: string;
      readonly optional: boolean;
      readonly catchAll: boolean;
      readonly constraint: RegExp | undefined;
    };

interface TimerEntry {
  readonly spec: TimerFunctionSpec;
  readonly schedule: NcrontabSchedule;
  readonly options: Partial<EffectiveFunctionOptions>;
  handle: NodeJS.Timeout | undefined;
  running: Promise<unknown> | undefined;
  last: Date | undefined;
}

type Outcome<T> =
  | { readonly ok: true; readonly value: T; readonly invocationId: string }
  | { readonly ok: false; readonly error: unknown; readonly invocationId: string };

export async function startDevHost(opts: DevHostOptions): Promise<DevHost> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const now = opts.now ?? (() => new Date());
  const host = opts.host ?? DEFAULT_HOST;
  const timersEnabled = opts.timers ?? true;

  // --- index the specs; problems surface here, as the Functions host refuses to index them ---
  const seen = new Set<string>();
  const routes: CompiledRoute[] = [];
  const eventGrid = new Map<string, { spec: EventGridFunctionSpec; options: Partial<EffectiveFunctionOptions> }>();
  const timers = new Map<string, TimerEntry>();
  for (const spec of opts.functions) {
    const key = spec.name.toLowerCase();
    if (seen.has(key)) throw new Error(`Two functions are named '${spec.name}' (names are case-insensitive)`);
    seen.add(key);
    switch (spec.kind) {
      case 'http':
        routes.push(compileRoute(spec));
        break;
      case 'eventGrid':
        eventGrid.set(key, { spec, options: { trigger: trigger.eventGrid({}) } });
        break;
      case 'timer': {
        const expression = resolveAppSetting(spec.name, spec.schedule);
        timers.set(key, {
          spec,
          schedule: parseNcrontab(expression),
          options: { trigger: trigger.timer({ schedule: spec.schedule, runOnStartup: spec.runOnStartup ?? false }) },
          handle: undefined,
          running: undefined,
          last: undefined,
        });
        break;
      }
    }
  }
  routes.sort((a, b) => comparePrecedence(a.precedence, b.precedence));
  const extraRoutes = new Map<string, Map<string, DevRouteHandler>>();
  /** Prefix routes as `/prefix/` (trailing slash kept), longest first. */
  const prefixRoutes: { prefix: string; byMethod: Map<string, DevRouteHandler> }[] = [];
  const closeListeners: Array<() => void> = [];
  let closed = false;

  // --- invocation, shared by every trigger ---
  async function invoke<T>(
    spec: FunctionSpec,
    options: Partial<EffectiveFunctionOptions>,
    metadata: TriggerMetadata,
    run: (context: InvocationContext) => T | Promise<T>,
  ): Promise<Outcome<T>> {
    const invocationId = randomUUID();
    const context = new InvocationContext({
      functionName: spec.name,
      invocationId,
      options,
      triggerMetadata: {
        ...metadata,
        sys: { methodName: spec.name, utcNow: now().toISOString(), randGuid: randomUUID() },
      },
      logHandler: (level: LogLevel, ...args: unknown[]) => {
        if (level === 'none') return;
        const tag = level === 'information' ? '' : `${level}: `;
        log(`[${spec.name}] ${tag}${format(...args)}`);
      },
    });
    const started = performance.now();
    const done = (status: string, detail = ''): void => {
      const ms = Math.round(performance.now() - started);
      log(`Executed 'Functions.${spec.name}' (${status}, Id=${invocationId}, Duration=${ms}ms)${detail}`);
    };
    try {
      const value = await run(context);
      done('Succeeded');
      return { ok: true, value, invocationId };
    } catch (error) {
      done('Failed', `: ${describeError(error, true)}`);
      return { ok: false, error, invocationId };
    }
  }

  // --- timers ---
  async function runTimerEntry(entry: TimerEntry, rethrow: boolean): Promise<void> {
    if (entry.running) {
      log(`Timer '${entry.spec.name}' is still running; this run is skipped`);
      return;
    }
    const firedAt = now();
    const timer: Timer = {
      isPastDue: false,
      schedule: { adjustForDST: false },
      scheduleStatus: {
        last: (entry.last ?? NEVER).toISOString(),
        next: nextOccurrence(entry.schedule, firedAt).toISOString(),
        lastUpdated: firedAt.toISOString(),
      },
    };
    const run = invoke(entry.spec, entry.options, {}, (context) => entry.spec.handler(timer, context));
    entry.running = run;
    try {
      const outcome = await run;
      entry.last = firedAt;
      if (!outcome.ok && rethrow) throw outcome.error;
    } finally {
      entry.running = undefined;
    }
  }

  /** Arms the next occurrence after `after`; like Azure, the next one is armed only after a run ends. */
  function arm(entry: TimerEntry, after: Date): void {
    if (closed) return;
    const due = nextOccurrence(entry.schedule, after);
    const wait = (): void => {
      const delay = due.getTime() - now().getTime();
      if (delay > MAX_TIMEOUT_MS) {
        entry.handle = setTimeout(wait, MAX_TIMEOUT_MS);
        return;
      }
      entry.handle = setTimeout(() => {
        entry.handle = undefined;
        void runTimerEntry(entry, false)
          .catch((error: unknown) => log(`Timer '${entry.spec.name}' failed: ${describeError(error, true)}`))
          .then(() => {
            // A timer may fire a little early by the wall clock; never arm the same occurrence twice.
            const current = now();
            arm(entry, current > due ? current : due);
          });
      }, Math.max(0, delay));
    };
    wait();
  }

  // --- Event Grid webhook ---
  async function serveEventGrid(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): Promise<void> {
    const name = queryParam(url, 'functionName') ?? '';
    const target = eventGrid.get(name.toLowerCase());
    if (!target) {
      const available = [...eventGrid.values()].map((e) => e.spec.name).join(', ') || 'none';
      sendJson(res, 404, { error: `No Event Grid function named '${name}'; available: ${available}` });
      return;
    }
    const { spec, options } = target;
    const method = (req.method ?? 'GET').toUpperCase();

    if (method === 'OPTIONS') {
      // CloudEvents 1.0 abuse-protection handshake (webhook spec section 4).
      const origin = header(req, 'webhook-request-origin');
      if (!origin) {
        sendJson(res, 400, { error: 'OPTIONS needs a WebHook-Request-Origin header (CloudEvents handshake)' });
        return;
      }
      log(`CloudEvents handshake for '${spec.name}' from ${origin}`);
      res.writeHead(200, { 'WebHook-Allowed-Origin': origin, 'WebHook-Allowed-Rate': '*', Allow: 'OPTIONS, POST' });
      res.end();
      return;
    }
    if (method !== 'POST') {
      sendJson(res, 405, { error: `${method} is not supported here; use POST or OPTIONS` }, { Allow: 'OPTIONS, POST' });
      return;
    }

    let payload: unknown;
    try {
      payload = JSON.parse(body.toString('utf8'));
    } catch (error) {
      sendJson(res, 400, { error: `Request body is not valid JSON: ${describeError(error, false)}` });
      return;
    }
    if (typeof payload !== 'object' || payload === null) {
      sendJson(res, 400, { error: `Request body must be a JSON object or array of events, not ${jsonKind(payload)}` });
      return;
    }

    const eventType = (header(req, 'aeg-event-type') ?? 'Notification').toLowerCase();
    if (eventType === 'subscriptionvalidation') {
      const code = validationCode(payload);
      if (code === undefined) {
        sendJson(res, 400, { error: `No ${VALIDATION_EVENT_TYPE} with a string data.validationCode in the body` });
        return;
      }
      log(`Event Grid subscription validation handshake for '${spec.name}'`);
      sendJson(res, 200, { validationResponse: code });
      return;
    }
    if (eventType === 'unsubscribe') {
      res.writeHead(202).end();
      return;
    }
    if (eventType !== 'notification') {
      sendJson(res, 400, { error: `Unsupported aeg-event-type '${header(req, 'aeg-event-type')}'` });
      return;
    }

    // Non-object items go to the handler unchanged: validating and recording bad input is its job.
    const events: unknown[] = Array.isArray(payload) ? payload : [payload];
    const failures: { index: number; invocationId: string; error: string }[] = [];
    for (const [index, event] of events.entries()) {
      const outcome = await invoke(spec, options, eventMetadata(event), (context) =>
        spec.handler(event as EventGridEvent, context),
      );
      if (!outcome.ok) {
        failures.push({ index, invocationId: outcome.invocationId, error: describeError(outcome.error, false) });
      }
    }
    if (failures.length > 0) {
      sendJson(res, 500, { error: `${failures.length} of ${events.length} invocation(s) failed`, failures });
      return;
    }
    sendJson(res, 200, { invocations: events.length });
  }

  // --- HTTP functions ---
  async function serveHttpFunction(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): Promise<void> {
    const segments = pathSegments(url.pathname.slice('/api'.length));
    if (segments === undefined) {
      sendJson(res, 400, { error: 'Malformed percent-encoding in the path' });
      return;
    }
    const method = (req.method ?? 'GET').toUpperCase();
    const matches: { route: CompiledRoute; params: Record<string, string> }[] = [];
    for (const route of routes) {
      const params = matchRoute(route, segments);
      if (params) matches.push({ route, params });
    }
    if (matches.length === 0) {
      sendJson(res, 404, { error: `No HTTP function matches ${url.pathname}` });
      return;
    }
    const hit = matches.find((m) => m.route.methods.has(method));
    if (!hit) {
      const allow = [...new Set(matches.flatMap((m) => [...m.route.methods]))].join(', ');
      sendJson(res, 405, { error: `${method} is not allowed on ${url.pathname}` }, { Allow: allow });
      return;
    }

    const { spec, options } = hit.route;
    // `query` is left out on purpose: HttpRequest then reads it from the URL, keeping repeated keys.
    const request = new HttpRequest({
      method,
      url: url.href,
      headers: headerRecord(req),
      params: hit.params,
      ...(body.length > 0 ? { body: { bytes: body } } : {}),
    });
    const outcome = await invoke(spec, options, {}, (context) => spec.handler(request, context));
    if (!outcome.ok) {
      sendJson(res, 500, { error: 'Internal server error' });
      return;
    }
    let response: HttpResponse;
    try {
      response = toHttpResponse(outcome.value);
    } catch (error) {
      log(`Function '${spec.name}' returned an unusable response: ${describeError(error, false)}`);
      sendJson(res, 500, { error: 'Internal server error' });
      return;
    }
    // Buffered, like the host without HTTP streaming: the whole body is read before it is sent.
    const bytes = Buffer.from(await response.arrayBuffer());
    const headers: Record<string, string | string[]> = {};
    response.headers.forEach((value, key) => {
      headers[key] = value;
    });
    // Headers joins repeated Set-Cookie values with commas, which would corrupt them.
    const setCookies = response.headers.getSetCookie();
    if (setCookies.length > 0) headers['set-cookie'] = setCookies;
    const bodyless = method === 'HEAD' || response.status === 204 || response.status === 304;
    if (!bodyless) headers['content-length'] = String(bytes.length);
    res.writeHead(response.status, headers);
    res.end(bodyless ? undefined : bytes);
  }

  // --- dispatch ---
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    if (body === undefined) {
      sendJson(res, 413, { error: `Request body exceeds ${MAX_BODY_BYTES} bytes` }, { Connection: 'close' });
      return;
    }
    const url = requestUrl(req, baseUrl);
    const lower = url.pathname.toLowerCase().replace(/\/+$/, '');
    if (lower === '/runtime/webhooks/eventgrid') return serveEventGrid(req, res, url, body);
    if (lower === '/api' || lower.startsWith('/api/')) return serveHttpFunction(req, res, url, body);
    if (lower !== '/runtime' && !lower.startsWith('/runtime/')) {
      const byMethod =
        extraRoutes.get(url.pathname) ??
        prefixRoutes.find((r) => url.pathname.startsWith(r.prefix) || `${url.pathname}/` === r.prefix)?.byMethod;
      if (byMethod) {
        const route = byMethod.get((req.method ?? 'GET').toUpperCase());
        if (!route) {
          const allow = [...byMethod.keys()].join(', ');
          sendJson(res, 405, { error: `${req.method} is not allowed on ${url.pathname}` }, { Allow: allow });
          return;
        }
        return route(req, res, body);
      }
    }
    sendJson(res, 404, { error: `Not found: ${url.pathname}` });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log(`Request ${req.method} ${req.url} failed in the dev host: ${describeError(error, true)}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'Internal server error' });
      else res.destroy();
    });
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? DEFAULT_PORT, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
  server.on('error', (error) => log(`Dev host server error: ${describeError(error, false)}`));
  const baseUrl = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  logInventory(log, baseUrl, routes, eventGrid, timers, now);

  if (timersEnabled) {
    for (const entry of timers.values()) {
      if (entry.spec.runOnStartup) {
        void runTimerEntry(entry, false)
          .catch((error: unknown) => log(`Timer '${entry.spec.name}' failed: ${describeError(error, true)}`))
          .then(() => arm(entry, now()));
      } else {
        arm(entry, now());
      }
    }
  }

  let closing: Promise<void> | undefined;
  return {
    url: baseUrl,
    port,
    runTimer(name: string): Promise<void> {
      const entry = timers.get(name.toLowerCase());
      if (!entry) {
        const available = [...timers.values()].map((e) => e.spec.name).join(', ') || 'none';
        return Promise.reject(new Error(`No timer function named '${name}'; available: ${available}`));
      }
      return runTimerEntry(entry, true);
    },
    addRoute(method: string, path: string, handler: DevRouteHandler): void {
      const lower = path.toLowerCase();
      if (!path.startsWith('/')) throw new Error(`Route path must start with '/': ${path}`);
      for (const reserved of ['/api', '/runtime']) {
        if (lower === reserved || lower.startsWith(`${reserved}/`)) {
          throw new Error(`Route path ${path} lies under ${reserved}, which is reserved for the functions`);
        }
      }
      if (path.endsWith('/*')) {
        const prefix = path.slice(0, -1);
        let entry = prefixRoutes.find((r) => r.prefix === prefix);
        if (!entry) {
          entry = { prefix, byMethod: new Map<string, DevRouteHandler>() };
          prefixRoutes.push(entry);
          prefixRoutes.sort((a, b) => b.prefix.length - a.prefix.length);
        }
        entry.byMethod.set(method.toUpperCase(), handler);
        return;
      }
      const byMethod = extraRoutes.get(path) ?? new Map<string, DevRouteHandler>();
      byMethod.set(method.toUpperCase(), handler);
      extraRoutes.set(path, byMethod);
    },
    onClose(listener: () => void): void {
      closeListeners.push(listener);
    },
    close(): Promise<void> {
      closing ??= (async () => {
        closed = true;
        for (const listener of closeListeners) {
          try {
            listener();
          } catch (error) {
            log(`A close listener failed: ${describeError(error, false)}`);
          }
        }
        for (const entry of timers.values()) {
          clearTimeout(entry.handle);
          entry.handle = undefined;
        }
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        cut.unref();
        const running = [...timers.values()].flatMap((e) => (e.running ? [e.running] : []));
        await Promise.race([Promise.allSettled(running), sleep(CLOSE_GRACE_MS)]);
        await serverClosed;
        clearTimeout(cut);
      })();
      return closing;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP routes

const CONSTRAINTS: Record<string, RegExp> = {
  int: /^-?\d{1,10}$/,
  long: /^-?\d{1,19}$/,
  bool: /^(true|false)$/i,
  alpha: /^[a-z]+$/i,
  guid: /^\{?[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\}?$/i,
};

function compileRoute(spec: HttpFunctionSpec): CompiledRoute {
  // Azure uses the function name when a function has no route.
  const template = (spec.route || spec.name).replace(/^\/+|\/+$/g, '');
  const parts = template === '' ? [] : template.split('/');
  const segments = parts.map((part, i): RouteSegment => {
    const param = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([^}?]+))?(\?)?\}$/.exec(part);
    if (!param) {
      if (part.includes('{') || part.includes('}')) {
        throw new Error(`Route '${spec.route}' of '${spec.name}': segment '${part}' mixes text and parameters`);
      }
      return { kind: 'literal', value: part.toLowerCase() };
    }
    const [, star, name, constraint, optional] = param;
    if (star && i !== parts.length - 1) {
      throw new Error(`Route '${spec.route}' of '${spec.name}': catch-all '{*${name}}' must be the last segment`);
    }
    return {
      kind: 'param',
      name: name as string,
      optional: optional === '?',
      catchAll: star === '*',
      constraint: constraint === undefined ? undefined : CONSTRAINTS[constraint.toLowerCase()],
    };
  });
  const firstOptional = segments.findIndex((s) => s.kind === 'param' && (s.optional || s.catchAll));
  const required = (s: RouteSegment): boolean => s.kind === 'literal' || !(s.optional || s.catchAll);
  if (firstOptional >= 0 && segments.slice(firstOptional).some(required)) {
    throw new Error(`Route '${spec.route}' of '${spec.name}': only trailing parameters can be optional`);
  }
  const methods = spec.methods.length > 0 ? spec.methods : (['GET', 'POST'] as const);
  return {
    spec,
    template,
    segments,
    methods: new Set(methods.map((m) => m.toUpperCase())),
    precedence: segments.map((s) =>
      s.kind === 'literal' ? 1 : s.catchAll ? 5 : s.optional ? 4 : s.constraint ? 2 : 3,
    ),
    options: {
      trigger: trigger.http({ route: spec.route, methods: [...spec.methods], authLevel: spec.authLevel }),
      return: output.http({}),
    },
  };
}

/** More specific routes first: literal < constrained < plain < optional < catch-all, segment by segment. */
function comparePrecedence(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const diff = (a[i] as number) - (b[i] as number);
    if (diff !== 0) return diff;
  }
  return b.length - a.length;
}

function matchRoute(route: CompiledRoute, segments: readonly string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (const [i, seg] of route.segments.entries()) {
    const value = segments[i];
    if (seg.kind === 'literal') {
      if (value === undefined || value.toLowerCase() !== seg.value) return undefined;
      continue;
    }
    if (seg.catchAll) {
      const rest = segments.slice(i);
      if (rest.length > 0) params[seg.name] = rest.join('/');
      return params;
    }
    if (value === undefined || value === '') {
      if (seg.optional && value === undefined) continue;
      return undefined;
    }
    if (seg.constraint && !seg.constraint.test(value)) return undefined;
    params[seg.name] = value;
  }
  return segments.length > route.segments.length ? undefined : params;
}

/** Decoded path segments below the route prefix; `undefined` for malformed percent-encoding. */
function pathSegments(rest: string): string[] | undefined {
  const trimmed = rest.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return [];
  try {
    return trimmed.split('/').map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
}

function toHttpResponse(value: unknown): HttpResponse {
  if (value === undefined || value === null) return new HttpResponse({ status: 204 });
  if (value instanceof HttpResponse || isHttpResponseLike(value)) return value as HttpResponse;
  if (typeof value !== 'object') {
    // Same rule, and message, as the Node worker in Azure.
    throw new Error(
      'The HTTP response must be an object with optional properties "body", "status", "headers", and "cookies".',
    );
  }
  return new HttpResponse(value as HttpResponseInit);
}

/** An HttpResponse built by another copy of the library (e.g. a second module instance in tests). */
function isHttpResponseLike(value: unknown): boolean {
  const v = value as { arrayBuffer?: unknown; status?: unknown; headers?: unknown } | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.arrayBuffer === 'function' &&
    typeof v.status === 'number' &&
    v.headers instanceof Headers
  );
}

// ---------------------------------------------------------------------------------------------
// Event Grid

function validationCode(payload: object): string | undefined {
  const items: unknown[] = Array.isArray(payload) ? payload : [payload];
  const event =
    items.find((e) => isRecord(e) && (e.eventType === VALIDATION_EVENT_TYPE || e.type === VALIDATION_EVENT_TYPE)) ??
    items[0];
  if (!isRecord(event)) return undefined;
  let data = event.data;
  if (typeof data === 'string') {
    // CloudEvents deliveries may carry `data` as an encoded JSON string.
    try {
      data = JSON.parse(data);
    } catch {
      return undefined;
    }
  }
  const code = isRecord(data) ? data.validationCode : undefined;
  return typeof code === 'string' ? code : undefined;
}

/** The event's scalar envelope fields (id, subject, eventType/type, …); `data` stays out. */
function eventMetadata(event: unknown): TriggerMetadata {
  if (!isRecord(event)) return {};
  const meta: TriggerMetadata = {};
  for (const [key, value] of Object.entries(event)) {
    if (key === 'data') continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') meta[key] = value;
  }
  return meta;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function resolveAppSetting(functionName: string, schedule: string): string {
  const setting = /^%([^%]+)%$/.exec(schedule.trim());
  if (!setting) return schedule;
  const value = process.env[setting[1] as string];
  if (value === undefined || value.trim() === '') {
    throw new Error(`Timer '${functionName}' uses schedule ${schedule}, but ${setting[1]} is not set`);
  }
  return value;
}

function logInventory(
  log: (line: string) => void,
  baseUrl: string,
  routes: readonly CompiledRoute[],
  eventGrid: ReadonlyMap<string, { spec: EventGridFunctionSpec }>,
  timers: ReadonlyMap<string, TimerEntry>,
  now: () => Date,
): void {
  log(`Dev host listening on ${baseUrl} (every authLevel is open locally)`);
  for (const r of routes) log(`  ${r.spec.name}: [${[...r.methods].join(',')}] ${baseUrl}/api/${r.template}`);
  for (const { spec } of eventGrid.values()) {
    log(`  ${spec.name}: eventGridTrigger POST ${baseUrl}/runtime/webhooks/eventgrid?functionName=${spec.name}`);
  }
  for (const t of timers.values()) {
    const next = nextOccurrence(t.schedule, now()).toISOString();
    log(`  ${t.spec.name}: timerTrigger '${t.schedule.expression}' (UTC), next ${next}`);
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

function requestUrl(req: IncomingMessage, baseUrl: string): URL {
  const path = req.url ?? '/';
  const hostHeader = req.headers.host;
  if (hostHeader) {
    try {
      return new URL(path, `http://${hostHeader}`);
    } catch {
      // A malformed Host header falls back to the listening address.
    }
  }
  return new URL(path, baseUrl);
}

function headerRecord(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[key] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Query parameter with a case-insensitive name, as the Event Grid extension reads `functionName`. */
function queryParam(url: URL, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [key, value] of url.searchParams) if (key.toLowerCase() === lower) return value;
  return undefined;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function jsonKind(value: unknown): string {
  return value === null ? 'null' : typeof value;
}

function describeError(error: unknown, withStack: boolean): string {
  if (error instanceof Error) return withStack && error.stack ? error.stack : error.message;
  return String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
