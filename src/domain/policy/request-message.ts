import { RE2JS, RE2JSSyntaxException } from 're2js';

/**
 * Rules match request messages, which requesters write, so a pattern must never let a message
 * choose how long matching takes. JavaScript's RegExp backtracks: `^(a+)+$` is exponential, and
 * even patterns with no nested repetition (`\w{0,140}` eight times, then `!`) take seconds on a
 * 30-character message, so no syntactic heuristic in front of it is safe. Patterns are matched
 * with re2js instead, a pure JavaScript port of RE2 whose automata read each character of the
 * input a bounded number of times, whatever the pattern (https://github.com/google/re2/wiki/WhyRE2).
 * The price is RE2's syntax (https://github.com/google/re2/wiki/Syntax): no lookaround, no
 * backreferences, and repetition counts of at most 1000, nested ones multiplied.
 */
export interface MessagePattern {
  test(message: string): boolean;
}

/** Why RE2 refuses a pattern: the constructs JavaScript users reach for first, named plainly. */
const UNSUPPORTED: readonly { readonly construct: RegExp; readonly reason: string }[] = [
  { construct: /\(\?<[=!]/, reason: 'lookbehind is not supported by the linear-time engine (RE2 syntax)' },
  { construct: /\(\?[=!]/, reason: 'lookahead is not supported by the linear-time engine (RE2 syntax)' },
  { construct: /\\(?:[1-9]|k<)/, reason: 'backreferences are not supported by the linear-time engine (RE2 syntax)' },
];

/** The refusal as a value: RE2's own error, with the reason a person can act on. */
export class UnsupportedPatternError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'UnsupportedPatternError';
  }
}

/**
 * Compiled patterns, reused across decisions (a rule table is read on every decision). Bounded,
 * because rule rows can be edited around the API; clearing it only costs a recompile.
 */
const compiled = new Map<string, RE2JS>();
const MAX_COMPILED = 256;

/** A case-insensitive RE2 pattern over the request message; throws UnsupportedPatternError. */
export function compileRequestMessage(pattern: string): MessagePattern {
  const cached = compiled.get(pattern);
  if (cached) return cached;
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern, RE2JS.CASE_INSENSITIVE);
  } catch (error) {
    throw new UnsupportedPatternError(refusalReason(pattern, error), { cause: error });
  }
  if (compiled.size >= MAX_COMPILED) compiled.clear();
  compiled.set(pattern, re);
  return re;
}

function refusalReason(pattern: string, error: unknown): string {
  const known = UNSUPPORTED.find((entry) => entry.construct.test(withoutEscapedBackslashes(pattern)));
  if (known) return known.reason;
  if (error instanceof RE2JSSyntaxException) {
    const detail = `${error.error}${error.input ? ` near \`${error.input.replace(/^\(\?i\)/, '')}\`` : ''}`;
    const hint = /repeat count/.test(error.error) ? ' (RE2 allows at most 1000 repetitions, nested counts multiplied)' : '';
    return `is not valid RE2 syntax: ${detail}${hint}`;
  }
  return `could not be compiled: ${(error as Error).message}`;
}

/** `\\(?=` is a literal backslash then a group, not a lookahead. */
function withoutEscapedBackslashes(pattern: string): string {
  return pattern.replace(/\\\\/g, '');
}
