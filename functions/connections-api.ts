import { getServices } from '../src/composition.js';
import { readInventory } from '../src/app/inventory-view.js';
import type { InventoryEntry } from '../src/domain/inventory.js';
import { adminRoute } from './admin-http.js';
import type { HttpFunctionSpec } from './registry.js';

/**
 * GET /api/connections (Audit.Read) — the connection inventory in pages: every private endpoint
 * connection Linkgate has seen, in any state (filters: src/app/inventory-view.ts). A filter or
 * page that cannot be served answers 400 with what to fix.
 *
 * The route is the single segment `connections`, GET only; POST /api/connections/replay
 * (operate-api.ts) has two segments, so neither template can match the other's requests.
 */
export const connectionsApiHandler = adminRoute(
  () => ['Audit.Read'],
  () => 'GET /api/connections',
  async (request) => {
    const page = await readInventory({ inventory: getServices().inventory }, request.query);
    return {
      status: 200,
      jsonBody: {
        entries: page.entries.map(inventoryJson),
        ...(page.continuationToken ? { continuationToken: page.continuationToken } : {}),
      },
    };
  },
);

/** An entry as the API answers it: dates as ISO 8601 text. */
export function inventoryJson(entry: InventoryEntry): Record<string, unknown> {
  return { ...entry, firstSeenAt: entry.firstSeenAt.toISOString(), statusChangedAt: entry.statusChangedAt.toISOString() };
}

export const connectionsApi: HttpFunctionSpec = {
  kind: 'http',
  name: 'connections',
  route: 'connections',
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: connectionsApiHandler,
};
