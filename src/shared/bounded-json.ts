/**
 * JSON text of any value, bounded in depth, breadth, string length, node count and total length,
 * without ever calling JSON.stringify on the value itself: that recurses once per level, and a
 * 100,000-deep nested array (valid JSON, which V8's JSON.parse reads iteratively) overflows the
 * stack. Used for recording input that could not be understood, where a few kilobytes are enough
 * to see what arrived and a request must not be able to choose how much is written.
 */
export interface JsonBounds {
  readonly maxDepth: number;
  /** Items of one array or keys of one object. */
  readonly maxEntries: number;
  readonly maxString: number;
  /** Values visited in all; beyond it everything is elided. */
  readonly maxNodes: number;
  /** Length of the returned text, in UTF-16 code units. */
  readonly maxChars: number;
}

export const AUDIT_EXCERPT_BOUNDS: JsonBounds = Object.freeze({ maxDepth: 8, maxEntries: 25, maxString: 300, maxNodes: 300, maxChars: 4_000 });

export function boundedJson(value: unknown, bounds: JsonBounds = AUDIT_EXCERPT_BOUNDS): string {
  const budget = { nodes: bounds.maxNodes };
  const text = JSON.stringify(prune(value, 0, bounds, budget)) ?? 'null';
  if (text.length <= bounds.maxChars) return text;
  // Still valid JSON: a string holding the cut text. Escaping lengthens it (each `"` becomes `\"`),
  // so the cut shrinks until the quoted text fits.
  const note = `…(truncated from ${text.length} characters)`;
  let length = bounds.maxChars - note.length - 2;
  for (;;) {
    const quoted = JSON.stringify(sliceSafe(text, length) + note);
    if (quoted.length <= bounds.maxChars || length <= 0) return quoted;
    length -= quoted.length - bounds.maxChars;
  }
}

function prune(value: unknown, depth: number, bounds: JsonBounds, budget: { nodes: number }): unknown {
  budget.nodes -= 1;
  if (budget.nodes < 0) return '…';
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string') {
    return value.length <= bounds.maxString ? value : `${sliceSafe(value, bounds.maxString)}…(${value.length} characters)`;
  }
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object') return `(${typeof value})`;
  if (depth >= bounds.maxDepth) return Array.isArray(value) ? `…(array nested deeper than ${bounds.maxDepth} levels)` : `…(object nested deeper than ${bounds.maxDepth} levels)`;
  if (Array.isArray(value)) {
    const items = value.slice(0, bounds.maxEntries).map((item: unknown) => prune(item, depth + 1, bounds, budget));
    if (value.length > bounds.maxEntries) items.push(`…(${value.length - bounds.maxEntries} more items)`);
    return items;
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  const out: Record<string, unknown> = {};
  let count = 0;
  let more = 0;
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    if (count >= bounds.maxEntries) {
      more += 1;
      continue;
    }
    count += 1;
    out[key.length <= bounds.maxString ? key : `${sliceSafe(key, bounds.maxString)}…`] = prune((value as Record<string, unknown>)[key], depth + 1, bounds, budget);
  }
  if (more > 0) out['…'] = `(${more} more keys)`;
  return out;
}

/** Never ends in half of a surrogate pair. */
function sliceSafe(text: string, length: number): string {
  const out = text.slice(0, Math.max(0, length));
  const last = out.charCodeAt(out.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? out.slice(0, -1) : out;
}
