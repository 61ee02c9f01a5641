/**
 * The part of Resource Graph's query language (KQL) the emulator answers: a tokenizer and a grammar for
 * exactly two queries over the `resources` table, and a ParserFailure, as Resource Graph reports it, for
 * anything else.
 *
 * Connections of the given types:
 *   resources
 *   | where type in~ ('microsoft.keyvault/vaults', ...)
 *   | mv-expand connection = properties.privateEndpointConnections limit N
 *   | where isnotempty(connection)
 *   | project id = tostring(connection.id), resourceId = id, type, subscriptionId,
 *             status = tostring(connection.properties.privateLinkServiceConnectionState.status),
 *             privateEndpointId = tostring(connection.properties.privateEndpoint.id)
 *   | order by id asc
 *
 * Resources of the given types:
 *   resources | where type in~ (...) | project id, type, subscriptionId | order by id asc
 */

export type GraphQuery =
  | { kind: 'connections'; types: string[]; expandLimit: number }
  | { kind: 'resources'; types: string[] };

/** Where the parser gave up: 1-based line, 0-based position in that line, and the token it could not take. */
export class QueryParseError extends Error {
  constructor(
    readonly line: number,
    readonly characterPositionInLine: number,
    readonly token: string,
  ) {
    super(`ParserFailure at line ${line}, position ${characterPositionInLine}, token '${token}'`);
    this.name = 'QueryParseError';
  }
}

/** `unterminated`: a string without its closing quote. */
type TokenKind = 'identifier' | 'string' | 'unterminated' | 'number' | 'symbol' | 'end';

interface Token {
  kind: TokenKind;
  /** The source text of the token (strings with their quotes). */
  text: string;
  /** Strings: the unquoted value; otherwise the text. */
  value: string;
  line: number;
  column: number;
}

const MAX_EXPAND_LIMIT = 2000;
const SYMBOLS = ['in~', '==', '=~', '!=', '|', '(', ')', ',', '=', '.', '~', '[', ']', '<', '>', '!', '-', '+', '*', '/', ';', ':'];

export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  let line = 1;
  let lineStart = 0;
  const at = (kind: TokenKind, start: number, end: number, value?: string): Token => {
    const source = text.slice(start, end);
    return { kind, text: source, value: value ?? source, line, column: start - lineStart };
  };
  while (index < text.length) {
    const char = text.charAt(index);
    if (char === '\n') {
      index += 1;
      line += 1;
      lineStart = index;
      continue;
    }
    if (/\s/.test(char)) {
      index += 1;
      continue;
    }
    const start = index;
    if (/[A-Za-z_]/.test(char)) {
      index += 1;
      // KQL spells some operators with a hyphen (mv-expand, project-away): one token when letters follow it.
      while (index < text.length && (/[A-Za-z0-9_]/.test(text.charAt(index)) || (text.charAt(index) === '-' && /[A-Za-z]/.test(text.charAt(index + 1))))) {
        index += 1;
      }
      if (text.slice(start, index) === 'in' && text.charAt(index) === '~') {
        index += 1;
        tokens.push(at('symbol', start, index));
      } else {
        tokens.push(at('identifier', start, index));
      }
      continue;
    }
    if (/[0-9]/.test(char)) {
      while (index < text.length && /[0-9A-Za-z_.]/.test(text.charAt(index))) index += 1;
      tokens.push(at('number', start, index));
      continue;
    }
    if (char === "'" || char === '"') {
      const { end, value, closed } = readString(text, start);
      index = end;
      tokens.push(at(closed ? 'string' : 'unterminated', start, index, value));
      continue;
    }
    const symbol = SYMBOLS.find((s) => text.startsWith(s, index));
    index += symbol?.length ?? 1;
    tokens.push(at('symbol', start, index));
  }
  tokens.push({ kind: 'end', text: '<EOF>', value: '<EOF>', line, column: index - lineStart });
  return tokens;
}

/** A quoted string with backslash escapes; an unterminated one runs to the end of its line. */
function readString(text: string, start: number): { end: number; value: string; closed: boolean } {
  const quote = text.charAt(start);
  let index = start + 1;
  let value = '';
  while (index < text.length) {
    const char = text.charAt(index);
    if (char === quote) return { end: index + 1, value, closed: true };
    if (char === '\n') break;
    if (char === '\\' && index + 1 < text.length) {
      const next = text.charAt(index + 1);
      value += next === 'n' ? '\n' : next === 't' ? '\t' : next;
      index += 2;
      continue;
    }
    value += char;
    index += 1;
  }
  return { end: index, value, closed: false };
}

class Parser {
  private index = 0;

  constructor(private readonly tokens: readonly Token[]) {}

  private peek(): Token {
    return this.tokens[this.index] ?? (this.tokens[this.tokens.length - 1] as Token);
  }

  private fail(token: Token = this.peek()): never {
    throw new QueryParseError(token.line, token.column, token.text);
  }

  /** The next token must be this identifier (case-sensitive, as KQL keywords and columns are) or symbol. */
  private expect(text: string): Token {
    const token = this.peek();
    if ((token.kind === 'identifier' || token.kind === 'symbol') && token.text === text) {
      this.index += 1;
      return token;
    }
    return this.fail(token);
  }

  private expectAll(...texts: string[]): void {
    for (const text of texts) this.expect(text);
  }

  private isNext(text: string): boolean {
    const token = this.peek();
    return (token.kind === 'identifier' || token.kind === 'symbol') && token.text === text;
  }

  parse(): GraphQuery {
    this.table();
    const types = this.whereTypeIn();
    this.expect('|');
    let query: GraphQuery;
    if (this.isNext('mv-expand')) {
      const expandLimit = this.mvExpand();
      this.expectAll('|', 'where', 'isnotempty', '(', 'connection', ')');
      this.expectAll('|', 'project');
      this.projection(CONNECTION_COLUMNS);
      query = { kind: 'connections', types, expandLimit };
    } else if (this.isNext('project')) {
      this.expect('project');
      this.projection(RESOURCE_COLUMNS);
      query = { kind: 'resources', types };
    } else {
      return this.fail();
    }
    this.expectAll('|', 'order', 'by', 'id', 'asc');
    if (this.peek().kind !== 'end') this.fail();
    return query;
  }

  /** Resource Graph's table names are case-insensitive (`Resources`, `resources`). */
  private table(): void {
    const token = this.peek();
    if (token.kind !== 'identifier' || token.text.toLowerCase() !== 'resources') this.fail(token);
    this.index += 1;
  }

  private whereTypeIn(): string[] {
    this.expectAll('|', 'where', 'type', 'in~', '(');
    const types = [this.typeName()];
    while (this.isNext(',')) {
      this.expect(',');
      types.push(this.typeName());
    }
    this.expect(')');
    return types;
  }

  /** A single-quoted resource type: `namespace/type`, optionally with nested types. */
  private typeName(): string {
    const token = this.peek();
    if (token.kind !== 'string' || !token.text.startsWith("'") || !/^[A-Za-z0-9.]+(\/[A-Za-z0-9]+)+$/.test(token.value)) this.fail(token);
    this.index += 1;
    return token.value;
  }

  private mvExpand(): number {
    this.expectAll('mv-expand', 'connection', '=', 'properties', '.', 'privateEndpointConnections', 'limit');
    const token = this.peek();
    const limit = token.kind === 'number' && /^[0-9]+$/.test(token.text) ? Number(token.text) : Number.NaN;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_EXPAND_LIMIT) this.fail(token);
    this.index += 1;
    return limit;
  }

  /** The project list must be exactly the expected columns in their order; any other token fails where it stands. */
  private projection(columns: readonly (readonly string[])[]): void {
    columns.forEach((column, position) => {
      if (position > 0) this.expect(',');
      this.expectAll(...column);
    });
  }
}

/** Each column as its tokens: `name = tostring(path)`, `name = column`, or `column`. */
const CONNECTION_COLUMNS: readonly (readonly string[])[] = [
  ['id', '=', 'tostring', '(', 'connection', '.', 'id', ')'],
  ['resourceId', '=', 'id'],
  ['type'],
  ['subscriptionId'],
  ['status', '=', 'tostring', '(', 'connection', '.', 'properties', '.', 'privateLinkServiceConnectionState', '.', 'status', ')'],
  ['privateEndpointId', '=', 'tostring', '(', 'connection', '.', 'properties', '.', 'privateEndpoint', '.', 'id', ')'],
];
const RESOURCE_COLUMNS: readonly (readonly string[])[] = [['id'], ['type'], ['subscriptionId']];

export const CONNECTION_QUERY_COLUMNS = ['id', 'resourceId', 'type', 'subscriptionId', 'status', 'privateEndpointId'] as const;
export const RESOURCE_QUERY_COLUMNS = ['id', 'type', 'subscriptionId'] as const;

export function parseGraphQuery(text: string): GraphQuery {
  return new Parser(tokenize(text)).parse();
}

/** The same query however it was spaced, for matching a skip token to the query it was issued for. */
export function canonicalQuery(query: GraphQuery): string {
  const types = [...new Set(query.types.map((t) => t.toLowerCase()))].sort();
  return query.kind === 'connections' ? `connections|${types.join(',')}|${query.expandLimit}` : `resources|${types.join(',')}`;
}
