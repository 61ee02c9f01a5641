/**
 * Rules match request messages, which requesters write, with JavaScript regular expressions.
 * JavaScript's engine backtracks, so some patterns (`^(a+)+$`) take exponential time on a short
 * crafted message and would stall the whole function host. A pattern is only accepted when its
 * worst case is small: no quantified group that itself contains a quantifier or an alternation,
 * no backreferences or lookarounds, and at most MAX_UNBOUNDED unbounded quantifiers. With the
 * message capped at 140 characters (Azure's limit for a request message) the worst case is then
 * a low-degree polynomial.
 */
export const MAX_UNBOUNDED = 3;

interface Frame {
  quantified: boolean;
  alternation: boolean;
}

/** Undefined when the pattern is safe; otherwise why it is refused. */
export function regexRisk(pattern: string): string | undefined {
  const stack: Frame[] = [{ quantified: false, alternation: false }];
  let unbounded = 0;
  for (let i = 0; i < pattern.length; i += 1) {
    const char = pattern[i] as string;
    const top = stack[stack.length - 1] as Frame;
    let closedGroup: Frame | undefined;
    if (char === '\\') {
      const next = pattern[i + 1] ?? '';
      if (/[1-9]/.test(next) || next === 'k') return 'backreferences are not allowed';
      i += 1;
    } else if (char === '[') {
      // A character class is one atom; skip to its closing bracket.
      for (i += 1; i < pattern.length && pattern[i] !== ']'; i += 1) if (pattern[i] === '\\') i += 1;
    } else if (char === '(') {
      if (/^\(\?(=|!|<=|<!)/.test(pattern.slice(i, i + 4))) return 'lookahead and lookbehind are not allowed';
      stack.push({ quantified: false, alternation: false });
      // Skip a group's prefix, `(?:` or `(?<name>`, so its `?` is not read as a quantifier.
      const prefix = /^\(\?(:|<[A-Za-z_$][\w$]*>)/.exec(pattern.slice(i));
      i += prefix ? prefix[0].length - 1 : 0;
      continue;
    } else if (char === ')') {
      if (stack.length === 1) return undefined; // unbalanced: the RegExp constructor reports it
      closedGroup = stack.pop();
    } else if (char === '|') {
      top.alternation = true;
    }
    const quantifier = readQuantifier(pattern, i + 1);
    if (quantifier) {
      const current = stack[stack.length - 1] as Frame;
      if (closedGroup && (closedGroup.quantified || closedGroup.alternation)) {
        return 'a repeated group may not contain another repetition or an alternation (it can take exponential time)';
      }
      if (quantifier.unbounded) unbounded += 1;
      current.quantified = true;
      i = quantifier.end - 1;
    } else if (closedGroup) {
      const current = stack[stack.length - 1] as Frame;
      current.quantified ||= closedGroup.quantified;
      current.alternation ||= closedGroup.alternation;
    }
  }
  if (unbounded > MAX_UNBOUNDED) return `at most ${MAX_UNBOUNDED} unbounded repetitions (*, +, {n,}) are allowed`;
  return undefined;
}

function readQuantifier(pattern: string, at: number): { unbounded: boolean; end: number } | undefined {
  const char = pattern[at];
  let end: number;
  let unbounded: boolean;
  if (char === '*' || char === '+') {
    end = at + 1;
    unbounded = true;
  } else if (char === '?') {
    end = at + 1;
    unbounded = false;
  } else if (char === '{') {
    const match = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(at));
    if (!match) return undefined;
    end = at + match[0].length;
    unbounded = match[2] !== undefined && match[3] === '';
  } else {
    return undefined;
  }
  if (pattern[end] === '?') end += 1; // lazy
  return { unbounded, end };
}
