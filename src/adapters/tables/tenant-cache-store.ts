import type { TableClient } from '@azure/data-tables';
import type { RequesterTenant } from '../../domain/policy/engine.js';
import type { TenantCache } from '../../app/ports.js';
import { isGuid } from '../../domain/resource-id.js';
import { ensureTable, isTableError } from './table-clients.js';

/**
 * Table `tenantcache`: PartitionKey `subscription`, RowKey the lower-case subscription ID,
 * holding `tenant` (a tenant GUID or `not-visible`) and `expiresAt`. Point reads only.
 * An expired row is ignored and overwritten by the next lookup. Only a GUID is ever a key: a
 * subscription ID read from a connection body is the requester's input, and Azure Table keys may
 * not hold `/`, `\`, `#`, `?` or control characters, so anything else is neither read nor cached.
 */
export class TableTenantCache implements TenantCache {
  constructor(
    private readonly client: TableClient,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async get(subscriptionId: string): Promise<RequesterTenant | undefined> {
    if (!isGuid(subscriptionId)) return undefined;
    await ensureTable(this.client);
    try {
      const row = await this.client.getEntity<{ tenant?: string; expiresAt?: Date }>('subscription', subscriptionId.toLowerCase());
      if (!(row.expiresAt instanceof Date) || row.expiresAt <= this.now() || typeof row.tenant !== 'string') return undefined;
      return row.tenant === 'not-visible' ? { kind: 'not-visible' } : { kind: 'visible', tenantId: row.tenant };
    } catch (error) {
      if (isTableError(error, 404)) return undefined;
      throw error;
    }
  }

  async put(subscriptionId: string, tenant: RequesterTenant, ttlMs: number): Promise<void> {
    if (tenant.kind === 'unknown' || !isGuid(subscriptionId)) return;
    await ensureTable(this.client);
    await this.client.upsertEntity(
      {
        partitionKey: 'subscription',
        rowKey: subscriptionId.toLowerCase(),
        tenant: tenant.kind === 'visible' ? tenant.tenantId : 'not-visible',
        expiresAt: new Date(this.now().getTime() + ttlMs),
      },
      'Replace',
    );
  }
}
