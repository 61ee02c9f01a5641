import type { TokenCredential } from '@azure/core-auth';
import { armRetryPolicy, type ArmRetryOptions } from './arm-retry-policy.js';

export interface ArmConnection {
  readonly endpoint: string;
  readonly credential: TokenCredential;
  /** Extra CA certificates to trust (PEM). Absent: Node's store, which honours NODE_EXTRA_CA_CERTS. */
  readonly caPem?: string;
  readonly retry: ArmRetryOptions;
}

/**
 * Options shared by every ARM client. Passing `ca` replaces Node's trust store for that
 * client, so it is only set when a CA is configured; otherwise NODE_EXTRA_CA_CERTS keeps working.
 */
export function armClientOptions(arm: ArmConnection) {
  const endpoint = arm.endpoint.replace(/\/+$/, '');
  return {
    endpoint,
    // The token audience is the ARM endpoint's own, so the same code serves sovereign clouds.
    credentials: { scopes: [`${endpoint}/.default`] },
    retryOptions: { maxRetries: 0 },
    additionalPolicies: [{ policy: armRetryPolicy(arm.retry), position: 'perCall' as const }],
    ...(arm.caPem ? { tlsOptions: { ca: arm.caPem } } : {}),
    userAgentOptions: { userAgentPrefix: 'linkgate' },
  };
}
