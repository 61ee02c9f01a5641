/**
 * The baseline of the hint benchmarks: what a bare script with the Key Vault SDK does to approve a
 * vault's Pending connections, and nothing else. List the vault's connections, PUT Approved on each
 * Pending one, then follow the PUT the way Azure says (the Azure-AsyncOperation URL, else Location,
 * waiting the Retry-After each answer gives, clamped as Linkgate clamps it), and read the connection
 * once at the end. No policy, no tenant lookup, no audit, no table: the cost of the ARM work alone.
 */
import { KeyVaultManagementClient, type PrivateEndpointConnection } from '@azure/arm-keyvault';
import type { TokenCredential } from '@azure/core-auth';
import { createDefaultHttpClient, createPipelineRequest, type HttpClient } from '@azure/core-rest-pipeline';
import { parseRetryAfter } from '../../src/shared/http.js';
import { sleep } from './stack.js';

export interface BareOptions {
  readonly endpoint: string;
  readonly caPem: string;
  readonly subscriptionId: string;
  /** Bounds of a Retry-After, the same as Linkgate's polling. */
  readonly pollMinMs: number;
  readonly pollMaxMs: number;
  /** Pending connections of one vault approved at once. */
  readonly concurrency: number;
}

export interface BareResult {
  readonly approved: number;
  /** Per connection: from the start of its vault's list to the final read that shows it approved. */
  readonly latenciesMs: number[];
  /** Per connection: from the start of its vault's list to its PUT. */
  readonly beforePutMs: number[];
}

const credential: TokenCredential = { getToken: async () => ({ token: 'bench-bare-token', expiresOnTimestamp: Date.now() + 3_600_000 }) };

export function bareApprover(options: BareOptions) {
  const client = new KeyVaultManagementClient(credential, options.subscriptionId, { endpoint: options.endpoint, tlsOptions: { ca: options.caPem } });
  const http: HttpClient = createDefaultHttpClient();
  const clamp = (ms: number | undefined, fallback: number) => Math.min(options.pollMaxMs, Math.max(options.pollMinMs, ms ?? fallback));

  async function follow(url: string, retryAfterMs: number | undefined): Promise<void> {
    let wait = clamp(retryAfterMs, 1_000);
    for (let polls = 0; polls < 100; polls += 1) {
      await sleep(wait);
      const response = await client.pipeline.sendRequest(http, createPipelineRequest({ url, method: 'GET' }));
      const status = (JSON.parse(response.bodyAsText || '{}') as { status?: string }).status;
      if (response.status === 200 && status && !/^(inprogress|running|updating|accepted)$/i.test(status)) return;
      if (response.status === 200 && !status) return;
      if (response.status >= 300 && response.status !== 202) return;
      wait = clamp(parseRetryAfter(response.headers.get('retry-after')), 1_000);
    }
  }

  async function approveVault(resourceGroup: string, vault: string): Promise<BareResult> {
    const started = performance.now();
    const pending: PrivateEndpointConnection[] = [];
    for await (const connection of client.privateEndpointConnections.listByResource(resourceGroup, vault)) {
      if (connection.privateLinkServiceConnectionState?.status === 'Pending' && connection.name) pending.push(connection);
    }
    const latenciesMs: number[] = [];
    const beforePutMs: number[] = [];
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < pending.length; i = next++) {
        const connection = pending[i]!;
        const name = connection.name!.split('/').pop()!;
        let operation: string | undefined;
        let retryAfter: number | undefined;
        beforePutMs.push(performance.now() - started);
        await client.privateEndpointConnections.put(
          resourceGroup,
          vault,
          name,
          { ...(connection.etag ? { etag: connection.etag } : {}), privateLinkServiceConnectionState: { status: 'Approved', description: 'Approved by script.' } },
          {
            onResponse: (response) => {
              operation = response.headers.get('azure-asyncoperation') ?? response.headers.get('location') ?? undefined;
              retryAfter = parseRetryAfter(response.headers.get('retry-after'));
            },
          },
        );
        if (operation) await follow(operation, retryAfter);
        let current = await client.privateEndpointConnections.get(resourceGroup, vault, name);
        for (let wait = 250; current.provisioningState !== 'Succeeded' && wait < 10_000; wait *= 2) {
          await sleep(wait);
          current = await client.privateEndpointConnections.get(resourceGroup, vault, name);
        }
        if (current.privateLinkServiceConnectionState?.status !== 'Approved') throw new Error(`${name} reads ${current.privateLinkServiceConnectionState?.status} after the approval`);
        latenciesMs.push(performance.now() - started);
      }
    };
    await Promise.all(Array.from({ length: Math.min(options.concurrency, pending.length) }, worker));
    return { approved: latenciesMs.length, latenciesMs, beforePutMs };
  }

  return { approveVault };
}
