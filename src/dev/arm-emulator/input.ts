import { badRequest } from './arm-error.js';
import { isRecord } from './http-io.js';

/**
 * Field readers for untyped input: the control surface receives JSON from other processes, and the
 * programmatic API may be called from plain JavaScript, so both validate with messages naming the field.
 */
export function requireObject(value: unknown, what: string): Record<string, unknown> {
  if (!isRecord(value)) throw badRequest('InvalidInput', `${what} must be a JSON object.`);
  return value;
}

export function requiredString(source: Record<string, unknown>, field: string): string {
  const value = source[field];
  if (typeof value !== 'string' || value.trim() === '') {
    throw badRequest('InvalidInput', `'${field}' is required and must be a non-empty string.`);
  }
  return value;
}

export function optionalString(source: Record<string, unknown>, field: string): string | undefined {
  const value = source[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw badRequest('InvalidInput', `'${field}' must be a string when given.`);
  return value;
}
