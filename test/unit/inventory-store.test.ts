import type { TableClient } from '@azure/data-tables';
import { describe, expect, it } from 'vitest';
import { MAX_SERVICE_PAGES, TableInventoryStore } from '../../src/adapters/tables/inventory-store.js';

/**
 * A table whose every service page is empty but promises more, as Table Storage answers a
 * filtered scan that finds nothing in the rows it reached in time.
 */
function endlessEmptyTable() {
  const requests: Array<{ filter?: string; maxPageSize?: number; continuationToken?: string }> = [];
  const client = {
    createTable: async () => {},
    listEntities: (options: { queryOptions?: { filter?: string } }) => ({
      byPage: (settings: { maxPageSize?: number; continuationToken?: string }) => {
        requests.push({ filter: options.queryOptions?.filter, ...settings });
        const n = requests.length;
        const page = Object.assign([], { continuationToken: Buffer.from(JSON.stringify({ nextPartitionKey: `p${n}`, nextRowKey: `r${n}` })).toString('base64') });
        return (async function* () {
          yield page;
        })();
      },
    }),
  };
  return { client: client as unknown as TableClient, requests };
}

describe('TableInventoryStore.query against a sparse scan', () => {
  it('reads a bounded number of service pages, answers with a token, and resumes where the service stopped', async () => {
    const { client, requests } = endlessEmptyTable();
    const store = new TableInventoryStore(client);

    const first = await store.query({ decidedBy: 'elsewhere', pageSize: 10 });
    expect(first.entries).toEqual([]);
    expect(requests).toHaveLength(MAX_SERVICE_PAGES);
    expect(requests[0]).toEqual({ filter: "(decidedBy eq 'elsewhere')", maxPageSize: 10 });
    expect(first.continuationToken).toBeDefined();

    await store.query({ decidedBy: 'elsewhere', pageSize: 10, continuationToken: first.continuationToken! });
    const resumed = JSON.parse(Buffer.from(requests[MAX_SERVICE_PAGES]!.continuationToken!, 'base64').toString()) as unknown;
    expect(resumed).toEqual({ nextPartitionKey: `p${MAX_SERVICE_PAGES}`, nextRowKey: `r${MAX_SERVICE_PAGES}` });
    expect(requests).toHaveLength(2 * MAX_SERVICE_PAGES);
  });

  it('takes its bound from the options', async () => {
    const { client, requests } = endlessEmptyTable();
    const page = await new TableInventoryStore(client, { maxServicePages: 3 }).query({});
    expect(requests).toHaveLength(3);
    expect(requests[0]).toEqual({ filter: undefined, maxPageSize: 100 });
    expect(page.continuationToken).toBeDefined();
  });
});
