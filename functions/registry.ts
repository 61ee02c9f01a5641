import type { EventGridHandler, HttpHandler, HttpMethod, TimerHandler } from '@azure/functions';

/**
 * A function is described once, as data. `functions/index.ts` hands each spec to the
 * Azure Functions `app` object; the local dev host (src/dev) serves the very same specs,
 * so there is exactly one copy of every handler.
 */
export type FunctionSpec = HttpFunctionSpec | EventGridFunctionSpec | TimerFunctionSpec;

export interface HttpFunctionSpec {
  readonly kind: 'http';
  readonly name: string;
  /** Route below /api, without a leading slash; `{name}` segments become `request.params.name`. */
  readonly route: string;
  readonly methods: readonly HttpMethod[];
  readonly authLevel: 'anonymous' | 'function' | 'admin';
  readonly handler: HttpHandler;
}

export interface EventGridFunctionSpec {
  readonly kind: 'eventGrid';
  readonly name: string;
  readonly handler: EventGridHandler;
}

export interface TimerFunctionSpec {
  readonly kind: 'timer';
  readonly name: string;
  /** Six-field NCRONTAB expression: second minute hour day month day-of-week. */
  readonly schedule: string;
  readonly runOnStartup?: boolean;
  readonly handler: TimerHandler;
}
