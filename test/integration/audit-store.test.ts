import { randomBytes } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TableAuditStore } from '../../src/adapters/tables/audit-store.js';
import type { AuditInput } from '../../src/app/ports.js';
import { AuditQueryError } from '../../src/domain/errors.js';
import { createTableClient } from '../../src/adapters/tables/table-clients.js';
import { startAzuriteTables, type AzuriteTables } from '../../src/dev/azurite.js';
import type { AuditEntry, AuditQuery } from '../../src/domain/audit.js';

const SUB_A = '11111111-1111-1111-1111-111111111111';
const SUB_B = '22222222-2222-2222-2222-222222222222';
const VAULT_1 = `/subscriptions/${SUB_A}/resourcegroups/rg-kv/providers/microsoft.keyvault/vaults/kv-one`;
const VAULT_2 = `/subscriptions/${SUB_A}/resourcegroups/rg-kv/providers/microsoft.keyvault/vaults/kv-two`;
const CONN_1 = `${VAULT_1}/privateendpointconnections/pe-one.1234`;
const CONN_2 = `${VAULT_1}/privateendpointconnections/pe-two.5678`;
const NOW = new Date('2025-03-31T12:00:00.000Z');

let azurite: AzuriteTables;

beforeAll(async () => {
  azurite = await startAzuriteTables();
});

afterAll(async () => {
  await azurite?.close();
});

/** A fresh table per test keeps tests independent while sharing one Azurite. */
function freshClient(): TableClient {
  const name = `audit${randomBytes(6).toString('hex')}`;
  return createTableClient({ kind: 'connectionString', connectionString: azurite.connectionString }, name);
}

function freshStore(): { store: TableAuditStore; client: TableClient } {
  const client = freshClient();
  return { store: new TableAuditStore(client, { now: () => NOW }), client };
}

function at(iso: string): Date {
  return new Date(iso);
}

function input(overrides: Partial<AuditInput> = {}): AuditInput {
  return {
    kind: 'decision',
    outcome: 'approve',
    actor: { type: 'rule', id: 'in-tenant' },
    summary: "Approved by rule 'in-tenant'",
    resourceId: VAULT_1,
    connectionId: CONN_1,
    requesterSubscriptionId: SUB_A,
    ...overrides,
  };
}

async function queryAll(store: TableAuditStore, q: AuditQuery): Promise<{ entries: AuditEntry[]; pages: number }> {
  const entries: AuditEntry[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await store.query({ ...q, continuationToken: token });
    entries.push(...page.entries);
    token = page.continuationToken;
    pages += 1;
  } while (token !== undefined && pages < 100);
  return { entries, pages };
}

/** Index rows only (the `meta` partition holds the month markers). */
async function indexRows(client: TableClient): Promise<{ partitionKey: string; rowKey: string }[]> {
  const rows: { partitionKey: string; rowKey: string }[] = [];
  for await (const e of client.listEntities()) {
    if (e.partitionKey !== 'meta') rows.push({ partitionKey: e.partitionKey ?? '', rowKey: e.rowKey ?? '' });
  }
  return rows;
}

function summaries(entries: readonly AuditEntry[]): string[] {
  return entries.map((e) => e.summary);
}

describe('TableAuditStore', () => {
  it("lists a vault's history newest first", async () => {
    // Prepare
    const { store } = freshStore();
    await store.append(input({ summary: 'first', time: at('2025-03-01T10:00:00Z') }));
    await store.append(input({ summary: 'third', time: at('2025-03-03T10:00:00Z') }));
    await store.append(input({ summary: 'second', time: at('2025-03-02T10:00:00Z') }));
    await store.append(input({ summary: 'other vault', resourceId: VAULT_2, time: at('2025-03-02T11:00:00Z') }));

    // Act
    const page = await store.query({ resourceId: VAULT_1 });

    // Assess
    expect(summaries(page.entries)).toEqual(['third', 'second', 'first']);
    expect(page.continuationToken).toBeUndefined();
  });

  it('finds a vault regardless of the case of the queried vault id', async () => {
    // Prepare
    const { store } = freshStore();
    await store.append(input({ summary: 'only', time: at('2025-03-01T10:00:00Z') }));

    // Act
    const page = await store.query({ resourceId: VAULT_1.toUpperCase() });

    // Assess
    expect(summaries(page.entries)).toEqual(['only']);
  });

  it('narrows a vault history to one connection', async () => {
    // Prepare
    const { store } = freshStore();
    await store.append(input({ summary: 'conn-1 a', connectionId: CONN_1, time: at('2025-03-01T10:00:00Z') }));
    await store.append(input({ summary: 'conn-2', connectionId: CONN_2, time: at('2025-03-02T10:00:00Z') }));
    await store.append(input({ summary: 'conn-1 b', connectionId: CONN_1, time: at('2025-03-03T10:00:00Z') }));

    // Act
    const page = await store.query({ resourceId: VAULT_1, connectionId: CONN_1 });

    // Assess
    expect(summaries(page.entries)).toEqual(['conn-1 b', 'conn-1 a']);
  });

  it('lists a time range across two months and all vaults, from inclusive and to exclusive', async () => {
    // Prepare
    const { store } = freshStore();
    await store.append(input({ summary: 'before range', time: at('2025-01-31T23:59:59.999Z') }));
    await store.append(input({ summary: 'at from', time: at('2025-02-01T00:00:00.000Z') }));
    await store.append(input({ summary: 'february', resourceId: VAULT_2, time: at('2025-02-20T08:00:00Z') }));
    await store.append(input({ summary: 'march', time: at('2025-03-05T08:00:00Z') }));
    await store.append(input({ summary: 'at to', time: at('2025-03-10T00:00:00.000Z') }));

    // Act
    const page = await store.query({ from: at('2025-02-01T00:00:00Z'), to: at('2025-03-10T00:00:00Z') });

    // Assess
    expect(summaries(page.entries)).toEqual(['march', 'february', 'at from']);
  });

  it('applies a time range to a vault history', async () => {
    // Prepare
    const { store } = freshStore();
    await store.append(input({ summary: 'old', time: at('2025-01-15T10:00:00Z') }));
    await store.append(input({ summary: 'in range', time: at('2025-02-15T10:00:00Z') }));
    await store.append(input({ summary: 'new', time: at('2025-03-15T10:00:00Z') }));

    // Act
    const page = await store.query({ resourceId: VAULT_1, from: at('2025-02-01T00:00:00Z'), to: at('2025-03-01T00:00:00Z') });

    // Assess
    expect(summaries(page.entries)).toEqual(['in range']);
  });

  it('walks back to the earliest month when no range is given, skipping empty months', async () => {
    // Prepare
    const { store } = freshStore();
    await store.append(input({ summary: 'march', time: at('2025-03-05T08:00:00Z') }));
    await store.append(input({ summary: 'last year', time: at('2024-06-05T08:00:00Z') }));
    await store.append(input({ summary: 'january', time: at('2025-01-05T08:00:00Z') }));

    // Act
    const page = await store.query({});

    // Assess
    expect(summaries(page.entries)).toEqual(['march', 'january', 'last year']);
  });

  it('filters by requester subscription, ignoring case', async () => {
    // Prepare
    const { store } = freshStore();
    await store.append(input({ summary: 'sub a', requesterSubscriptionId: SUB_A, time: at('2025-03-01T10:00:00Z') }));
    await store.append(input({ summary: 'sub b', requesterSubscriptionId: SUB_B.toUpperCase(), time: at('2025-03-02T10:00:00Z') }));

    // Act
    const page = await store.query({ requesterSubscriptionId: SUB_B });

    // Assess
    expect(summaries(page.entries)).toEqual(['sub b']);
  });

  it('filters by actor id case-insensitively', async () => {
    // Prepare
    const { store } = freshStore();
    await store.append(input({ summary: 'by alice', actor: { type: 'user', id: 'AbC-Object-Id', name: 'Alice' }, time: at('2025-03-01T10:00:00Z') }));
    await store.append(input({ summary: 'by rule', actor: { type: 'rule', id: 'in-tenant' }, time: at('2025-03-02T10:00:00Z') }));

    // Act
    const page = await store.query({ resourceId: VAULT_1, actor: 'abc-object-ID' });

    // Assess
    expect(summaries(page.entries)).toEqual(['by alice']);
    expect(page.entries[0]?.actor).toEqual({ type: 'user', id: 'AbC-Object-Id', name: 'Alice' });
  });

  it('filters by outcome', async () => {
    // Prepare
    const { store } = freshStore();
    await store.append(input({ summary: 'approved', outcome: 'approved', kind: 'result', time: at('2025-03-01T10:00:00Z') }));
    await store.append(input({ summary: 'failed', outcome: 'failed', kind: 'error', time: at('2025-03-02T10:00:00Z') }));
    await store.append(input({ summary: 'approve', outcome: 'approve', time: at('2025-03-03T10:00:00Z') }));

    // Act
    const page = await store.query({ outcome: 'failed' });

    // Assess
    expect(summaries(page.entries)).toEqual(['failed']);
  });

  it('pages through a vault history with tokens, without duplicates or gaps', async () => {
    // Prepare
    const { store } = freshStore();
    const base = at('2025-03-01T00:00:00Z').getTime();
    const written: string[] = [];
    for (let i = 0; i < 23; i++) {
      written.push((await store.append(input({ summary: `e${i}`, time: new Date(base + i * 60_000) }))).id);
    }

    // Act
    const { entries, pages } = await queryAll(store, { resourceId: VAULT_1, pageSize: 5 });

    // Assess
    expect(pages).toBe(5);
    expect(entries.map((e) => e.id)).toEqual([...written].reverse());
  });

  it('pages through a time listing across month partitions, without duplicates or gaps', async () => {
    // Prepare
    const { store } = freshStore();
    const times = [
      '2024-12-30T10:00:00Z',
      '2024-12-31T10:00:00Z',
      '2025-01-10T10:00:00Z',
      '2025-02-01T00:00:00Z',
      '2025-02-14T10:00:00Z',
      '2025-02-28T23:59:59.999Z',
      '2025-03-01T00:00:00Z',
    ];
    for (const [i, t] of times.entries()) {
      await store.append(input({ summary: `e${i}`, resourceId: i % 2 === 0 ? VAULT_1 : VAULT_2, time: at(t) }));
    }

    // Act
    const { entries, pages } = await queryAll(store, { pageSize: 2 });

    // Assess
    expect(pages).toBe(4);
    expect(summaries(entries)).toEqual(['e6', 'e5', 'e4', 'e3', 'e2', 'e1', 'e0']);
  });

  it('gives no token on a last page that is exactly full', async () => {
    // Prepare
    const { store } = freshStore();
    await store.append(input({ summary: 'a', time: at('2025-03-01T10:00:00Z') }));
    await store.append(input({ summary: 'b', time: at('2025-03-02T10:00:00Z') }));

    // Act
    const page = await store.query({ resourceId: VAULT_1, pageSize: 2 });

    // Assess
    expect(page.entries).toHaveLength(2);
    expect(page.continuationToken).toBeUndefined();
  });

  it('rejects a continuation token that is not one of its own', async () => {
    // Prepare
    const { store } = freshStore();

    // Act
    const attempt = store.query({ resourceId: VAULT_1, continuationToken: 'not-a-token!' });

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(AuditQueryError);
  });

  it('rejects a continuation token presented with different filters', async () => {
    // Prepare
    const { store } = freshStore();
    await store.append(input({ summary: 'a', time: at('2025-03-01T10:00:00Z') }));
    await store.append(input({ summary: 'b', time: at('2025-03-02T10:00:00Z') }));
    const first = await store.query({ resourceId: VAULT_1, pageSize: 1 });

    // Act
    const attempt = store.query({ resourceId: VAULT_1, outcome: 'reject', pageSize: 1, continuationToken: first.continuationToken });

    // Assess
    expect(first.continuationToken).toBeDefined();
    await expect(attempt).rejects.toMatchObject({ name: 'AuditQueryError', code: 'token-mismatch' });
  });

  it.each([0, 1001, 2.5, Number.NaN])('rejects page size %s', async (pageSize) => {
    // Prepare
    const { store } = freshStore();

    // Act
    const attempt = store.query({ pageSize });

    // Assess
    await expect(attempt).rejects.toMatchObject({ name: 'AuditQueryError', code: 'invalid-page-size' });
  });

  it('treats a retried append with the same id and time as success, keeping one row per index', async () => {
    // Prepare
    const { store, client } = freshStore();
    const entry = input({ id: 'retry-1', time: at('2025-03-01T10:00:00Z') });
    await store.append(entry);

    // Act
    const again = await store.append(entry);

    // Assess
    expect(again.id).toBe('retry-1');
    expect(await indexRows(client)).toHaveLength(2);
    expect((await store.query({ resourceId: VAULT_1 })).entries).toHaveLength(1);
    expect((await store.query({})).entries).toHaveLength(1);
  });

  it('heals a partial write when the retry repeats only a generated id', async () => {
    // Prepare
    const { store, client } = freshStore();
    const written = await store.append(input({ time: at('2025-03-01T10:00:00Z') }));
    const vaultRow = (await indexRows(client)).find((r) => r.partitionKey.startsWith('v|'));
    await client.deleteEntity(vaultRow?.partitionKey ?? '', vaultRow?.rowKey ?? '');

    // Act
    await store.append(input({ id: written.id }));

    // Assess
    expect(await indexRows(client)).toHaveLength(2);
    expect((await store.query({ resourceId: VAULT_1 })).entries.map((e) => e.time)).toEqual([written.time]);
  });

  it('lists an entry without a vault in the time listing only', async () => {
    // Prepare
    const { store, client } = freshStore();
    await store.append(
      input({ kind: 'hint', outcome: 'invalid', resourceId: undefined, connectionId: undefined, summary: 'garbled', time: at('2025-03-01T10:00:00Z') }),
    );

    // Act
    const page = await store.query({ from: at('2025-03-01T00:00:00Z') });

    // Assess
    expect(summaries(page.entries)).toEqual(['garbled']);
    expect(page.entries[0]?.resourceId).toBeUndefined();
    expect((await indexRows(client)).map((r) => r.partitionKey)).toEqual(['t|2025-03']);
  });

  it('stores an oversized detail truncated and marked', async () => {
    // Prepare
    const { store } = freshStore();
    const huge = { payload: 'x"\\'.repeat(40_000) };

    // Act
    await store.append(input({ detail: huge, time: at('2025-03-01T10:00:00Z') }));
    const stored = (await store.query({ resourceId: VAULT_1 })).entries[0];

    // Assess
    const detail = stored?.detail as { truncated: boolean; originalLength: number; excerpt: string };
    expect(detail.truncated).toBe(true);
    expect(detail.originalLength).toBe(JSON.stringify(huge).length);
    expect(detail.excerpt.startsWith('{"payload":"x')).toBe(true);
    expect(JSON.stringify(detail).length).toBeLessThanOrEqual(30_000);
  });

  it('stores a detail too deep for JSON.stringify as a bounded excerpt', async () => {
    // Prepare: 100,000 nested arrays overflow JSON.stringify's recursion.
    const { store } = freshStore();
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i += 1) deep = [deep];

    // Act
    await store.append(input({ detail: { event: deep }, time: at('2025-03-01T10:00:00Z') }));
    const stored = (await store.query({ resourceId: VAULT_1 })).entries[0];

    // Assess
    const detail = stored?.detail as { unserialisable: boolean; excerpt: string };
    expect(detail.unserialisable).toBe(true);
    expect(detail.excerpt).toContain('nested deeper than');
    expect(detail.excerpt.length).toBeLessThanOrEqual(4_000);
  });

  it('reads back every field as written', async () => {
    // Prepare
    const { store } = freshStore();
    const written = await store.append({
      kind: 'action',
      outcome: 'approved',
      actor: { type: 'user', id: 'object-id', name: 'Alice' },
      summary: 'Approved by Alice',
      resourceId: VAULT_1,
      connectionId: CONN_1,
      privateEndpointId: `/subscriptions/${SUB_B}/resourcegroups/rg-pe/providers/microsoft.network/privateendpoints/pe-one`,
      requesterSubscriptionId: SUB_B,
      requesterTenantId: 'not-visible',
      requestMessage: 'please approve',
      ruleName: 'manual',
      correlationId: 'event-123',
      detail: { reason: 'ticket 42', nested: [1, true, null] },
    });

    // Act
    const [read] = (await store.query({ resourceId: VAULT_1 })).entries;

    // Assess
    expect(read).toEqual(written);
    expect(read?.time).toEqual(NOW);
  });

  it('returns an empty page for an empty table', async () => {
    // Prepare
    const { store } = freshStore();

    // Act
    const page = await store.query({});

    // Assess
    expect(page).toEqual({ entries: [] });
  });
});
