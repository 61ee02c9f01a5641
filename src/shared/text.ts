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
