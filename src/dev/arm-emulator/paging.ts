import { badRequest } from './arm-error.js';

export interface Page<T> {
  value: T[];
  nextLink?: string;
}

export interface PageRequest {
  /** Absolute URL of the list endpoint without a query, as the caller spelled the path. */
  listUrl: string;
  apiVersion: string;
  skipToken: string | null;
  pageSize: number;
  /** Further query parameters the next page must keep (already encoded). */
  extraQuery?: string;
}

/**
 * ARM list paging: `nextLink` is absolute and carries api-version plus an opaque `$skipToken`; it is absent
 * on the last page. SDK pagers follow it verbatim.
 */
export function pageOf<T>(items: readonly T[], request: PageRequest): Page<T> {
  const offset = decodeSkipToken(request.skipToken);
  const end = offset + request.pageSize;
  const page: Page<T> = { value: items.slice(offset, end) };
  if (end < items.length) {
    const apiVersion = encodeURIComponent(request.apiVersion);
    const extra = request.extraQuery ? `&${request.extraQuery}` : '';
    page.nextLink = `${request.listUrl}?api-version=${apiVersion}${extra}&$skipToken=${encodeSkipToken(end)}`;
  }
  return page;
}

function encodeSkipToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString('base64url');
}

function decodeSkipToken(token: string | null): number {
  if (token === null) return 0;
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { offset?: unknown };
    if (typeof parsed.offset === 'number' && Number.isInteger(parsed.offset) && parsed.offset >= 0) return parsed.offset;
  } catch {
    // fall through to the error below
  }
  throw badRequest('InvalidSkipToken', `The skip token '${token}' is not valid. Use the nextLink from a previous page.`);
}
