/**
 * Case-insensitive globs for resource IDs and names: `*` matches within one path segment,
 * `**` across segments, `?` one character other than `/`. Everything else is literal.
 *
 * Matching simulates all positions at once (a set of pattern states per input character), so
 * it takes at most pattern × text steps. A glob compiled to a backtracking regular expression
 * can take exponential time on patterns like `*a*a*a*a*b`, and endpoint names are chosen by
 * requesters.
 */
export interface CompiledGlob {
  test(text: string): boolean;
}

type Token = { readonly kind: 'literal'; readonly char: string } | { readonly kind: 'any' } | { readonly kind: 'star' } | { readonly kind: 'globstar' };

export function compileGlob(glob: string): CompiledGlob {
  const tokens: Token[] = [];
  for (let i = 0; i < glob.length; i += 1) {
    const char = glob[i] as string;
    if (char === '*') {
      if (glob[i + 1] === '*') {
        i += 1;
        if (tokens.at(-1)?.kind !== 'globstar') tokens.push({ kind: 'globstar' });
      } else if (tokens.at(-1)?.kind !== 'star' && tokens.at(-1)?.kind !== 'globstar') {
        tokens.push({ kind: 'star' });
      }
    } else if (char === '?') {
      tokens.push({ kind: 'any' });
    } else {
      tokens.push({ kind: 'literal', char: char.toLowerCase() });
    }
  }
  return { test: (text) => matches(tokens, text.toLowerCase()) };
}

function matches(tokens: readonly Token[], text: string): boolean {
  const end = tokens.length;
  let states = closure(tokens, new Uint8Array(end + 1).fill(0).map((_, i) => (i === 0 ? 1 : 0)));
  for (const char of text) {
    const next = new Uint8Array(end + 1);
    let any = false;
    for (let j = 0; j < end; j += 1) {
      if (!states[j]) continue;
      const token = tokens[j] as Token;
      if (token.kind === 'literal' ? token.char === char : token.kind === 'any' ? char !== '/' : false) {
        next[j + 1] = 1;
        any = true;
      } else if ((token.kind === 'star' && char !== '/') || token.kind === 'globstar') {
        next[j] = 1;
        any = true;
      }
    }
    if (!any) return false;
    states = closure(tokens, next);
  }
  return states[end] === 1;
}

/** A star or globstar may match nothing, so the state after it is reachable too. */
function closure(tokens: readonly Token[], states: Uint8Array): Uint8Array {
  for (let j = 0; j < tokens.length; j += 1) {
    const kind = (tokens[j] as Token).kind;
    if (states[j] && (kind === 'star' || kind === 'globstar')) states[j + 1] = 1;
  }
  return states;
}
