import { afterEach, describe, expect, it } from 'vitest';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvocationContext, type HttpRequest, type Timer } from '@azure/functions';
import type { FunctionSpec } from '../../functions/registry.js';
import { startDevHost, type DevHost, type DevHostOptions } from '../../src/dev/dev-host.js';

const VALIDATION = 'Microsoft.EventGrid.SubscriptionValidationEvent';

interface Call {
  readonly input: unknown;
  readonly context: InvocationContext;
}

let hosts: DevHost[] = [];
afterEach(async () => {
  await Promise.all(hosts.map((h) => h.close()));
  hosts = [];
});

async function start(
  functions: FunctionSpec[],
  extra: Partial<DevHostOptions> = {},
): Promise<{ host: DevHost; lines: string[] }> {
  const lines: string[] = [];
  const host = await startDevHost({ port: 0, timers: false, log: (l) => lines.push(l), ...extra, functions });
  hosts.push(host);
  return { host, lines };
}

/** An Event Grid spec that records its calls; `fail` decides per input whether to throw. */
function recordingEventGrid(name: string, fail: (input: unknown) => boolean = () => false) {
  const calls: Call[] = [];
  const spec: FunctionSpec = {
    kind: 'eventGrid',
    name,
    handler: async (event, context) => {
      calls.push({ input: event, context });
      context.log('handled', (event as { id?: string } | null)?.id);
      await Promise.resolve();
      if (fail(event)) throw new Error(`boom on ${(event as { id?: string }).id}`);
    },
  };
  return { spec, calls };
}

function egEvent(id: string): Record<string, unknown> {
  return {
    id,
    subject: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/v${id}`,
    eventType: 'Microsoft.Resources.ResourceWriteSuccess',
    eventTime: '2025-03-10T10:00:00Z',
    topic: '/subscriptions/s',
    data: { n: id },
    dataVersion: '',
    metadataVersion: '1',
  };
}

function ceEvent(id: string): Record<string, unknown> {
  return {
    specversion: '1.0',
    id,
    source: '/subscriptions/s',
    type: 'Microsoft.Resources.ResourceWriteSuccess',
    data: {},
  };
}

async function postEvents(host: DevHost, name: string, body: string, headers: Record<string, string> = {}) {
  return fetch(`${host.url}/runtime/webhooks/eventgrid?functionName=${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification', ...headers },
    body,
  });
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return condition();
}

describe('dev host: Event Grid webhook', () => {
  it('answers the subscription validation handshake without invoking the function', async () => {
    // Prepare
    const { spec, calls } = recordingEventGrid('resourceEvents');
    const { host } = await start([spec]);
    const body = [
      { id: 'v1', eventType: VALIDATION, subject: '', eventTime: '', data: { validationCode: 'code-123' } },
    ];

    // Act
    const res = await postEvents(host, 'RESOURCEEVENTS', JSON.stringify(body), {
      'aeg-event-type': 'SubscriptionValidation',
    });

    // Assess
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ validationResponse: 'code-123' });
    expect(calls).toHaveLength(0);
  });

  it('answers the CloudEvents OPTIONS handshake', async () => {
    // Prepare
    const { spec, calls } = recordingEventGrid('resourceEvents');
    const { host } = await start([spec]);

    // Act
    const res = await fetch(`${host.url}/runtime/webhooks/eventgrid?functionName=resourceEvents`, {
      method: 'OPTIONS',
      headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' },
    });

    // Assess
    expect(res.status).toBe(200);
    expect(res.headers.get('webhook-allowed-origin')).toBe('eventgrid.azure.net');
    expect(res.headers.get('webhook-allowed-rate')).toBe('*');
    expect(calls).toHaveLength(0);
  });

  it('invokes the handler once per event of a batch, in order, each with its own real InvocationContext', async () => {
    // Prepare
    const { spec, calls } = recordingEventGrid('resourceEvents');
    const { host, lines } = await start([spec]);

    // Act
    const res = await postEvents(host, 'resourceEvents', JSON.stringify([egEvent('1'), egEvent('2'), egEvent('3')]));

    // Assess
    expect(res.status).toBe(200);
    expect(calls.map((c) => (c.input as { id: string }).id)).toEqual(['1', '2', '3']);
    expect(calls[0]?.input).toEqual(egEvent('1'));
    for (const { context } of calls) {
      expect(context).toBeInstanceOf(InvocationContext);
      expect(context.functionName).toBe('resourceEvents');
      expect(context.options.trigger.type).toBe('eventGridTrigger');
    }
    expect(new Set(calls.map((c) => c.context.invocationId)).size).toBe(3);
    expect(calls[1]?.context.triggerMetadata).toMatchObject({
      id: '2',
      eventType: 'Microsoft.Resources.ResourceWriteSuccess',
    });
    expect(lines).toContain('[resourceEvents] handled 2');
    const executed = /^Executed 'Functions\.resourceEvents' \(Succeeded, Id=[0-9a-f-]{36}, Duration=\d+ms\)$/;
    expect(lines.filter((l) => executed.test(l))).toHaveLength(3);
  });

  it('accepts a single Event Grid event sent as an object', async () => {
    // Prepare
    const { spec, calls } = recordingEventGrid('resourceEvents');
    const { host } = await start([spec]);

    // Act: no aeg-event-type header at all, as a hand-written request would look.
    const res = await fetch(`${host.url}/runtime/webhooks/eventgrid?functionName=resourceEvents`, {
      method: 'POST',
      body: JSON.stringify(egEvent('solo')),
    });

    // Assess
    expect(res.status).toBe(200);
    expect(calls.map((c) => c.input)).toEqual([egEvent('solo')]);
  });

  it('delivers CloudEvents sent singly and as a batch', async () => {
    // Prepare
    const { spec, calls } = recordingEventGrid('resourceEvents');
    const { host } = await start([spec]);

    // Act
    const single = await postEvents(host, 'resourceEvents', JSON.stringify(ceEvent('c1')), {
      'content-type': 'application/cloudevents+json; charset=utf-8',
    });
    const batch = await postEvents(host, 'resourceEvents', JSON.stringify([ceEvent('c2'), ceEvent('c3')]), {
      'content-type': 'application/cloudevents-batch+json',
    });

    // Assess
    expect(single.status).toBe(200);
    expect(batch.status).toBe(200);
    expect(calls.map((c) => c.input)).toEqual([ceEvent('c1'), ceEvent('c2'), ceEvent('c3')]);
  });

  it('rejects a body that is not JSON, or not an object or array, with 400 and invokes nothing', async () => {
    // Prepare
    const { spec, calls } = recordingEventGrid('resourceEvents');
    const { host } = await start([spec]);

    // Act
    const malformed = await postEvents(host, 'resourceEvents', '[{"id": "1",');
    const scalar = await postEvents(host, 'resourceEvents', '42');
    const empty = await postEvents(host, 'resourceEvents', '');

    // Assess
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { error: string }).error).toMatch(/not valid JSON/);
    expect(scalar.status).toBe(400);
    expect(((await scalar.json()) as { error: string }).error).toMatch(/object or array.*not number/);
    expect(empty.status).toBe(400);
    expect(calls).toHaveLength(0);
  });

  it('passes items that are not objects to the handler unchanged', async () => {
    // Prepare
    const { spec, calls } = recordingEventGrid('resourceEvents');
    const { host } = await start([spec]);

    // Act
    const res = await postEvents(host, 'resourceEvents', JSON.stringify([1, 'two', null, egEvent('4')]));

    // Assess
    expect(res.status).toBe(200);
    expect(calls.map((c) => c.input)).toEqual([1, 'two', null, egEvent('4')]);
  });

  it('answers 500 when an invocation throws, after still invoking the rest of the batch', async () => {
    // Prepare
    const { spec, calls } = recordingEventGrid('resourceEvents', (e) => (e as { id: string }).id === '2');
    const { host, lines } = await start([spec]);

    // Act
    const res = await postEvents(host, 'resourceEvents', JSON.stringify([egEvent('1'), egEvent('2'), egEvent('3')]));

    // Assess
    expect(res.status).toBe(500);
    const body = (await res.json()) as { failures: { index: number; error: string }[] };
    expect(body.failures).toEqual([expect.objectContaining({ index: 1, error: 'boom on 2' })]);
    expect(calls).toHaveLength(3);
    const failed = lines.filter((l) => l.startsWith("Executed 'Functions.resourceEvents' (Failed"));
    expect(failed).toHaveLength(1);
    expect(failed[0]).toContain('boom on 2');
  });

  it('answers 404 naming the function when it is unknown', async () => {
    // Prepare
    const { spec } = recordingEventGrid('resourceEvents');
    const { host } = await start([spec]);

    // Act
    const res = await postEvents(host, 'nope', '[]');

    // Assess
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toMatch(/'nope'.*available: resourceEvents/);
  });
});

describe('dev host: HTTP functions', () => {
  function httpSpecs(seen: HttpRequest[]): FunctionSpec[] {
    return [
      {
        kind: 'http',
        name: 'getItem',
        route: 'items/{id}/{tab?}',
        methods: ['GET'],
        authLevel: 'function',
        handler: async (request, context) => {
          seen.push(request);
          return {
            status: 201,
            headers: { 'x-function': context.functionName },
            jsonBody: { id: request.params.id, tab: request.params.tab ?? null, x: request.query.getAll('x') },
          };
        },
      },
      {
        kind: 'http',
        name: 'itemSummary',
        route: 'items/summary',
        methods: ['GET'],
        authLevel: 'anonymous',
        handler: () => ({ body: 'summary' }),
      },
      {
        kind: 'http',
        name: 'postItem',
        route: 'items',
        methods: ['POST'],
        authLevel: 'admin',
        handler: async (request) => {
          const payload = (await request.json()) as { name: string };
          return { status: 202, body: `hello ${payload.name}`, headers: { 'content-type': 'text/plain' } };
        },
      },
      {
        kind: 'http',
        name: 'explode',
        route: 'explode',
        methods: ['GET'],
        authLevel: 'anonymous',
        handler: () => {
          throw new Error('kaput');
        },
      },
    ];
  }

  it('routes parameters and query to a real HttpRequest and writes jsonBody, status and headers back', async () => {
    // Prepare
    const seen: HttpRequest[] = [];
    const { host } = await start(httpSpecs(seen));

    // Act
    const res = await fetch(`${host.url}/api/items/42?x=1&x=2`, { headers: { 'x-trace': 't1' } });
    const withTab = await fetch(`${host.url}/api/Items/7/history`);

    // Assess
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-function')).toBe('getItem');
    expect(await res.json()).toEqual({ id: '42', tab: null, x: ['1', '2'] });
    expect(await withTab.json()).toEqual({ id: '7', tab: 'history', x: [] });
    expect(seen[0]?.method).toBe('GET');
    expect(seen[0]?.url).toBe(`${host.url}/api/items/42?x=1&x=2`);
    expect(seen[0]?.headers.get('x-trace')).toBe('t1');
  });

  it('prefers literal segments over parameters', async () => {
    // Prepare
    const { host } = await start(httpSpecs([]));

    // Act
    const res = await fetch(`${host.url}/api/items/summary`);

    // Assess
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('summary');
  });

  it('passes the request body through and returns a string body', async () => {
    // Prepare
    const { host } = await start(httpSpecs([]));

    // Act
    const res = await fetch(`${host.url}/api/items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'vault' }),
    });

    // Assess
    expect(res.status).toBe(202);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(res.headers.get('content-length')).toBe('11');
    expect(await res.text()).toBe('hello vault');
  });

  it('answers 404 for unknown paths and 405 with Allow for a known path and wrong method', async () => {
    // Prepare
    const { host } = await start(httpSpecs([]));

    // Act
    const missing = await fetch(`${host.url}/api/nothing/here`);
    const wrongMethod = await fetch(`${host.url}/api/items`, { method: 'DELETE' });
    const outside = await fetch(`${host.url}/elsewhere`);

    // Assess
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toMatch(/\/api\/nothing\/here/);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('POST');
    expect(outside.status).toBe(404);
  });

  it('answers 500 with a generic error when the handler throws, and logs the error', async () => {
    // Prepare
    const { host, lines } = await start(httpSpecs([]));

    // Act
    const res = await fetch(`${host.url}/api/explode`);

    // Assess
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'Internal server error' });
    expect(lines.some((l) => l.includes("'Functions.explode' (Failed") && l.includes('kaput'))).toBe(true);
  });

  it('serves extra dev routes outside /api and /runtime only', async () => {
    // Prepare
    const { host } = await start(httpSpecs([]));
    host.addRoute('GET', '/emulator', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>emulator</h1>');
    });

    // Act
    const page = await fetch(`${host.url}/emulator`);
    const wrongMethod = await fetch(`${host.url}/emulator`, { method: 'POST' });

    // Assess
    expect(await page.text()).toBe('<h1>emulator</h1>');
    expect(wrongMethod.status).toBe(405);
    expect(() => host.addRoute('GET', '/api/items', () => undefined)).toThrow(/reserved/);
    expect(() => host.addRoute('GET', '/runtime/x', () => undefined)).toThrow(/reserved/);
  });

  it('serves prefix routes (path ending in /*) below exact routes and longer prefixes first', async () => {
    // Prepare
    const { host } = await start(httpSpecs([]));
    const reply = (tag: string) => (req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`${tag} ${req.url}`);
    };
    host.addRoute('POST', '/emu/*', reply('short'));
    host.addRoute('POST', '/emu/deep/*', reply('long'));
    host.addRoute('POST', '/emu/exact', reply('exact'));

    // Act
    const text = async (path: string, method = 'POST') => {
      const res = await fetch(`${host.url}${path}`, { method });
      return `${res.status} ${await res.text()}`;
    };

    // Assess
    expect(await text('/emu/a;b=1/c')).toBe('200 short /emu/a;b=1/c');
    expect(await text('/emu')).toBe('200 short /emu');
    expect(await text('/emu/deep/x?y=1')).toBe('200 long /emu/deep/x?y=1');
    expect(await text('/emu/exact')).toBe('200 exact /emu/exact');
    expect(await text('/emulator')).toMatch(/^404/);
    expect((await fetch(`${host.url}/emu/a`)).status).toBe(405);
    expect(() => host.addRoute('GET', '/api/*', () => undefined)).toThrow(/reserved/);
  });
});

describe('dev host: timers', () => {
  interface TimerExtras {
    readonly runOnStartup?: boolean;
    readonly fail?: boolean;
    /** The handler waits for this before finishing. */
    readonly gate?: Promise<void>;
  }

  function recordingTimer(name: string, schedule: string, extra: TimerExtras = {}) {
    const calls: { timer: Timer; context: InvocationContext }[] = [];
    const spec: FunctionSpec = {
      kind: 'timer',
      name,
      schedule,
      ...(extra.runOnStartup === undefined ? {} : { runOnStartup: extra.runOnStartup }),
      handler: async (timer, context) => {
        calls.push({ timer, context });
        if (extra.gate) await extra.gate;
        if (extra.fail) throw new Error('sweep failed');
      },
    };
    return { spec, calls };
  }

  it('runTimer invokes the handler now with a Timer object and a real context', async () => {
    // Prepare
    const { spec, calls } = recordingTimer('sweep', '0 */5 * * * *');
    const fixed = new Date('2025-03-10T10:02:00.000Z');
    const { host } = await start([spec], { now: () => fixed });

    // Act
    await host.runTimer('Sweep');
    await host.runTimer('sweep');

    // Assess
    expect(calls).toHaveLength(2);
    expect(calls[0]?.timer).toEqual({
      isPastDue: false,
      schedule: { adjustForDST: false },
      scheduleStatus: {
        last: '0001-01-01T00:00:00.000Z',
        next: '2025-03-10T10:05:00.000Z',
        lastUpdated: '2025-03-10T10:02:00.000Z',
      },
    });
    expect(calls[1]?.timer.scheduleStatus.last).toBe('2025-03-10T10:02:00.000Z');
    expect(calls[0]?.context).toBeInstanceOf(InvocationContext);
    expect(calls[0]?.context.options.trigger.type).toBe('timerTrigger');
  });

  it('runTimer rejects for an unknown timer and when the handler throws', async () => {
    // Prepare
    const { spec } = recordingTimer('sweep', '0 */5 * * * *', { fail: true });
    const { host } = await start([spec]);

    // Act / Assess
    await expect(host.runTimer('nope')).rejects.toThrow(/No timer function named 'nope'/);
    await expect(host.runTimer('sweep')).rejects.toThrow('sweep failed');
  });

  it('skips a run while the previous run of the same timer is still going', async () => {
    // Prepare
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { spec, calls } = recordingTimer('sweep', '0 */5 * * * *', { gate });
    const { host, lines } = await start([spec]);

    // Act
    const first = host.runTimer('sweep');
    await waitFor(() => calls.length === 1, 1_000);
    await host.runTimer('sweep');
    release();
    await first;

    // Assess
    expect(calls).toHaveLength(1);
    expect(lines).toContain("Timer 'sweep' is still running; this run is skipped");
  });

  it('fires a real every-second schedule and stops firing after close()', async () => {
    // Prepare
    const { spec, calls } = recordingTimer('tick', '* * * * * *');
    const { host } = await start([spec], { timers: true });

    // Act
    const fired = await waitFor(() => calls.length >= 1, 3_500);
    await host.close();
    const afterClose = calls.length;
    await new Promise((r) => setTimeout(r, 1_300));

    // Assess
    expect(fired).toBe(true);
    expect(calls.length).toBe(afterClose);
  });

  it('close() clears armed timers before they fire', async () => {
    // Prepare
    const { spec, calls } = recordingTimer('tick', '* * * * * *');
    const { host } = await start([spec], { timers: true });

    // Act
    await host.close();
    await new Promise((r) => setTimeout(r, 1_300));

    // Assess
    expect(calls).toHaveLength(0);
  });

  it('runs runOnStartup timers once at start, and none at all with timers: false', async () => {
    // Prepare
    const onStart = recordingTimer('warm', '0 0 0 1 1 *', { runOnStartup: true });
    const disabled = recordingTimer('cold', '0 0 0 1 1 *', { runOnStartup: true });

    // Act
    await start([onStart.spec], { timers: true });
    await start([disabled.spec], { timers: false });
    const ran = await waitFor(() => onStart.calls.length === 1, 2_000);

    // Assess
    expect(ran).toBe(true);
    expect(disabled.calls).toHaveLength(0);
  });

  it('refuses to start with a five-field schedule', async () => {
    // Prepare
    const { spec } = recordingTimer('sweep', '*/5 * * * *');

    // Act / Assess
    await expect(start([spec])).rejects.toThrow(/six fields/);
  });
});
