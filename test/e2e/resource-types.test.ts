import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main as cli } from '../../src/cli/main.js';
import type { AuditEntry } from '../../src/domain/audit.js';
import { parseConnectionId } from '../../src/domain/resource-id.js';
import { DEMO, DEMO_PEOPLE, DEMO_TEAMS, demoResourceId } from '../../src/dev/demo-world.js';
import type { LocalStack } from '../../src/dev/local-stack.js';
import { auditEntries, eventually, putsFor, startTestStack } from './helpers.js';

const STORAGE = 'Microsoft.Storage/storageAccounts';
const SQL = 'Microsoft.Sql/servers';
const VAULT = 'Microsoft.KeyVault/vaults';

/**
 * Three resource types in one run of the local stack, each through the same rules, cards,
 * actions and audit: a storage account request approved by the in-tenant rule, a SQL server
 * request from a partner sent to review and approved on the Teams page, and a Key Vault request
 * as before.
 */
describe('every resource type through the same pipeline', () => {
  let stack: LocalStack;
  const stateDir = mkdtempSync(join(tmpdir(), 'linkgate-types-'));

  beforeAll(async () => {
    stack = await startTestStack({ stateDir });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const statusOf = (id: string) => stack.emulator!.getConnection(id)?.properties.privateLinkServiceConnectionState.status;
  const settled = (id: string) => {
    const c = stack.emulator!.getConnection(id);
    return c && c.properties.privateLinkServiceConnectionState.status !== 'Pending' && ['Succeeded', 'Ready'].includes(String(c.properties.provisioningState));
  };

  it('approves an in-tenant storage account request by rule, with one PUT, and the audit names the storage account', async () => {
    // Act
    const connection = await stack.emulator!.simulateRequest({
      type: 'storage',
      resource: DEMO.storageAccountName,
      fromSubscription: DEMO.appSubscriptionId,
      endpointName: 'pe-data-export',
      message: 'Nightly export',
    });
    const ref = parseConnectionId(connection.id);
    await eventually(async () => (statusOf(ref.id) === 'Approved' ? true : undefined), 'the storage connection to be approved');

    // Assess
    expect(putsFor(stack, ref.name)).toHaveLength(1);
    const put = putsFor(stack, ref.name)[0]!;
    expect(put.query).toContain('api-version=2025-08-01');
    expect((put.body as { properties: { privateEndpoint: { id: string } } }).properties.privateEndpoint.id).toBe(connection.properties.privateEndpoint.id);
    const entries = await eventually(async () => {
      const found = await auditEntries(stack, { connection: ref.id });
      return found.some((e) => e.outcome === 'approved') ? found : undefined;
    }, 'the approved result in the audit');
    expect(entries.every((e) => e.resourceType === STORAGE)).toBe(true);
    expect(entries.find((e) => e.kind === 'decision')?.summary).toContain(`matched storage account ${DEMO.storageAccountName}: approve`);
  });

  it('sends a partner SQL server request to review, and the approver approves it on the Teams page', async () => {
    // Prepare
    const connection = await stack.emulator!.simulateRequest({
      type: 'sql',
      resource: DEMO.sqlServerName,
      fromSubscription: DEMO.partnerSubscriptionId,
      endpointName: 'pe-orders-replica',
      message: 'Orders replica for Fabrikam',
      requesterObjectId: DEMO_PEOPLE.requesterRita.objectId,
    });
    const ref = parseConnectionId(connection.id);
    const message = await eventually(
      async () => stack.teams!.messages(DEMO_TEAMS.channelId).find((m) => JSON.stringify(m.card ?? '').includes('pe-orders-replica')),
      'the review card',
    );
    const card = JSON.stringify(message.card);
    expect(card).toContain(`SQL server ${DEMO.sqlServerName}`);
    expect(card).toContain('"title":"SQL server"');

    // Act
    const answer = await stack.teams!.click({
      activityId: message.id,
      objectId: DEMO_PEOPLE.approverAda.objectId,
      verb: 'approve',
      data: { approvalKey: ref.id, generation: 1, comment: 'replica agreed in CHG-2001' },
    });
    await eventually(async () => (settled(ref.id) ? true : undefined), 'the SQL connection to be approved and Ready');

    // Assess
    expect(answer.status).toBe(200);
    expect(statusOf(ref.id)).toBe('Approved');
    expect(stack.emulator!.getConnection(ref.id)?.properties.provisioningState).toBe('Ready');
    expect(putsFor(stack, ref.name)).toHaveLength(1);
    const entries = await eventually(async () => {
      const found = await auditEntries(stack, { connection: ref.id });
      return found.some((e) => e.outcome === 'approved') ? found : undefined;
    }, 'the approved result in the audit');
    expect(entries.map((e) => e.outcome)).toEqual(expect.arrayContaining(['review', 'posted', 'approve', 'approved']));
    expect(entries.every((e) => e.resourceType === SQL)).toBe(true);
  });

  it('approves an in-tenant Key Vault request as before', async () => {
    // Act
    const connection = await stack.emulator!.simulateRequest({ vault: DEMO.vaultName, fromSubscription: DEMO.appSubscriptionId, endpointName: 'pe-keys', message: 'keys' });
    const ref = parseConnectionId(connection.id);
    await eventually(async () => (settled(ref.id) ? true : undefined), 'the vault connection to be approved');

    // Assess
    expect(statusOf(ref.id)).toBe('Approved');
    expect(putsFor(stack, ref.name)).toHaveLength(1);
  });

  it('filters the audit by type and by resource, each entry naming its type', async () => {
    // Act
    const byType = async (type: string) => auditEntries(stack, { type });
    const [storage, sql, vault] = await Promise.all([byType('storage'), byType(SQL), byType('keyvault')]);
    const oneResource = await auditEntries(stack, { resource: demoResourceId(STORAGE, DEMO.storageAccountName) });

    // Assess
    const types = (entries: AuditEntry[]) => [...new Set(entries.map((e) => e.resourceType))];
    expect(types(storage)).toEqual([STORAGE]);
    expect(types(sql)).toEqual([SQL]);
    expect(types(vault)).toEqual([VAULT]);
    expect(oneResource.length).toBe(storage.length);
    expect(oneResource.every((e) => e.resourceId === demoResourceId(STORAGE, DEMO.storageAccountName).toLowerCase())).toBe(true);
  });

  it('lets `linkgate simulate request --type` ask any type, and `linkgate audit --type` shows the resource by type and name', async () => {
    // Prepare
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
    try {
      // Act
      const requested = await cli([
        'simulate', 'request', '--type', 'storage', '--resource', DEMO.storageAccountName,
        '--from-subscription', DEMO.appSubscriptionId, '--endpoint', 'pe-cli', '--message', 'from the CLI', '--state-dir', stateDir,
      ]);
      const id = /Requested (\S+)/.exec(lines.join('\n'))?.[1];
      await eventually(async () => (id && statusOf(id) === 'Approved' ? true : undefined), 'the CLI request to be approved');
      lines.length = 0;
      const audited = await cli(['audit', '--type', 'storage', '--state-dir', stateDir]);

      // Assess
      expect(requested).toBe(0);
      expect(audited).toBe(0);
      const rows = lines.filter((line) => line.includes('pe-cli'));
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) expect(row).toContain(`storage account ${DEMO.storageAccountName}`);
    } finally {
      log.mockRestore();
    }
  });
});
