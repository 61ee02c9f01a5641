/**
 * An in-process, in-memory Azurite Table service for local runs and integration tests.
 *
 * Only Azurite's Table server is started (never its CLI): it has no telemetry, writes no
 * files with memory persistence, and listens on 127.0.0.1 only. Azurite is a devDependency,
 * so it is loaded lazily inside `startAzuriteTables` and never on a production code path.
 */
import type { Server as HttpServer } from 'node:http';

export const AZURITE_ACCOUNT_NAME = 'devstoreaccount1';
/** Azurite's documented, public development-storage key (not a secret). */
export const AZURITE_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface AzuriteTables {
  /** Path-style table endpoint, e.g. `http://127.0.0.1:PORT/devstoreaccount1`. */
  readonly url: string;
  readonly connectionString: string;
  readonly accountName: typeof AZURITE_ACCOUNT_NAME;
  readonly accountKey: string;
  /** Stops the server and waits until its port is released. Safe to call more than once. */
  close(): Promise<void>;
}

export interface StartAzuriteTablesOptions {
  /** 0 (default) lets the OS pick a free port. */
  readonly port?: number;
}

/** The parts of Azurite's (untyped) Table server that this module relies on. */
interface AzuriteTableServer {
  start(): Promise<void>;
  close(): Promise<void>;
  getStatus(): string;
  readonly httpServer: HttpServer;
}
type TableServerCtor = new (config: unknown) => AzuriteTableServer;
type TableConfigurationCtor = new (
  host?: string,
  port?: number,
  keepAliveTimeout?: number,
  metadataDBPath?: string,
  enableDebugLog?: boolean,
  enableAccessLog?: boolean,
  accessLogWriteStream?: NodeJS.WritableStream,
  debugLogFilePath?: string,
  loose?: boolean,
  skipApiVersionCheck?: boolean,
  cert?: string,
  key?: string,
  pwd?: string,
  oauth?: string,
  disableProductStyleUrl?: boolean,
  isMemoryPersistence?: boolean,
) => unknown;

const HOST = '127.0.0.1';
/** After this long, connections still open (keep-alive sockets of clients) are cut so close() finishes. */
const CLOSE_GRACE_MS = 1_000;

/**
 * Azurite's modules are CommonJS with `exports.default`. Loaded through `import()` the class sits at
 * `namespace.default.default`; other loaders may already unwrap one level.
 */
function pickDefault<T>(mod: unknown): T {
  const outer = (mod as { default?: unknown }).default ?? mod;
  const inner = (outer as { default?: unknown }).default ?? outer;
  if (typeof inner !== 'function') throw new Error('Unexpected shape of the azurite module');
  return inner as T;
}

async function loadAzurite(): Promise<{ TableServer: TableServerCtor; TableConfiguration: TableConfigurationCtor }> {
  // Non-literal specifiers keep the compiler from looking for type declarations azurite does not ship.
  const serverSpec = 'azurite/dist/src/table/TableServer.js';
  const configSpec = 'azurite/dist/src/table/TableConfiguration.js';
  const [serverMod, configMod] = await Promise.all([
    import(serverSpec) as Promise<unknown>,
    import(configSpec) as Promise<unknown>,
  ]);
  return {
    TableServer: pickDefault<TableServerCtor>(serverMod),
    TableConfiguration: pickDefault<TableConfigurationCtor>(configMod),
  };
}

export async function startAzuriteTables(opts: StartAzuriteTablesOptions = {}): Promise<AzuriteTables> {
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new RangeError(`Invalid port ${String(port)}`);
  }
  const { TableServer, TableConfiguration } = await loadAzurite();

  const config = new TableConfiguration(
    HOST,
    port, // Azurite passes the port straight to listen(), so 0 yields an OS-assigned free port.
    undefined, // keepAliveTimeout: Azurite's default
    'linkgate-azurite-memory', // metadataDBPath: only a name, memory persistence never touches disk
    false, // enableDebugLog
    false, // enableAccessLog
    undefined, // accessLogWriteStream
    undefined, // debugLogFilePath
    false, // loose: keep Azurite strict so it rejects what Azure would reject
    false, // skipApiVersionCheck
    '', // cert: plain http, loopback only
    '', // key
    '', // pwd
    undefined, // oauth: shared key only
    true, // disableProductStyleUrl: we always use path-style URLs (/devstoreaccount1)
    true, // isMemoryPersistence
  );
  const server = new TableServer(config);
  await server.start();

  const address = server.httpServer.address();
  if (address === null || typeof address === 'string') {
    await server.close().catch(() => undefined);
    throw new Error('Azurite Table server did not report a TCP address');
  }
  const url = `http://${HOST}:${address.port}/${AZURITE_ACCOUNT_NAME}`;
  const connectionString =
    `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT_NAME};` +
    `AccountKey=${AZURITE_ACCOUNT_KEY};TableEndpoint=${url};`;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= closeServer(server);
    return closing;
  };

  return { url, connectionString, accountName: AZURITE_ACCOUNT_NAME, accountKey: AZURITE_ACCOUNT_KEY, close };
}

/**
 * Azurite's own close() starts stopping the http server but does not wait for it, and idle
 * keep-alive sockets of clients can hold the port open. We therefore wait for the http server's
 * 'close' event and cut any connection still open after a short grace period.
 */
async function closeServer(server: AzuriteTableServer): Promise<void> {
  const http = server.httpServer;
  const released = new Promise<void>((resolve) => {
    if (!http.listening) resolve();
    else http.once('close', () => resolve());
  });
  const grace = setTimeout(() => http.closeAllConnections(), CLOSE_GRACE_MS);
  grace.unref();
  try {
    if (server.getStatus() === 'Running') await server.close();
    else if (http.listening) http.close();
    await released;
  } finally {
    clearTimeout(grace);
  }
}
