/**
 * Builds TableClients for the three ways Linkgate reaches Table Storage: a connection string
 * (local development, Azurite), an endpoint with an Entra credential (production, managed identity),
 * or an account name and key.
 */
import { AzureNamedKeyCredential, TableClient, type TableServiceClientOptions } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';
import { isLoopback } from '../../shared/http.js';

export type TablesConnection =
  | { readonly kind: 'connectionString'; readonly connectionString: string }
  | { readonly kind: 'endpoint'; readonly endpoint: string; readonly credential: TokenCredential }
  | { readonly kind: 'sharedKey'; readonly endpoint: string; readonly accountName: string; readonly accountKey: string };

function connectionStringValue(connectionString: string, name: string): string | undefined {
  for (const part of connectionString.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim().toLowerCase() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The endpoint whose scheme decides whether http is allowed. Without a TableEndpoint the SDK
 * derives `<protocol>://<account>.table.<suffix>`, which is never loopback.
 */
function connectionStringEndpoint(connectionString: string): string | undefined {
  const tableEndpoint = connectionStringValue(connectionString, 'tableendpoint');
  if (tableEndpoint !== undefined) return tableEndpoint;
  // `UseDevelopmentStorage=true` means Azurite on 127.0.0.1; the SDK itself allows http for it.
  if (connectionStringValue(connectionString, 'usedevelopmentstorage')?.toLowerCase() === 'true') return undefined;
  const protocol = connectionStringValue(connectionString, 'defaultendpointsprotocol') ?? 'https';
  return `${protocol}://account.table.invalid`;
}

/**
 * Plain http is only accepted for loopback endpoints (Azurite); anything else must be https so
 * keys and tokens never travel in clear text.
 */
function clientOptionsFor(endpoint: string | undefined): TableServiceClientOptions {
  if (endpoint === undefined) return {};
  if (endpoint.toLowerCase().startsWith('http:')) {
    if (!isLoopback(endpoint)) {
      throw new Error('Refusing plain http for a Table endpoint that is not on the loopback interface');
    }
    return { allowInsecureConnection: true };
  }
  return {};
}

export function createTableClient(conn: TablesConnection, tableName: string): TableClient {
  switch (conn.kind) {
    case 'connectionString':
      return TableClient.fromConnectionString(
        conn.connectionString,
        tableName,
        clientOptionsFor(connectionStringEndpoint(conn.connectionString)),
      );
    case 'endpoint':
      return new TableClient(conn.endpoint, tableName, conn.credential, clientOptionsFor(conn.endpoint));
    case 'sharedKey':
      return new TableClient(
        conn.endpoint,
        tableName,
        new AzureNamedKeyCredential(conn.accountName, conn.accountKey),
        clientOptionsFor(conn.endpoint),
      );
  }
}

/**
 * True when `err` is a Table service error with this HTTP status (and, when given, this service
 * error code). @azure/data-tables throws a RestError whose `statusCode` is the HTTP status and whose
 * `details.errorCode` carries the service code (e.g. `EntityAlreadyExists`, `ResourceNotFound`).
 */
export function isTableError(err: unknown, statusCode: number, errorCode?: string): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { statusCode?: unknown; details?: { errorCode?: unknown; odataError?: { code?: unknown } } };
  if (e.statusCode !== statusCode) return false;
  if (errorCode === undefined) return true;
  // The code normally arrives in the x-ms-error-code header (details.errorCode); the body's
  // odata.error.code is the fallback when a response lacks the header.
  return (e.details?.errorCode ?? e.details?.odataError?.code) === errorCode;
}

/** One creation attempt per client and process; a failed attempt is forgotten so the next call retries. */
const ensured = new WeakMap<TableClient, Promise<void>>();

/** Creates the client's table if needed. An existing table (409 TableAlreadyExists) is success. */
export function ensureTable(client: TableClient): Promise<void> {
  let pending = ensured.get(client);
  if (pending === undefined) {
    pending = client.createTable().catch((err: unknown) => {
      if (isTableError(err, 409, 'TableAlreadyExists')) return;
      ensured.delete(client);
      throw err;
    });
    ensured.set(client, pending);
  }
  return pending;
}

/** A DateTime column as a Date: the SDK gives Date objects, rows written by hand may hold ISO text. */
export function asDate(value: unknown): Date | undefined {
  if (value instanceof Date) return value;
  if (typeof value === 'string') {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? undefined : date;
  }
  return undefined;
}
