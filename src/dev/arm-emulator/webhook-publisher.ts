import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  buildValidationEvent,
  toCloudEvent,
  toEventGridSchema,
  VALIDATION_EVENT_TYPE,
  type ResourceEvent,
} from './events.js';
import { sendOutbound, type OutboundResponse } from './http-client.js';
import type { DeliveryRecord, EventSchema } from './types.js';

const SUBSCRIPTION_NAME = 'LINKGATE-EMULATOR';
const EVENT_GRID_ORIGIN = 'eventgrid.azure.net';

export interface PublisherOptions {
  deliveries: DeliveryRecord[];
  now: () => Date;
  defaultSchema: EventSchema;
  /** Base URL for the handshake's `validationUrl`; known only once the server listens. */
  baseUrl: () => string;
  /** Topic named in validation events. */
  topic: () => string;
  maxAttempts?: number;
  retryDelayMs?: number;
  timeoutMs?: number;
}

interface Subscriber {
  url: string;
  schema: EventSchema;
  /** Deliveries to one webhook run one after another so it sees changes in the order they happened. */
  queue: Promise<void>;
}

/** Plays the Event Grid side: validates webhooks, then pushes resource events with bounded retries. */
export class WebhookPublisher {
  private readonly subscribers = new Map<string, Subscriber>();
  private readonly stop = new AbortController();
  private readonly maxAttempts: number;
  private readonly retryDelayMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: PublisherOptions) {
    this.maxAttempts = options.maxAttempts ?? 3;
    this.retryDelayMs = options.retryDelayMs ?? 50;
    this.timeoutMs = options.timeoutMs ?? 5_000;
  }

  async subscribe(url: string, schema: EventSchema = this.options.defaultSchema): Promise<void> {
    assertWebhookUrl(url);
    if (schema === 'EventGridSchema') await this.validateEventGrid(url);
    else await this.validateCloudEvents(url);
    this.subscribers.set(url, { url, schema, queue: Promise.resolve() });
  }

  /** Resolves once every subscriber has had its attempts; never rejects (failures land in `deliveries`). */
  publish(events: ResourceEvent[]): Promise<void> {
    const runs = [...this.subscribers.values()].map((subscriber) => {
      subscriber.queue = subscriber.queue.then(() => this.deliver(subscriber, events));
      return subscriber.queue;
    });
    return Promise.all(runs).then(() => undefined);
  }

  async close(): Promise<void> {
    this.stop.abort();
    await Promise.all([...this.subscribers.values()].map((subscriber) => subscriber.queue));
  }

  private async deliver(subscriber: Subscriber, events: ResourceEvent[]): Promise<void> {
    for (let attempt = 1; attempt <= this.maxAttempts && !this.stop.signal.aborted; attempt += 1) {
      if (await this.attempt(subscriber, events, attempt)) return;
      if (attempt < this.maxAttempts) {
        await sleep(this.retryDelayMs * attempt, undefined, { signal: this.stop.signal }).catch(() => undefined);
      }
    }
  }

  private async attempt(subscriber: Subscriber, events: ResourceEvent[], attempt: number): Promise<boolean> {
    const cloud = subscriber.schema === 'CloudEventSchemaV1_0';
    const body = JSON.stringify(events.map((event) => (cloud ? toCloudEvent(event) : toEventGridSchema(event))));
    const headers: Record<string, string> = {
      'content-type': cloud ? 'application/cloudevents-batch+json; charset=utf-8' : 'application/json',
      'aeg-event-type': 'Notification',
      'aeg-subscription-name': SUBSCRIPTION_NAME,
      'aeg-delivery-count': String(attempt - 1),
      'aeg-data-version': '2',
      'aeg-metadata-version': '1',
    };
    const eventTypes = events.map((event) => event.eventType);
    const response = await this.send(subscriber.url, { method: 'POST', headers, body }, eventTypes);
    return !(response instanceof Error) && response.status >= 200 && response.status < 300;
  }

  private async validateEventGrid(url: string): Promise<void> {
    const code = randomUUID();
    const validationUrl = `${this.options.baseUrl()}/_emulator/validation/${code}`;
    const event = buildValidationEvent(this.options.topic(), code, validationUrl, this.options.now());
    const headers = {
      'content-type': 'application/json',
      'aeg-event-type': 'SubscriptionValidation',
      'aeg-subscription-name': SUBSCRIPTION_NAME,
      'aeg-delivery-count': '0',
      'aeg-data-version': '2',
      'aeg-metadata-version': '1',
    };
    const body = JSON.stringify([event]);
    const response = await this.send(url, { method: 'POST', headers, body }, [VALIDATION_EVENT_TYPE]);
    const expected = `expected HTTP 200 with {"validationResponse":"${code}"}`;
    if (response instanceof Error) {
      throw new Error(`Event Grid validation handshake with ${url} failed: ${response.message}; ${expected}.`);
    }
    if (response.status !== 200) {
      throw new Error(`Event Grid validation handshake with ${url} failed: HTTP ${response.status}; ${expected}.`);
    }
    if (readValidationResponse(response.text) !== code) {
      throw new Error(`Event Grid validation handshake with ${url} failed: wrong or missing validationResponse; ${expected}.`);
    }
  }

  /** CloudEvents 1.0 webhook abuse protection: an OPTIONS request the receiver must allow. */
  private async validateCloudEvents(url: string): Promise<void> {
    const headers = { 'WebHook-Request-Origin': EVENT_GRID_ORIGIN, 'WebHook-Request-Rate': '120' };
    const response = await this.send(url, { method: 'OPTIONS', headers }, []);
    const expected = `expected HTTP 200 with header WebHook-Allowed-Origin: ${EVENT_GRID_ORIGIN} (or *)`;
    if (response instanceof Error) {
      throw new Error(`CloudEvents handshake with ${url} failed: ${response.message}; ${expected}.`);
    }
    const allowed = String(response.headers['webhook-allowed-origin'] ?? '').trim();
    if (response.status !== 200 || (allowed !== EVENT_GRID_ORIGIN && allowed !== '*')) {
      throw new Error(
        `CloudEvents handshake with ${url} failed: HTTP ${response.status}, WebHook-Allowed-Origin '${allowed}'; ${expected}.`,
      );
    }
  }

  /** Sends one request and records it; a network failure is recorded with status 0 and returned, not thrown. */
  private async send(
    url: string,
    request: { method: string; headers: Record<string, string>; body?: string },
    eventTypes: string[],
  ): Promise<OutboundResponse | Error> {
    try {
      const response = await sendOutbound(url, { ...request, timeoutMs: this.timeoutMs, signal: this.stop.signal });
      this.options.deliveries.push({ url, status: response.status, eventTypes, at: this.options.now() });
      return response;
    } catch (error) {
      const failure = error instanceof Error ? error : new Error(String(error));
      this.options.deliveries.push({ url, status: 0, eventTypes, at: this.options.now(), error: failure.message });
      return failure;
    }
  }
}

function assertWebhookUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`Webhook URL '${url}' is not a valid absolute URL.`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error(`Webhook URL '${url}' must use http or https.`);
  }
}

function readValidationResponse(text: string): unknown {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>)['validationResponse'] : undefined;
  } catch {
    return undefined;
  }
}
