import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/core-auth';
import type { DefaultAzureCredentialClientIdOptions } from '@azure/identity';
import { loadOnFirstUse } from '../load-on-first-use.js';

/** What is used of `@azure/identity`, typed structurally (its ESM and CommonJS typings differ). */
interface IdentityModule {
  readonly DefaultAzureCredential: new (options?: DefaultAzureCredentialClientIdOptions) => TokenCredential;
}

/**
 * DefaultAzureCredential, built on the first token request. `@azure/identity` pulls in MSAL
 * (about 350 KiB of the bundle), which every cold start would otherwise parse before the first
 * function runs. The first request needs a token from the managed identity endpoint anyway, so
 * the load moves next to a network call it cannot avoid (README, "The build", has the numbers).
 */
export function lazyDefaultAzureCredential(
  options: DefaultAzureCredentialClientIdOptions = {},
  load: () => Promise<IdentityModule> = () => import('@azure/identity'),
): TokenCredential {
  const credential = loadOnFirstUse(async () => new (await load()).DefaultAzureCredential(options));
  return {
    async getToken(scopes: string | string[], getTokenOptions?: GetTokenOptions): Promise<AccessToken | null> {
      return (await credential()).getToken(scopes, getTokenOptions);
    },
  };
}
