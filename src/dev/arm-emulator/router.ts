/**
 * Case-insensitive path matching for ARM routes. ARM treats `resourceGroups`/`resourcegroups` and provider
 * namespaces in any casing as the same, so literal segments compare lower-cased; parameter segments keep the
 * caller's casing.
 */

export type RouteParams = Readonly<Record<string, string>>;

export interface Route<Handler> {
  /** Literal segments, or `:name` for a parameter. */
  pattern: readonly string[];
  /** The resource type named in authorization errors, e.g. `Microsoft.KeyVault/vaults`. */
  resourceType: string;
  apiVersions: readonly string[];
  methods: Readonly<Partial<Record<string, Handler>>>;
}

export interface RouteMatch<Handler> {
  route: Route<Handler>;
  params: RouteParams;
}

export function pathSegments(pathname: string): string[] {
  return pathname
    .split('/')
    .filter((segment) => segment !== '')
    .map(safeDecode);
}

export function matchRoute<Handler>(
  routes: readonly Route<Handler>[],
  segments: readonly string[],
): RouteMatch<Handler> | undefined {
  for (const route of routes) {
    const params = matchPattern(route.pattern, segments);
    if (params) return { route, params };
  }
  return undefined;
}

function matchPattern(pattern: readonly string[], segments: readonly string[]): RouteParams | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, expected] of pattern.entries()) {
    const actual = segments[index] ?? '';
    if (expected.startsWith(':')) params[expected.slice(1)] = actual;
    else if (expected.toLowerCase() !== actual.toLowerCase()) return undefined;
  }
  return params;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
