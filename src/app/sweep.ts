import { parseVaultId, type VaultRef } from '../domain/resource-id.js';
import type { ApprovalsPort, Logger } from './ports.js';
import type { HintResult, Workflow } from './workflow.js';

export interface VaultDirectory {
  listVaults(subscriptionId: string): Promise<VaultRef[]>;
}

export interface SweepReport {
  readonly vaults: number;
  readonly results: readonly HintResult[];
  readonly errors: ReadonlyArray<{ readonly vaultId: string; readonly error: string }>;
}

/**
 * Events are hints and can be lost (dead-lettering is off by default) or never raised
 * (which event a cross-subscription request raises is undocumented). The sweep looks again
 * at every vault in the configured subscriptions and at every vault with an open record, and
 * hands each to the same workflow as an event would.
 */
export function createSweep(deps: {
  readonly workflow: Workflow;
  readonly approvals: ApprovalsPort;
  readonly directory: VaultDirectory;
  readonly subscriptions: readonly string[];
  readonly log: Logger;
}) {
  return async function sweep(): Promise<SweepReport> {
    const vaults = new Map<string, VaultRef>();
    const errors: { vaultId: string; error: string }[] = [];
    for (const subscriptionId of deps.subscriptions) {
      try {
        for (const vault of await deps.directory.listVaults(subscriptionId)) vaults.set(vault.key, vault);
      } catch (error) {
        errors.push({ vaultId: `/subscriptions/${subscriptionId}`, error: (error as Error).message });
      }
    }
    for (const id of await deps.approvals.vaultsWithOpenRecords()) {
      const vault = parseVaultId(id);
      vaults.set(vault.key, vault);
    }
    const results: HintResult[] = [];
    for (const vault of vaults.values()) {
      try {
        results.push(await deps.workflow.handleHint({ vault, source: 'sweep' }));
      } catch (error) {
        // One vault failing must not stop the others; the next sweep tries again.
        errors.push({ vaultId: vault.id, error: (error as Error).message });
        deps.log.error(`Sweep of ${vault.id} failed: ${(error as Error).message}`);
      }
    }
    return { vaults: vaults.size, results, errors };
  };
}
