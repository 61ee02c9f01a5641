import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { LocalStack } from '../../src/dev/local-stack.js';
import type { InventoryEntry } from '../../src/domain/inventory.js';
import { auth, getJson, postJson, startTestStack } from './helpers.js';

/**
 * GET /api/connections through the local stack's dev host with real tokens from its Entra
 * emulator, over entries written straight into the inventory; and `linkgate connections`.
 * The entries live in subscriptions of their own, so whatever else the stack records does not
 * change what these filters find.
 */
let stack: LocalStack;
let stateDir: string;

const SUB = 'e2e00000-0000-4000-8000-000000000001';
const REQUESTER_SUB = 'e2e00000-0000-4000-8000-000000000002';
const REQUESTER_TENANT = 'e2e0000a-0000-4000-8000-00000000000a';
const VAULT = `/subscriptions/${SUB}/resourceGroups/rg-inv/providers/Microsoft.KeyVault/vaults/kv-inventory`;
const STORAGE = `/subscriptions/${SUB}/resourceGroups/rg-inv/providers/Microsoft.Storage/storageAccounts/stinventory`;
const SEEN = new Date('2026-02-01T08:30:00.000Z');

function entry(resourceId: string, name: string, overrides: Partial<InventoryEntry> = {}): InventoryEntry {
  return {
    connectionId: `${resourceId}/privateEndpointConnections/${name}`,
    resourceId,
    resourceType: resourceId.includes('Microsoft.Storage') ? 'storage' : 'keyvault',
    status: 'Pending',
    requesterSubscriptionId: REQUESTER_SUB,
    requesterTenantId: REQUESTER_TENANT,
    firstSeenAt: SEEN,
    firstSeenStatus: 'Pending',
    firstSeenVia: 'sweep',
    statusChangedAt: SEEN,
    decidedBy: 'none',
    ...overrides,
  };
}

const pending = Array.from({ length: 12 }, (_, i) => entry(VAULT, `pe-pending-${String(i).padStart(2, '0')}`));
const approved = entry(VAULT, 'pe-approved', { status: 'Approved', decidedBy: 'linkgate', decider: 'rule:in-tenant', statusChangedAt: new Date('2026-02-01T08:31:00.000Z') });
const portal = entry(STORAGE, 'pe-portal', { status: 'Approved', decidedBy: 'elsewhere', outOfBand: 'flagged', requesterTenantId: 'not-visible' });
const rejected = entry(STORAGE, 'pe-rejected', { status: 'Rejected', firstSeenStatus: 'Rejected', firstSeenVia: 'event' });

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'linkgate-connections-'));
  stack = await startTestStack({ stateDir });
  await stack.services.inventory.write([...pending, approved, portal, rejected]);
});
afterAll(async () => {
  await stack?.close();
});

async function list(query: Record<string, string>, person = 'bob@contoso.example'): Promise<{ status: number; body: any }> {
  return getJson(`${stack.functionsUrl}/api/connections?${new URLSearchParams(query)}`, await auth(stack, person));
}

async function listAll(query: Record<string, string>): Promise<{ entries: any[]; pages: number }> {
  const entries: any[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await list({ ...query, ...(token ? { continuationToken: token } : {}) });
    expect(page.status).toBe(200);
    entries.push(...page.body.entries);
    token = page.body.continuationToken;
    pages += 1;
  } while (token && pages < 50);
  return { entries, pages };
}

function names(entries: readonly { connectionId: string }[]): string[] {
  return entries.map((e) => e.connectionId.split('/').pop()!).sort();
}

describe('GET /api/connections', () => {
  it('answers a resource\'s entries with every field, dates as ISO text', async () => {
    const { entries } = await listAll({ resource: VAULT });
    expect(names(entries)).toEqual(names([...pending, approved]));
    expect(entries.find((e) => e.connectionId === approved.connectionId)).toEqual({
      ...approved,
      firstSeenAt: '2026-02-01T08:30:00.000Z',
      statusChangedAt: '2026-02-01T08:31:00.000Z',
    });
  });

  it.each([
    ['state', { state: 'approved', requesterSubscription: REQUESTER_SUB }, ['pe-approved', 'pe-portal']],
    ['type', { type: 'Microsoft.Storage/storageAccounts', requesterSubscription: REQUESTER_SUB }, ['pe-portal', 'pe-rejected']],
    ['requester tenant', { requesterTenant: 'not-visible', resource: STORAGE }, ['pe-portal']],
    ['decided by', { decidedBy: 'linkgate', requesterSubscription: REQUESTER_SUB }, ['pe-approved']],
    ['out of band', { outOfBand: 'flagged', requesterTenant: 'NOT-VISIBLE' }, ['pe-portal']],
    ['state and resource', { state: 'Rejected', resource: STORAGE }, ['pe-rejected']],
  ])('filters by %s', async (_what, query, expected) => {
    const { entries } = await listAll(query);
    expect(names(entries)).toEqual(expected);
  });

  it('pages with continuation tokens, without duplicates or gaps', async () => {
    const { entries, pages } = await listAll({ requesterSubscription: REQUESTER_SUB, pageSize: '4' });
    expect(names(entries)).toEqual(names([...pending, approved, portal, rejected]));
    expect(new Set(entries.map((e) => e.connectionId)).size).toBe(15);
    expect(pages).toBeGreaterThanOrEqual(4);
  });

  it('answers 400 naming the parameter for a filter it cannot read or a token it did not issue', async () => {
    expect(await list({ decidedBy: 'rule' })).toMatchObject({ status: 400, body: { error: expect.stringMatching(/decidedBy must be one of linkgate, elsewhere, none/) } });
    expect(await list({ colour: 'red' })).toMatchObject({ status: 400, body: { error: expect.stringMatching(/Unknown query parameter 'colour'/) } });
    expect(await list({ continuationToken: 'forged' })).toMatchObject({ status: 400, body: { error: expect.stringMatching(/not one Linkgate issued/) } });
    const first = await list({ requesterSubscription: REQUESTER_SUB, pageSize: '2' });
    const other = await list({ state: 'pending', pageSize: '2', continuationToken: first.body.continuationToken });
    expect(other).toMatchObject({ status: 400, body: { error: expect.stringMatching(/other filters/) } });
  });

  it('refuses a caller without Audit.Read with 403, and a request without a token with 401', async () => {
    expect((await list({}, 'rita@contoso.example')).status).toBe(403);
    expect((await getJson(`${stack.functionsUrl}/api/connections`)).status).toBe(401);
  });

  it('leaves POST /api/connections/replay where it was', async () => {
    const replay = await postJson(`${stack.functionsUrl}/api/connections/replay`, { connectionId: 'x' }, await auth(stack, 'ada@contoso.example'));
    expect(replay.status).toBe(400);
    expect((await postJson(`${stack.functionsUrl}/api/connections`, {}, await auth(stack, 'ada@contoso.example'))).status).toBe(405);
    expect((await getJson(`${stack.functionsUrl}/api/connections/replay`, await auth(stack, 'ada@contoso.example'))).status).toBe(405);
  });
});

describe('linkgate connections', () => {
  function capture() {
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
    return { lines, restore: () => spy.mockRestore() };
  }

  it('prints a table of one resource, following tokens with --all', async () => {
    const out = capture();
    try {
      expect(await main(['connections', '--resource', STORAGE, '--page-size', '1', '--all', '--as', 'bob', '--state-dir', stateDir])).toBe(0);
    } finally {
      out.restore();
    }
    expect(out.lines[0]).toMatch(/^STATUS\s+TYPE\s+RESOURCE\s+CONNECTION\s+REQUESTER SUBSCRIPTION\s+REQUESTER TENANT\s+FIRST SEEN\s+DECIDED BY$/);
    const rows = out.lines.slice(1, -1);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(new RegExp(`^Approved\\s+storage\\s+stinventory\\s+pe-portal\\s+${REQUESTER_SUB}\\s+not-visible\\s+2026-02-01T08:30:00Z Pending\\s+elsewhere out-of-band: flagged$`));
    expect(rows[1]).toMatch(new RegExp(`^Rejected\\s+storage\\s+stinventory\\s+pe-rejected\\s+${REQUESTER_SUB}\\s+${REQUESTER_TENANT}\\s+2026-02-01T08:30:00Z Rejected\\s+none$`));
    expect(out.lines.at(-1)).toBe('2 connections');
  });

  it('prints one JSON object per line with --json, filtered by state and who decided', async () => {
    const out = capture();
    try {
      expect(await main(['connections', '--state', 'approved', '--decided-by', 'linkgate', '--requester-subscription', REQUESTER_SUB, '--json', '--as', 'bob', '--state-dir', stateDir])).toBe(0);
    } finally {
      out.restore();
    }
    expect(out.lines.map((l) => JSON.parse(l) as { connectionId: string }).map((e) => e.connectionId)).toEqual([approved.connectionId]);
  });

  it('says there is more without --all, and refuses someone without Audit.Read', async () => {
    const out = capture();
    try {
      expect(await main(['connections', '--resource', VAULT, '--page-size', '5', '--as', 'bob', '--state-dir', stateDir])).toBe(0);
    } finally {
      out.restore();
    }
    expect(out.lines).toHaveLength(8);
    expect(out.lines.at(-2)).toMatch(/^… more: --all/);
    expect(out.lines.at(-1)).toBe('5 connections');
    await expect(main(['connections', '--as', 'rita', '--state-dir', stateDir])).rejects.toThrow(/HTTP 403: GET \/api\/connections needs the app role Audit.Read/);
  });
});
