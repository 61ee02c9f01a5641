import { badRequest } from './arm-error.js';
import type { FaultSpec } from './types.js';

interface ArmedFault extends FaultSpec {
  remaining: number;
}

/** Default error codes for injected failures, matching what ARM sends for those statuses. */
const DEFAULT_CODES: Record<number, string> = {
  400: 'BadRequest',
  401: 'AuthenticationFailed',
  403: 'AuthorizationFailed',
  404: 'ResourceNotFound',
  409: 'Conflict',
  412: 'PreconditionFailed',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

/** Injected answers, consumed in the order they were added, each for its number of matching requests. */
export class FaultQueue {
  private readonly faults: ArmedFault[] = [];

  add(fault: FaultSpec): void {
    assertValidFault(fault);
    this.faults.push({ ...fault, remaining: fault.times ?? 1 });
  }

  take(method: string, path: string): FaultSpec | undefined {
    const index = this.faults.findIndex((fault) => matches(fault, method, path));
    const fault = this.faults[index];
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault;
  }
}

/** The body an injected fault answers with: its own, none, or an ARM error body for error statuses. */
export function faultBody(fault: FaultSpec): unknown {
  if (fault.emptyBody) return undefined;
  if (fault.body !== undefined) return fault.body;
  if (fault.status < 400) return undefined;
  const code = DEFAULT_CODES[fault.status] ?? 'InjectedFault';
  return { error: { code, message: `Injected fault: HTTP ${fault.status} (${code}).` } };
}

function matches(fault: FaultSpec, method: string, path: string): boolean {
  const methodOk = fault.method === undefined || fault.method.toUpperCase() === method.toUpperCase();
  const pathOk = fault.pathIncludes === undefined || path.toLowerCase().includes(fault.pathIncludes.toLowerCase());
  return methodOk && pathOk;
}

function assertValidFault(fault: FaultSpec): void {
  if (!Number.isInteger(fault.status) || fault.status < 200 || fault.status > 599) {
    throw badRequest('InvalidFault', `Fault status must be an integer HTTP status between 200 and 599, got ${String(fault.status)}.`);
  }
  if (fault.times !== undefined && (!Number.isInteger(fault.times) || fault.times < 1)) {
    throw badRequest('InvalidFault', `Fault times must be a positive integer, got ${String(fault.times)}.`);
  }
  if (fault.retryAfterSeconds !== undefined && !(Number.isFinite(fault.retryAfterSeconds) && fault.retryAfterSeconds >= 0)) {
    throw badRequest('InvalidFault', `Fault retryAfterSeconds must be a non-negative number.`);
  }
  if (fault.method !== undefined && typeof fault.method !== 'string') {
    throw badRequest('InvalidFault', 'Fault method must be a string.');
  }
  if (fault.pathIncludes !== undefined && typeof fault.pathIncludes !== 'string') {
    throw badRequest('InvalidFault', 'Fault pathIncludes must be a string.');
  }
}
