import type { TokenCredential } from '@azure/core-auth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArmConnection } from '../../src/adapters/arm/arm-client-options.js';
import { ArmConnections } from '../../src/adapters/arm/arm-connections.js';
import { SubscriptionTenantResolver } from '../../src/adapters/arm/subscription-tenants.js';
import type { TenantCache } from '../../src/app/ports.js';
import { TableApprovalsStore } from '../../src/adapters/tables/approvals-store.js';
import { TableRulesStore } from '../../src/adapters/tables/rules-store.js';
import { createTableClient } from '../../src/adapters/tables/table-clients.js';
import { TableTenantCache } from '../../src/adapters/tables/tenant-cache-store.js';
import type { ApprovalRecord } from '../../src/domain/approval.js';
import { decide, type RequestFacts, type RequesterTenant } from '../../src/domain/policy/engine.js';
import { connectionRef, parseConnectionId, resourceRef } from '../../src/domain/resource-id.js';
import { KEY_VAULT } from '../../src/domain/resource-types.js';
import { startArmEmulator, type ArmEmulator } from '../../src/dev/arm-emulator/index.js';
import { startAzuriteTables, type AzuriteTables } from '../../src/dev/azurite.js';

const HOME_TENANT = 'c0a1b2c3-0000-4000-8000-00000000c0de';
const VAULT_SUB = '5ec00000-0000-4000-8000-000000000001';
const APP_SUB = 'a9900000-0000-4000-8000-000000000002';
const HIDDEN_SUB = '41dd0000-0000-4000-8000-000000000005';
const MISSING_SUB = '99990000-0000-4000-8000-000000000009';

const credential: TokenCredential = { getToken: async () => ({ token: 'test-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };

let emulator: ArmEmulator;
let azurite: AzuriteTables;
let arm: ArmConnection;
let tableSeq = 0;

beforeAll(async () => {
  [emulator, azurite] = await Promise.all([
    startArmEmulator({
      subscriptions: [
        { subscriptionId: VAULT_SUB, tenantId: HOME_TENANT, displayName: 'Platform', visibility: 'visible' },
        { subscriptionId: APP_SUB, tenantId: HOME_TENANT, displayName: 'App', visibility: 'visible' },
        { subscriptionId: HIDDEN_SUB, tenantId: HOME_TENANT, displayName: 'Hidden', visibility: 'forbidden' },
      ],
      provisioningDelayMs: 50,
      pageSize: 2,
    }),
    startAzuriteTables(),
  ]);
  emulator.createVault({ subscriptionId: VAULT_SUB, resourceGroup: 'rg-secrets', name: 'kv-adapters' });
  arm = {
    endpoint: emulator.url,
    credential,
    caPem: emulator.caPem,
    retry: { maxRetries: 3, baseDelayMs: 10, maxDelayMs: 50, maxRetryAfterMs: 2_000 },
  };
});

afterAll(async () => {
  await Promise.all([emulator?.close(), azurite?.close()]);
});

const vault = () => resourceRef(KEY_VAULT, VAULT_SUB, 'rg-secrets', 'kv-adapters');
const table = (name: string) => createTableClient({ kind: 'connectionString', connectionString: azurite.connectionString }, `${name}${++tableSeq}`);

async function request(message = 'adapter test') {
  const connection = await emulator.simulateRequest({ vault: 'kv-adapters', fromSubscription: APP_SUB, message });
  return parseConnectionId(connection.id);
}

describe('ArmConnections through the core pipeline against the emulator', () => {
  it('lists every connection across pages and reads the requester and message', async () => {
    // Prepare
    for (let i = 0; i < 3; i += 1) await request(`page test ${i}`);
    // Act
    const listed = await new ArmConnections(arm).list(vault());
    // Assess
    expect(listed?.length).toBeGreaterThanOrEqual(3);
    const first = listed?.find((c) => c.description === 'page test 0');
    expect(first).toMatchObject({ status: 'Pending', privateEndpoint: { subscriptionId: APP_SUB } });
  });

  it('answers undefined for a vault that does not exist', async () => {
    expect(await new ArmConnections(arm).list(resourceRef(KEY_VAULT, VAULT_SUB, 'rg-secrets', 'kv-nowhere'))).toBeUndefined();
  });

  it('approves with a PUT and sees provisioningState reach Succeeded', async () => {
    const ref = await request();
    const connections = new ArmConnections(arm);
    const before = await connections.get(ref);
    const result = await connections.setStatus(ref, { status: 'Approved', description: 'Approved by test', ...(before?.etag ? { etag: before.etag } : {}) });
    expect(result.kind).toBe('accepted');
    let after = await connections.get(ref);
    for (let i = 0; i < 50 && after?.provisioningState !== 'Succeeded'; i += 1) {
      await new Promise((r) => setTimeout(r, 20));
      after = await connections.get(ref);
    }
    expect(after).toMatchObject({ status: 'Approved', description: 'Approved by test', provisioningState: 'Succeeded' });
  });

  it('reports approving a rejected connection as refused (Azure answers 400)', async () => {
    const ref = await request();
    await emulator.setConnectionStatus(ref.id, 'Rejected', 'no');
    const result = await new ArmConnections(arm).setStatus(ref, { status: 'Approved', description: 'try' });
    expect(result.kind).toBe('refused');
  });

  it('reports a stale ETag as a conflict', async () => {
    const ref = await request();
    const result = await new ArmConnections(arm).setStatus(ref, { status: 'Approved', description: 'x', etag: '"stale"' });
    expect(result.kind).toBe('conflict');
  });

  it('reports a missing connection as gone, for get (404) and for put', async () => {
    const ref = connectionRef(vault(), 'does-not-exist');
    const connections = new ArmConnections(arm);
    expect(await connections.get(ref)).toBeUndefined();
    expect((await connections.setStatus(ref, { status: 'Approved', description: 'x' })).kind).toBe('gone');
  });

  it('reads a 204 with an empty body as gone instead of failing', async () => {
    const ref = await request();
    emulator.injectFault({ method: 'GET', pathIncludes: ref.name, status: 204, emptyBody: true, times: 1 });
    expect(await new ArmConnections(arm).get(ref)).toBeUndefined();
  });

  it('honours Retry-After on 429 and then succeeds', async () => {
    const ref = await request();
    emulator.injectFault({ method: 'GET', pathIncludes: ref.name, status: 429, retryAfterSeconds: 1, times: 1 });
    const callsBefore = emulator.calls.length;
    const read = await new ArmConnections(arm).get(ref);
    expect(read?.status).toBe('Pending');
    const mine = emulator.calls.slice(callsBefore).filter((c) => c.path.includes(ref.name));
    expect(mine.map((c) => c.status)).toEqual([429, 200]);
    const waited = (mine[1]?.at.getTime() ?? 0) - (mine[0]?.at.getTime() ?? 0);
    expect(waited).toBeGreaterThanOrEqual(950);
  });

  it('does not wait out a Retry-After longer than the configured bound', async () => {
    const ref = await request();
    emulator.injectFault({ method: 'GET', pathIncludes: ref.name, status: 429, retryAfterSeconds: 3600, times: 1 });
    await expect(new ArmConnections(arm).get(ref)).rejects.toMatchObject({ statusCode: 429 });
  });

  it('retries 5xx a bounded number of times', async () => {
    const ref = await request();
    emulator.injectFault({ method: 'GET', pathIncludes: ref.name, status: 503, times: 2 });
    expect((await new ArmConnections(arm).get(ref))?.status).toBe('Pending');
    emulator.injectFault({ method: 'GET', pathIncludes: ref.name, status: 500, times: 10 });
    const callsBefore = emulator.calls.length;
    await expect(new ArmConnections(arm).get(ref)).rejects.toMatchObject({ statusCode: 500 });
    expect(emulator.calls.slice(callsBefore).filter((c) => c.path.includes(ref.name))).toHaveLength(4); // 1 + maxRetries 3
  });
});

describe('SubscriptionTenantResolver through @azure/arm-resources-subscriptions', () => {
  class MemoryCache implements TenantCache {
    readonly data = new Map<string, RequesterTenant>();
    async get(id: string) {
      return this.data.get(id);
    }
    async put(id: string, tenant: RequesterTenant) {
      this.data.set(id, tenant);
    }
  }

  it('resolves a visible subscription to its tenant and caches it', async () => {
    const cache = new MemoryCache();
    const resolver = new SubscriptionTenantResolver(arm, cache, { visibleMs: 60_000, notVisibleMs: 1_000 });
    expect(await resolver.resolve(APP_SUB)).toEqual({ kind: 'visible', tenantId: HOME_TENANT });
    expect(cache.data.get(APP_SUB)).toEqual({ kind: 'visible', tenantId: HOME_TENANT });
  });

  it('keeps 403 and 404 apart from external as not-visible', async () => {
    const resolver = new SubscriptionTenantResolver(arm, new MemoryCache(), { visibleMs: 60_000, notVisibleMs: 1_000 });
    expect(await resolver.resolve(HIDDEN_SUB)).toEqual({ kind: 'not-visible' });
    expect(await resolver.resolve(MISSING_SUB)).toEqual({ kind: 'not-visible' });
  });

  it('serves the second lookup from the table cache without calling ARM', async () => {
    const resolver = new SubscriptionTenantResolver(arm, new TableTenantCache(table('tenantcache')), { visibleMs: 60_000, notVisibleMs: 1_000 });
    await resolver.resolve(APP_SUB);
    const before = emulator.calls.filter((c) => c.path.toLowerCase() === `/subscriptions/${APP_SUB}`).length;
    await resolver.resolve(APP_SUB);
    const after = emulator.calls.filter((c) => c.path.toLowerCase() === `/subscriptions/${APP_SUB}`).length;
    expect(after).toBe(before);
  });

  it('shares one lookup among concurrent callers, and asks again once its minute is over', async () => {
    const cache = new MemoryCache();
    let reads = 0;
    const counting = { get: async (id: string) => ((reads += 1), cache.get(id)), put: cache.put.bind(cache) };
    let now = 1_000_000;
    const resolver = new SubscriptionTenantResolver(arm, counting, { visibleMs: 3_600_000, notVisibleMs: 300_000 }, () => now);
    const before = emulator.calls.filter((c) => c.path.toLowerCase() === `/subscriptions/${APP_SUB}`).length;
    const answers = await Promise.all(Array.from({ length: 20 }, () => resolver.resolve(APP_SUB)));
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(emulator.calls.filter((c) => c.path.toLowerCase() === `/subscriptions/${APP_SUB}`).length - before).toBe(1);
    expect(reads).toBe(1);
    now += 61_000;
    await resolver.resolve(APP_SUB);
    expect(reads).toBe(2);
  });
});

describe('a subscription ID that is not a GUID never reaches ARM or a table key', () => {
  const HASHED = '00000000-0000-0000-0000-000000000002#';

  it('resolves to an unknown tenant without calling ARM or the cache', async () => {
    // Prepare
    const client = table('tenantcache');
    const resolver = new SubscriptionTenantResolver(arm, new TableTenantCache(client), { visibleMs: 60_000, notVisibleMs: 1_000 });
    const before = emulator.calls.length;

    // Act
    const tenant = await resolver.resolve(HASHED);

    // Assess
    expect(tenant).toEqual({ kind: 'unknown' });
    expect(emulator.calls.length).toBe(before);
  });

  it('is neither read from nor written to the tenant cache', async () => {
    // Prepare
    const client = table('tenantcache');
    const cache = new TableTenantCache(client);

    // Act
    await cache.put(HASHED, { kind: 'visible', tenantId: HOME_TENANT }, 60_000);
    const read = await cache.get(HASHED);

    // Assess
    expect(read).toBeUndefined();
    await cache.put(APP_SUB, { kind: 'visible', tenantId: HOME_TENANT }, 60_000);
    const rows: string[] = [];
    for await (const row of client.listEntities()) rows.push(String(row.rowKey));
    expect(rows).toEqual([APP_SUB]);
  });

  it('leaves a connection whose endpoint names one without a requester', async () => {
    // Prepare
    const connection = await emulator.simulateRequest({ vault: 'kv-adapters', fromSubscription: HASHED, endpointName: 'pe-hashed' });
    const connections = new ArmConnections(arm);

    // Act
    const read = await connections.get(parseConnectionId(connection.id));

    // Assess
    expect(read?.privateEndpoint).toBeUndefined();
    expect(read?.rawPrivateEndpointId).toContain(HASHED);
  });
});

describe('Table stores against Azurite', () => {
  it('tenant cache entries expire after their TTL', async () => {
    let now = new Date('2026-11-30T10:00:00Z');
    const cache = new TableTenantCache(table('tenantcache'), () => now);
    await cache.put(APP_SUB, { kind: 'visible', tenantId: HOME_TENANT }, 60_000);
    expect(await cache.get(APP_SUB)).toEqual({ kind: 'visible', tenantId: HOME_TENANT });
    now = new Date(now.getTime() + 61_000);
    expect(await cache.get(APP_SUB)).toBeUndefined();
  });

  it('approvals: the second of two writes from the same version loses with a conflict', async () => {
    const store = new TableApprovalsStore(table('approvals'));
    const ref = connectionRef(vault(), 'pe-x.1');
    const record: ApprovalRecord = {
      connection: ref,
      state: 'Detected',
      generation: 1,
      attempts: 0,
      detectedAt: new Date(),
      updatedAt: new Date(),
    };
    const created = await store.create(record);
    expect(created.kind).toBe('created');
    expect((await store.create(record)).kind).toBe('exists');
    const etag = created.kind === 'created' ? created.record.etag : '';
    const first = await store.replace({ ...record, state: 'Deciding', leaseUntil: new Date() }, etag);
    const second = await store.replace({ ...record, state: 'Deciding' }, etag);
    expect(first.kind).toBe('replaced');
    expect(second.kind).toBe('conflict');
    const read = await store.get(ref);
    expect(read?.value).toMatchObject({ state: 'Deciding', generation: 1 });
    expect(read?.value.leaseUntil).toBeInstanceOf(Date);
    expect((await store.listOpen(ref.resource)).map((r) => r.value.connection.name)).toEqual(['pe-x.1']);
    expect(await store.resourcesWithOpenRecords()).toEqual([ref.resource.id]);
  });

  it('approvals: a row written in the older flat format is read with its decider and card', async () => {
    // Prepare
    const client = table('approvals');
    const store = new TableApprovalsStore(client);
    const ref = connectionRef(vault(), 'pe-old.1');
    await store.get(ref); // creates the table
    await client.createEntity({
      partitionKey: encodeURIComponent(ref.resource.key),
      rowKey: encodeURIComponent(ref.name.toLowerCase()),
      open: true,
      connectionId: ref.id,
      connectionName: ref.name,
      vaultId: ref.resource.id,
      state: 'Approving',
      generation: 1,
      attempts: 0,
      detectedAt: new Date('2026-11-30T10:00:00Z'),
      updatedAt: new Date('2026-11-30T10:05:00Z'),
      decisionAction: 'approve',
      decidedBy: 'user:ada00000-0000-4000-8000-0000000000a1',
      decidedByName: 'Ada',
      cardConversationId: '19:approvals@thread.tacv2',
      cardActivityId: 'act-1',
      cardState: 'AwaitingReview',
      cardStale: true,
    });
    // Act
    const read = await store.get(ref);
    // Assess
    expect(read?.value).toMatchObject({
      state: 'Approving',
      decidedBy: { type: 'user', id: 'ada00000-0000-4000-8000-0000000000a1', name: 'Ada' },
      card: { conversationId: '19:approvals@thread.tacv2', activityId: 'act-1', shownState: 'AwaitingReview', stale: true },
    });
    expect(read?.value.connection.key).toBe(ref.key);
    expect((await store.listForReviewTimer()).map((r) => r.value.connection.name)).toEqual(['pe-old.1']);
    expect(await store.resourcesWithOpenRecords()).toEqual([ref.resource.id]);
  });

  it('rules: review settings survive the round trip through the table', async () => {
    const store = new TableRulesStore(table('rules'));
    const review = { conversation: '19:partners@thread.tacv2', approvers: ['ada00000-0000-4000-8000-0000000000a1'], expireAfterDays: 2, timeoutAction: 'reject' as const };
    await store.put({ name: 'partners', priority: 5, enabled: true, mode: 'enforce', action: 'review', conditions: {}, review });
    const [stored] = await store.list();
    expect(stored).toMatchObject({ ok: true, rule: { name: 'partners', review } });
  });

  it('rules: an out-of-band rule stays one through the table, and a request rule stays a request rule', async () => {
    const store = new TableRulesStore(table('rulesoob'));
    await store.put({ name: 'oob-home', priority: 5, enabled: true, mode: 'enforce', action: 'ignore', appliesTo: 'out-of-band', conditions: { requesterTenant: ['home'] } });
    await store.put({ name: 'req-ignore', priority: 6, enabled: true, mode: 'enforce', action: 'ignore', conditions: {} });
    const stored = await store.list();
    expect(stored.find((s) => s.ok && s.rule.name === 'oob-home')).toMatchObject({ ok: true, rule: { appliesTo: 'out-of-band', action: 'ignore' } });
    expect(stored.find((s) => s.ok && s.rule.name === 'req-ignore')).toMatchObject({ ok: true, rule: { action: 'ignore' } });
    expect((stored.find((s) => s.ok && s.rule.name === 'req-ignore') as { rule: object }).rule).not.toHaveProperty('appliesTo');
  });

  it('rules: a pattern stored for the JavaScript engine is read when RE2 accepts it, and reported unreadable when not', async () => {
    // Prepare: rows as the older validator wrote them (it accepted JavaScript syntax).
    const client = table('rules');
    const store = new TableRulesStore(client);
    await store.list(); // creates the table
    const row = (name: string, priority: number, requestMessage: string) => ({
      partitionKey: 'rule',
      rowKey: name,
      name,
      priority,
      enabled: true,
      mode: 'enforce',
      action: 'approve',
      conditions: JSON.stringify({ requestMessage }),
    });
    await client.upsertEntity(row('ticketed', 10, '^CHG-\\d+'));
    await client.upsertEntity(row('lookahead', 5, '^(?=.*urgent)'));

    // Act
    const listed = await store.list();
    const facts: RequestFacts = {
      resource: vault(),
      connectionName: 'pe.1',
      privateEndpoint: undefined,
      requesterTenant: { kind: 'visible', tenantId: HOME_TENANT },
      requestMessage: 'CHG-42 urgent',
    };
    const decision = decide(listed, facts, HOME_TENANT);

    // Assess
    expect(listed.find((r) => r.ok)).toMatchObject({ ok: true, rule: { name: 'ticketed', conditions: { requestMessage: '^CHG-\\d+' } } });
    const unreadable = listed.find((r) => !r.ok);
    expect(unreadable).toMatchObject({ ok: false, name: 'lookahead' });
    expect(unreadable?.ok === false && unreadable.error).toMatch(
      /^conditions\.requestMessage: lookahead is not supported by the linear-time engine.*JavaScript pattern.*rewrite it in RE2 syntax/,
    );
    expect(decision.evaluations.find((e) => e.rule === 'lookahead')).toMatchObject({ result: 'unreadable' });
    expect(decision.action).toBe('review');
    expect(decision.summary).toMatch(/Rule 'ticketed' said approve, but rule\(s\) 'lookahead' could not be read/);
  });

  it('rules: a hand-edited row that cannot be understood is reported, not guessed at', async () => {
    const client = table('rules');
    const store = new TableRulesStore(client);
    await store.put({ name: 'ok-rule', priority: 1, enabled: true, mode: 'enforce', action: 'approve', conditions: { requesterTenant: ['home'] } });
    await client.upsertEntity({ partitionKey: 'rule', rowKey: 'broken', name: 'broken', priority: 2, action: 'approve', conditions: '{"requestMessage":"(["}' });
    await client.upsertEntity({ partitionKey: 'rule', rowKey: 'typo', name: 'typo', priority: 3, action: 'aprove' });
    const listed = await store.list();
    expect(listed.find((r) => r.ok)).toMatchObject({ ok: true, rule: { name: 'ok-rule', conditions: { requesterTenant: ['home'] } } });
    const broken = listed.filter((r) => !r.ok);
    expect(broken).toHaveLength(2);
    expect(broken.map((r) => (r.ok ? '' : r.error)).join('\n')).toMatch(/conditions.requestMessage[\s\S]*action/);
  });
});
