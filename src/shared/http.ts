/** Small HTTP facts shared by the adapters, the configuration and the local stack. */

const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** True for a URL on the loopback interface (the local emulators and Azurite listen there). */
export function isLoopback(url: string): boolean {
  try {
    return LOOPBACK_HOSTS.has(new URL(url).hostname.toLowerCase());
  } catch {
    return false;
  }
}

/**
 * Retry-After is delay-seconds or an HTTP date (RFC 9110 §10.2.3); answers milliseconds to wait,
 * or undefined when the header is absent or not understood.
 */
export function parseRetryAfter(value: string | undefined, now: () => number = Date.now): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.ceil(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now());
}
