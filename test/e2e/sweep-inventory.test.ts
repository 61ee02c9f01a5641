/**
 * Nothing missed, nothing doubled: connections in every state across many resources of every
 * type, made with no events at all (as before Linkgate was deployed), found by the sweep through
 * the emulator's Resource Graph and ARM, with the real Table Storage inventory, rules and audit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '../../src/dev/local-stack.js';
import { DEMO, demoResourceId } from '../../src/dev/demo-world.js';
import { RESOURCE_TYPES } from '../../src/domain/resource-types.js';
import type { InventoryEntry } from '../../src/domain/inventory.js';
import { auditEntries, auth, getJson, postJson, startTestStack } from './helpers.js';

const STATES = ['Pending', 'Approved', 'Rejected', 'Disconnected'] as const;
const FROM = [DEMO.appSubscriptionId, DEMO.partnerSubscriptionId, DEMO.deniedSubscriptionId] as const;

interface Seeded {
  readonly id: string;
  readonly status: (typeof STATES)[number];
  readonly from: string;
}

let stack: LocalStack;
const seeded: Seeded[] = [];

beforeAll(async () => {
  stack = await startTestStack({ eventSchema: false });
  const emulator = stack.emulator!;
  // Two resources of every registered type, each with one connection per state from each requester.
  for (const type of RESOURCE_TYPES) {
    for (let r = 0; r < 2; r += 1) {
      const name = `${type.key.slice(0, 10)}sweep${r}`.replace(/[^a-z0-9]/g, '');
      emulator.createResource({ type: type.type, subscriptionId: DEMO.vaultSubscriptionId, resourceGroup: DEMO.resourceGroup, name } as never);
      const resourceId = demoResourceId(type.type, name);
      STATES.forEach((status, s) =>
        FROM.forEach((from, f) => {
          const connection = emulator.seedConnection({ resourceId, status, fromSubscription: from, endpointName: `pe-${s}-${f}-${r}` });
          seeded.push({ id: connection.id, status, from });
        }),
      );
    }
  }
}, 60_000);

afterAll(async () => {
  await stack?.close();
});

async function sweep() {
  const answer = await postJson(`${stack.functionsUrl}/api/sweep`, {}, await auth(stack));
  expect(answer.status).toBe(200);
  return answer.body;
}

async function inventory(): Promise<InventoryEntry[]> {
  const out: InventoryEntry[] = [];
  let token: string | undefined;
  do {
    const params = new URLSearchParams({ pageSize: '1000', ...(token ? { continuationToken: token } : {}) });
    const page = await getJson(`${stack.functionsUrl}/api/connections?${params}`, await auth(stack, 'bob@contoso.example'));
    expect(page.status).toBe(200);
    out.push(...page.body.entries);
    token = page.body.continuationToken;
  } while (token);
  return out;
}

function puts(connectionId: string) {
  return stack.emulator!.calls.filter((c) => c.method === 'PUT' && c.path.toLowerCase() === new URL(connectionId, 'https://x').pathname.toLowerCase());
}

const mine = (entries: InventoryEntry[]) => {
  const ids = new Set(seeded.map((s) => s.id.toLowerCase()));
  return entries.filter((e) => ids.has(e.connectionId.toLowerCase()));
};

describe('the sweep with no events', () => {
  it('decides every Pending connection once and inventories every connection once, even with two sweeps at the same time', async () => {
    const [first, second] = await Promise.all([sweep(), sweep()]);
    expect(first.source).toBe('resource-graph');
    expect(first.errors, JSON.stringify(first)).toEqual([]);
    expect(second.errors).toEqual([]);
    // PostgreSQL flexible servers are not reported by the graph: listed through ARM.
    expect(first.listedTypes).toEqual(['postgresql']);

    const pending = seeded.filter((s) => s.status === 'Pending');
    for (const c of pending) {
      const status = stack.emulator!.getConnection(c.id)?.properties.privateLinkServiceConnectionState.status;
      if (c.from === DEMO.appSubscriptionId) expect({ id: c.id, status, puts: puts(c.id).length }).toEqual({ id: c.id, status: 'Approved', puts: 1 });
      else if (c.from === DEMO.deniedSubscriptionId) expect({ id: c.id, status, puts: puts(c.id).length }).toEqual({ id: c.id, status: 'Rejected', puts: 1 });
      else expect({ id: c.id, status, puts: puts(c.id).length }).toEqual({ id: c.id, status: 'Pending', puts: 0 });
    }
    // Nothing but the Pending connections was written to.
    for (const c of seeded.filter((s) => s.status !== 'Pending')) expect(puts(c.id)).toHaveLength(0);

    const entries = mine(await inventory());
    expect(entries).toHaveLength(seeded.length);
    const byId = new Map(entries.map((e) => [e.connectionId.toLowerCase(), e]));
    for (const c of seeded) {
      const entry = byId.get(c.id.toLowerCase());
      expect(entry?.firstSeenStatus).toBe(c.status);
      if (c.status === 'Pending' && c.from !== DEMO.partnerSubscriptionId) expect(entry).toMatchObject({ decidedBy: 'linkgate' });
      if (c.status === 'Pending' && c.from === DEMO.partnerSubscriptionId) expect(entry).toMatchObject({ status: 'Pending', decidedBy: 'none' });
      if (c.status === 'Approved') expect(entry).toMatchObject({ decidedBy: 'elsewhere', outOfBand: c.from === DEMO.appSubscriptionId ? 'ignored' : 'flagged' });
    }

    // Each approval made outside Linkgate is one out-of-band audit entry; each sweep one summary.
    const outOfBand = await auditEntries(stack, { outcome: 'out-of-band' });
    expect(outOfBand.filter((e) => seeded.some((s) => s.id.toLowerCase() === e.connectionId))).toHaveLength(seeded.filter((s) => s.status === 'Approved').length);
    expect(await auditEntries(stack, { outcome: 'sweep' })).toHaveLength(2);
  }, 120_000);

  it('changes nothing on a second sweep', async () => {
    const before = mine(await inventory());
    const auditBefore = (await auditEntries(stack, {})).length;
    const callsBefore = stack.emulator!.calls.length;
    const report = await sweep();
    expect(report).toMatchObject({ reread: 0, errors: [] });
    const calls = stack.emulator!.calls.slice(callsBefore);
    expect(calls.filter((c) => c.method === 'PUT')).toHaveLength(0);
    // Only the types the graph does not report are listed again (one read per resource).
    expect(calls.filter((c) => c.method === 'GET' && /privateEndpointConnections/i.test(c.path) && !/DBforPostgreSQL/i.test(c.path))).toHaveLength(0);
    expect(mine(await inventory())).toEqual(before);
    const after = await auditEntries(stack, {});
    expect(after.length - auditBefore).toBe(1);
    expect(after[0]?.kind).toBe('sweep');
  }, 60_000);
});
