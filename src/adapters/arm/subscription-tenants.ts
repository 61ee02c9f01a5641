import { SubscriptionClient } from '@azure/arm-resources-subscriptions';
import type { TenantCache, TenantResolver } from '../../app/ports.js';
import type { RequesterTenant } from '../../domain/policy/engine.js';
import { isGuid } from '../../domain/resource-id.js';
import { armClientOptions, type ArmConnection } from './arm-client-options.js';
import { isStatus } from './arm-connections.js';

/**
 * The connection names the requester's subscription, not its tenant. The tenant comes from
 * GET /subscriptions/{id} (`tenantId`). A 403 or 404 only says Linkgate cannot see the
 * subscription, which is not proof that it is external, so it is kept apart as `not-visible`.
 * Lighthouse-delegated subscriptions are visible, which is why the tenant ID is compared
 * rather than visibility (AZURE-FACTS, "The requester").
 */
const RECENT_MS = 60_000;
const RECENT_MAX = 10_000;

export class SubscriptionTenantResolver implements TenantResolver {
  private readonly client: SubscriptionClient;
  /**
   * Answers this instance already has, for at most a minute (the table cache keeps them longer
   * and for every instance): a burst of decisions from one requester subscription costs one table
   * read, and concurrent lookups of one subscription share one call.
   */
  private readonly recent = new Map<string, { readonly tenant: Promise<RequesterTenant>; readonly until: number }>();

  constructor(
    arm: ArmConnection,
    private readonly cache: TenantCache,
    private readonly ttl: { readonly visibleMs: number; readonly notVisibleMs: number },
    private readonly now: () => number = Date.now,
  ) {
    const options = armClientOptions(arm);
    // arm-resources-subscriptions 2.x builds request URLs from `$host`, not `endpoint`.
    this.client = new SubscriptionClient(arm.credential, { ...options, $host: options.endpoint });
  }

  async resolve(subscriptionId: string): Promise<RequesterTenant> {
    // Not a subscription ID: nothing to look up, and nothing to put in a URL or a cache key.
    if (!isGuid(subscriptionId)) return { kind: 'unknown' };
    const id = subscriptionId.toLowerCase();
    const held = this.recent.get(id);
    if (held && held.until > this.now()) return held.tenant;
    const tenant = this.resolveShared(id);
    this.recent.set(id, { tenant, until: this.now() + Math.min(RECENT_MS, this.ttl.visibleMs, this.ttl.notVisibleMs) });
    // A failure is not remembered: the next caller asks again.
    tenant.catch(() => this.recent.delete(id));
    if (this.recent.size > RECENT_MAX) this.recent.delete(this.recent.keys().next().value as string);
    return tenant;
  }

  private async resolveShared(id: string): Promise<RequesterTenant> {
    const cached = await this.cache.get(id);
    if (cached) return cached;
    const tenant = await this.lookup(id);
    await this.cache.put(id, tenant, tenant.kind === 'visible' ? this.ttl.visibleMs : this.ttl.notVisibleMs);
    return tenant;
  }

  private async lookup(subscriptionId: string): Promise<RequesterTenant> {
    try {
      const subscription = await this.client.subscriptions.get(subscriptionId);
      return subscription.tenantId ? { kind: 'visible', tenantId: subscription.tenantId.toLowerCase() } : { kind: 'not-visible' };
    } catch (error) {
      if (isStatus(error, 403) || isStatus(error, 404)) return { kind: 'not-visible' };
      throw error;
    }
  }
}
