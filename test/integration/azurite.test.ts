import { createConnection } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createTableClient } from '../../src/adapters/tables/table-clients.js';
import { startAzuriteTables } from '../../src/dev/azurite.js';

/** Resolves true when something accepts TCP connections on the port. */
function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

describe('startAzuriteTables', () => {
  it('serves a table that a real TableClient can write to and read from', async () => {
    // Prepare
    const azurite = await startAzuriteTables();
    try {
      const client = createTableClient({ kind: 'connectionString', connectionString: azurite.connectionString }, 'smoke');
      await client.createTable();

      // Act
      await client.createEntity({ partitionKey: 'p', rowKey: 'r', greeting: 'hello', count: 3, big: 2n ** 40n });
      const read = await client.getEntity<{ greeting: string; count: number; big: bigint }>('p', 'r');

      // Assess
      expect(read.greeting).toBe('hello');
      expect(read.count).toBe(3);
      expect(read.big).toBe(2n ** 40n);
    } finally {
      await azurite.close();
    }
  });

  it('reports a loopback URL and account for the devstoreaccount1 account', async () => {
    // Prepare / Act
    const azurite = await startAzuriteTables();
    try {
      // Assess
      expect(azurite.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1$/);
      expect(azurite.accountName).toBe('devstoreaccount1');
      expect(azurite.connectionString).toContain(`TableEndpoint=${azurite.url};`);
    } finally {
      await azurite.close();
    }
  });

  it('accepts shared-key clients built from the reported endpoint and key', async () => {
    // Prepare
    const azurite = await startAzuriteTables();
    try {
      const client = createTableClient(
        { kind: 'sharedKey', endpoint: azurite.url, accountName: azurite.accountName, accountKey: azurite.accountKey },
        'sharedkey',
      );

      // Act
      await client.createTable();
      await client.createEntity({ partitionKey: 'p', rowKey: 'r', value: 'x' });

      // Assess
      expect((await client.getEntity<{ value: string }>('p', 'r')).value).toBe('x');
    } finally {
      await azurite.close();
    }
  });

  it('runs two instances side by side on different random ports', async () => {
    // Prepare
    const [a, b] = await Promise.all([startAzuriteTables(), startAzuriteTables()]);
    try {
      const clientA = createTableClient({ kind: 'connectionString', connectionString: a.connectionString }, 'twin');
      const clientB = createTableClient({ kind: 'connectionString', connectionString: b.connectionString }, 'twin');
      await Promise.all([clientA.createTable(), clientB.createTable()]);

      // Act
      await clientA.createEntity({ partitionKey: 'p', rowKey: 'only-in-a' });
      const inB: string[] = [];
      for await (const e of clientB.listEntities()) inB.push(e.rowKey ?? '');

      // Assess
      expect(portOf(a.url)).not.toBe(portOf(b.url));
      expect(inB).toEqual([]);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('releases its port on close, even with client connections kept alive, and tolerates a second close', async () => {
    // Prepare
    const azurite = await startAzuriteTables();
    const client = createTableClient({ kind: 'connectionString', connectionString: azurite.connectionString }, 'closing');
    await client.createTable();
    const port = portOf(azurite.url);

    // Act
    await azurite.close();
    await azurite.close();

    // Assess
    expect(await isListening(port)).toBe(false);
  });
});
