import { randomBytes } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { partitionKeyOf, rowKeyOf, TableInventoryStore } from '../../src/adapters/tables/inventory-store.js';
import { createTableClient } from '../../src/adapters/tables/table-clients.js';
import { startAzuriteTables, type AzuriteTables } from '../../src/dev/azurite.js';
import { AuditQueryError } from '../../src/domain/errors.js';
import type { InventoryEntry, InventoryQuery } from '../../src/domain/inventory.js';
import { findResourceType } from '../../src/domain/resource-types.js';

const SUB_A = '11111111-1111-4111-8111-111111111111';
const SUB_B = '22222222-2222-4222-8222-222222222222';
const TENANT_A = 'aaaaaaaa-0000-4000-8000-00000000000a';
const TENANT_B = 'bbbbbbbb-0000-4000-8000-00000000000b';
const T0 = new Date('2026-01-05T10:00:00.000Z');

let azurite: AzuriteTables;

beforeAll(async () => {
  azurite = await startAzuriteTables();
});

afterAll(async () => {
  await azurite?.close();
});

function freshClient(): TableClient {
  return createTableClient({ kind: 'connectionString', connectionString: azurite.connectionString }, `inv${randomBytes(6).toString('hex')}`);
}

function vault(name: string, sub = SUB_A): string {
  return `/subscriptions/${sub}/resourceGroups/rg-kv/providers/Microsoft.KeyVault/vaults/${name}`;
}

function storage(name: string, sub = SUB_A): string {
  return `/subscriptions/${sub}/resourceGroups/rg-st/providers/Microsoft.Storage/storageAccounts/${name}`;
}

function entry(resourceId: string, name: string, overrides: Partial<InventoryEntry> = {}): InventoryEntry {
  return {
    connectionId: `${resourceId}/privateEndpointConnections/${name}`,
    resourceId,
    resourceType: resourceId.includes('Microsoft.Storage') ? 'storage' : 'keyvault',
    status: 'Pending',
    firstSeenAt: T0,
    firstSeenStatus: 'Pending',
    firstSeenVia: 'sweep',
    statusChangedAt: T0,
    decidedBy: 'none',
    ...overrides,
  };
}

async function queryAll(store: TableInventoryStore, q: InventoryQuery): Promise<{ entries: InventoryEntry[]; pages: number }> {
  const entries: InventoryEntry[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await store.query({ ...q, ...(token ? { continuationToken: token } : {}) });
    expect(page.entries.length).toBeLessThanOrEqual(q.pageSize ?? 100);
    entries.push(...page.entries);
    token = page.continuationToken;
    pages += 1;
  } while (token !== undefined && pages < 500);
  return { entries, pages };
}

function ids(entries: readonly InventoryEntry[]): string[] {
  return entries.map((e) => e.connectionId.toLowerCase()).sort();
}

describe('TableInventoryStore', () => {
  it('writes and reads back every field, keyed by lower-case resource ID and connection name', async () => {
    const client = freshClient();
    const store = new TableInventoryStore(client);
    const full = entry(vault('KV-Payments'), 'PE-One.1234', {
      status: 'Approved',
      privateEndpointId: `/subscriptions/${SUB_B}/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/PE-One`,
      requesterSubscriptionId: SUB_B,
      requesterTenantId: TENANT_B,
      firstSeenAt: new Date('2026-01-01T00:00:00.123Z'),
      firstSeenStatus: 'Pending',
      firstSeenVia: 'event',
      createdBy: 'c0ffee00-0000-4000-8000-000000000001',
      statusChangedAt: new Date('2026-01-02T03:04:05.678Z'),
      statusChangedBy: 'c0ffee00-0000-4000-8000-000000000002',
      decidedBy: 'elsewhere',
      decider: 'user:c0ffee00-0000-4000-8000-000000000002',
      outOfBand: 'ignored',
      outOfBandRule: 'portal-approvals-ok',
    });
    const bare = entry(vault('KV-Payments'), 'pe-two');
    await store.write([full, bare]);

    const listed = await store.listResource(vault('kv-payments').toLowerCase());
    expect(listed).toHaveLength(2);
    expect(listed.find((e) => e.connectionId === full.connectionId)).toEqual(full);
    expect(listed.find((e) => e.connectionId === bare.connectionId)).toEqual(bare);
    for (const e of listed) {
      expect(e.firstSeenAt).toBeInstanceOf(Date);
      expect(e.statusChangedAt).toBeInstanceOf(Date);
    }

    const row = await client.getEntity<Record<string, unknown>>(partitionKeyOf(full.resourceId), rowKeyOf(full.connectionId));
    expect(row.partitionKey).toBe(encodeURIComponent(full.resourceId.toLowerCase()));
    expect(row.rowKey).toBe('pe-one.1234');
    expect(row).toMatchObject({ statusKey: 'approved', resourceTypeKey: 'keyvault', requesterTenantKey: TENANT_B, requesterSubscriptionKey: SUB_B });

    // A second write replaces the whole row: columns the new entry lacks are gone.
    const moved = entry(full.resourceId, 'PE-One.1234', { status: 'Disconnected', decidedBy: 'none' });
    await store.write([moved]);
    expect((await store.listResource(full.resourceId.toLowerCase())).find((e) => e.connectionId === moved.connectionId)).toEqual(moved);
    expect(await store.listResource(vault('kv-none').toLowerCase())).toEqual([]);
  });

  it('writes more than 100 entries of one resource in several transactions, and entries of many resources', async () => {
    const client = freshClient();
    const store = new TableInventoryStore(client);
    const submit = vi.spyOn(client, 'submitTransaction');
    const big = Array.from({ length: 250 }, (_, i) => entry(vault('kv-big'), `pe-${String(i).padStart(3, '0')}`));
    const spread = Array.from({ length: 30 }, (_, i) => entry(storage(`st${i}`), 'pe-a'));
    await store.write([...big, ...spread]);

    expect(await store.listResource(vault('kv-big').toLowerCase())).toHaveLength(250);
    for (const call of submit.mock.calls) {
      const actions = call[0];
      expect(actions.length).toBeLessThanOrEqual(100);
      expect(new Set(actions.map((a) => a[1].partitionKey)).size).toBe(1);
    }
    // 250 in one partition: three transactions; 30 partitions of one entry each.
    expect(submit.mock.calls.length).toBe(33);
    expect((await store.index()).size).toBe(280);

    // The same connection twice in one call: the later entry wins and nothing fails.
    const twice = entry(vault('kv-big'), 'pe-000', { status: 'Approved', decidedBy: 'linkgate', decider: 'rule:in-tenant' });
    await store.write([entry(vault('kv-big'), 'PE-000', { status: 'Rejected' }), twice]);
    expect((await store.listResource(vault('kv-big').toLowerCase())).find((e) => e.connectionId.endsWith('pe-000'))).toEqual(twice);
  });

  it('refuses an entry it cannot key, and writes nothing of that call', async () => {
    const store = new TableInventoryStore(freshClient());
    const good = entry(vault('kv-ok'), 'pe-ok');
    const bad = entry(vault('kv-ok'), 'x'.repeat(600));
    await expect(store.write([good, bad])).rejects.toThrow(/cannot be keyed/);
    expect(await store.listResource(vault('kv-ok').toLowerCase())).toEqual([]);
  });

  it('indexes a few thousand entries in one scan: status, endpoint key and who decided, by lower-case connection ID', async () => {
    const store = new TableInventoryStore(freshClient());
    const entries = Array.from({ length: 3_000 }, (_, i) =>
      entry(vault(`kv-${Math.floor(i / 40)}`), `PE-${i}`, {
        status: i % 3 === 0 ? 'Approved' : 'Pending',
        decidedBy: i % 3 === 0 ? 'linkgate' : 'none',
        ...(i % 2 === 0 ? { privateEndpointId: `/subscriptions/${SUB_B}/resourceGroups/RG/providers/Microsoft.Network/privateEndpoints/PE-${i}` } : {}),
      }),
    );
    await store.write(entries);
    const index = await store.index();
    expect(index.size).toBe(3_000);
    const key = `${vault('kv-3')}/privateEndpointConnections/PE-120`.toLowerCase();
    expect(index.get(key)).toMatchObject({ status: 'Approved', endpointKey: `/subscriptions/${SUB_B}/resourcegroups/rg/providers/microsoft.network/privateendpoints/pe-120`, decidedBy: 'linkgate' });
    expect(index.get(`${vault('kv-0')}/privateEndpointConnections/PE-1`.toLowerCase())).toMatchObject({ status: 'Pending', decidedBy: 'none', firstSeenStatus: expect.any(String), firstSeenAt: expect.any(Date) });
  });

  describe('query', () => {
    const client = () => freshClient();
    let store: TableInventoryStore;
    const all: InventoryEntry[] = [];

    beforeAll(async () => {
      store = new TableInventoryStore(client());
      all.push(
        entry(vault('kv-one'), 'pe-pending', { requesterSubscriptionId: SUB_B, requesterTenantId: TENANT_B }),
        entry(vault('kv-one'), 'pe-approved', { status: 'Approved', decidedBy: 'linkgate', decider: 'rule:in-tenant', requesterSubscriptionId: SUB_A, requesterTenantId: TENANT_A }),
        entry(vault('kv-one'), 'pe-portal', { status: 'Approved', decidedBy: 'elsewhere', outOfBand: 'flagged', requesterSubscriptionId: SUB_B.toUpperCase(), requesterTenantId: 'not-visible' }),
        entry(vault('kv-two'), 'pe-portal-ok', { status: 'approved', decidedBy: 'elsewhere', outOfBand: 'ignored', outOfBandRule: 'ok', requesterTenantId: 'unknown' }),
        entry(storage('stdata'), 'pe-rejected', { status: 'Rejected', firstSeenStatus: 'Rejected', requesterTenantId: TENANT_B.toUpperCase() }),
        entry(storage('stdata'), 'pe-odd', { status: 'Weird', requesterSubscriptionId: SUB_A }),
      );
      await store.write(all);
    });

    const cases: Array<[string, InventoryQuery, string[]]> = [
      ['no filter', {}, ['pe-pending', 'pe-approved', 'pe-portal', 'pe-portal-ok', 'pe-rejected', 'pe-odd']],
      ['resource', { resourceKey: vault('kv-one').toLowerCase() }, ['pe-pending', 'pe-approved', 'pe-portal']],
      ['status, any casing', { status: 'APPROVED' }, ['pe-approved', 'pe-portal', 'pe-portal-ok']],
      ['status outside the four', { status: 'weird' }, ['pe-odd']],
      ['type', { type: findResourceType('storage')! }, ['pe-rejected', 'pe-odd']],
      ['requester tenant, any casing', { requesterTenantId: TENANT_B }, ['pe-pending', 'pe-rejected']],
      ['requester tenant not visible', { requesterTenantId: 'not-visible' }, ['pe-portal']],
      ['requester tenant unknown', { requesterTenantId: 'unknown' }, ['pe-portal-ok']],
      ['requester subscription, any casing', { requesterSubscriptionId: SUB_B }, ['pe-pending', 'pe-portal']],
      ['decided by linkgate', { decidedBy: 'linkgate' }, ['pe-approved']],
      ['decided elsewhere', { decidedBy: 'elsewhere' }, ['pe-portal', 'pe-portal-ok']],
      ['decided by nobody', { decidedBy: 'none' }, ['pe-pending', 'pe-rejected', 'pe-odd']],
      ['out of band flagged', { outOfBand: 'flagged' }, ['pe-portal']],
      ['out of band ignored', { outOfBand: 'ignored' }, ['pe-portal-ok']],
      ['several filters at once', { resourceKey: vault('kv-one').toLowerCase(), status: 'approved', decidedBy: 'elsewhere' }, ['pe-portal']],
      ['a resource with nothing', { resourceKey: vault('kv-nothing').toLowerCase() }, []],
    ];
    it.each(cases)('filters by %s', async (_what, q, names) => {
      const { entries } = await queryAll(store, { ...q, pageSize: 2 });
      expect(entries.map((e) => e.connectionId.split('/').pop()).sort()).toEqual([...names].sort());
      for (const e of entries) expect(e).toEqual(all.find((a) => a.connectionId === e.connectionId));
    });

    it('refuses a page size outside 1-1000', async () => {
      for (const pageSize of [0, 1001, 2.5]) await expect(store.query({ pageSize })).rejects.toMatchObject({ code: 'invalid-page-size' });
    });
  });

  it('pages through a table with no duplicates and no gaps, in key order', async () => {
    const store = new TableInventoryStore(freshClient());
    const entries = Array.from({ length: 437 }, (_, i) => entry(vault(`kv-${i % 7}`), `pe-${i}`));
    await store.write(entries);
    const { entries: read, pages } = await queryAll(store, { pageSize: 50 });
    expect(read).toHaveLength(437);
    expect(new Set(ids(read)).size).toBe(437);
    expect(ids(read)).toEqual(ids(entries));
    expect(pages).toBeGreaterThanOrEqual(9);
    const keys = read.map((e) => `${partitionKeyOf(e.resourceId)}\u0000${rowKeyOf(e.connectionId)}`);
    expect(keys).toEqual([...keys].sort());

    const first = await store.query({ pageSize: 1000 });
    expect(first.entries).toHaveLength(437);
    expect(first.continuationToken).toBeUndefined();
  });

  it('pages through sparse matches of a filter without duplicates or gaps', async () => {
    const store = new TableInventoryStore(freshClient());
    // One approval in every 37 rows, spread over many partitions.
    const entries = Array.from({ length: 1_200 }, (_, i) => entry(vault(`kv-${i % 23}`), `pe-${i}`, i % 37 === 0 ? { status: 'Approved', decidedBy: 'elsewhere', outOfBand: 'flagged' } : {}));
    await store.write(entries);
    const expected = ids(entries.filter((e) => e.outOfBand === 'flagged'));
    const { entries: read } = await queryAll(store, { outOfBand: 'flagged', status: 'approved', pageSize: 4 });
    expect(ids(read)).toEqual(expected);
    expect(new Set(ids(read)).size).toBe(expected.length);
  });

  it('refuses a continuation token it did not issue, or one issued for other filters', async () => {
    const store = new TableInventoryStore(freshClient());
    await store.write(Array.from({ length: 5 }, (_, i) => entry(vault('kv-t'), `pe-${i}`)));
    const page = await store.query({ pageSize: 2 });
    expect(page.continuationToken).toBeDefined();

    const sdkStyle = Buffer.from(JSON.stringify({ nextPartitionKey: 'a', nextRowKey: 'b' })).toString('base64');
    const noMarker = Buffer.from(JSON.stringify({ v: 1, f: 'x', nextPartitionKey: 'a' })).toString('base64url');
    for (const token of ['garbage', 'not base64!', sdkStyle, noMarker]) {
      const error = await store.query({ pageSize: 2, continuationToken: token }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuditQueryError);
      expect((error as AuditQueryError).code).toBe('invalid-token');
      expect((error as Error).message).toMatch(/not one Linkgate issued/);
    }
    const other = await store.query({ pageSize: 2, status: 'pending', continuationToken: page.continuationToken! }).catch((e: unknown) => e);
    expect(other).toBeInstanceOf(AuditQueryError);
    expect((other as AuditQueryError).code).toBe('token-mismatch');
  });
});
