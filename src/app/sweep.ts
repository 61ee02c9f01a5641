import { parseResourceId, type ResourceRef } from '../domain/resource-id.js';
import type { ResourceType } from '../domain/resource-types.js';
import type { ApprovalsPort, Logger, ResourceDirectory } from './ports.js';
import type { HintResult, Workflow } from './workflow.js';

export interface SweepReport {
  readonly resources: number;
  readonly results: readonly HintResult[];
  readonly errors: ReadonlyArray<{ readonly resourceId: string; readonly error: string }>;
}

/**
 * Events are hints and can be lost (dead-lettering is off by default) or never raised
 * (which event a cross-subscription request raises is undocumented). The sweep looks again
 * at every resource of the watched types in the configured subscriptions and at every resource
 * with an open record, and hands each to the same workflow as an event would.
 */
export function createSweep(deps: {
  readonly workflow: Workflow;
  readonly approvals: ApprovalsPort;
  readonly directory: ResourceDirectory;
  readonly subscriptions: readonly string[];
  readonly types: readonly ResourceType[];
  readonly log: Logger;
}) {
  return async function sweep(): Promise<SweepReport> {
    const resources = new Map<string, ResourceRef>();
    const errors: { resourceId: string; error: string }[] = [];
    for (const subscriptionId of deps.subscriptions) {
      for (const type of deps.types) {
        try {
          for (const resource of await deps.directory.listResources(subscriptionId, type)) resources.set(resource.key, resource);
        } catch (error) {
          errors.push({ resourceId: `/subscriptions/${subscriptionId}/providers/${type.type}`, error: (error as Error).message });
        }
      }
    }
    for (const id of await deps.approvals.resourcesWithOpenRecords()) {
      const resource = parseResourceId(id);
      resources.set(resource.key, resource);
    }
    const results: HintResult[] = [];
    for (const resource of resources.values()) {
      try {
        results.push(await deps.workflow.handleHint({ resource, source: 'sweep' }));
      } catch (error) {
        // One resource failing must not stop the others; the next sweep tries again.
        errors.push({ resourceId: resource.id, error: (error as Error).message });
        deps.log.error(`Sweep of ${resource.id} failed: ${(error as Error).message}`);
      }
    }
    return { resources: resources.size, results, errors };
  };
}
