/**
 * Bounded text for places with a length limit: Azure keeps 140 characters of a connection's
 * description, Adaptive Card fields and log lines are capped so request values cannot flood them.
 */

/**
 * At most `max` characters, counted in code points so an emoji is never cut in half; a cut
 * text ends in `…` (which counts as one), with the whitespace before it dropped.
 */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('').trimEnd()}…`;
}

/** One line, bounded: control characters become spaces, so a value cannot forge log lines. */
export function oneLine(value: string, max: number): string {
  return truncate(value.replace(/[\u0000-\u001f\u007f]+/g, ' '), max);
}

/**
 * At most `max` UTF-16 code units, for limits counted that way (Table Storage string properties),
 * never ending in half of a surrogate pair; a cut text ends in `…`.
 */
export function truncateUnits(text: string, max: number): string {
  return text.length <= max ? text : `${sliceUnits(text, max - 1)}…`;
}

/** The first `length` UTF-16 code units, one fewer when the last would be half of a surrogate pair. */
export function sliceUnits(text: string, length: number): string {
  const out = text.slice(0, length);
  const last = out.charCodeAt(out.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? out.slice(0, -1) : out;
}
