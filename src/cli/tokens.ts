import { sendJson } from './http.js';

/**
 * Where the CLI gets the bearer token the admin APIs require.
 * - Locally: from the stack's Entra emulator (its address is in .linkgate/stack.json), as the demo
 *   person named by `--as` or LINKGATE_USER (default the first admin, Ada).
 * - In Azure: from @azure/identity's DefaultAzureCredential (Azure CLI sign-in, environment, managed
 *   identity…) for the API application's scope `api://{LINKGATE_API_CLIENT_ID}/.default`.
 */
export interface LocalAuth {
  readonly authority: string;
  readonly tenantId: string;
  readonly apiClientId: string;
  readonly people: readonly string[];
}

export interface TokenSource {
  /** Who the token is for, for messages. */
  readonly describe: string;
  token(): Promise<string>;
}

export function localTokenSource(auth: LocalAuth, as: string | undefined): TokenSource {
  const username = as ?? auth.people[0];
  if (!username) throw new Error('The local stack lists no people who may sign in.');
  const match = auth.people.find((p) => p.toLowerCase() === username.toLowerCase() || p.split('@')[0]?.toLowerCase() === username.toLowerCase());
  if (!match) throw new Error(`The local stack has no person '${username}' (known: ${auth.people.join(', ')}).`);
  return {
    describe: `${match} (local Entra emulator)`,
    async token() {
      const form = new URLSearchParams({ grant_type: 'password', client_id: '04b07795-8ddb-461a-bbee-02f9e1bf7b46', username: match, password: 'local', scope: `api://${auth.apiClientId}/.default` });
      const result = await sendJson('POST', `${auth.authority}/${auth.tenantId}/oauth2/v2.0/token`, form.toString(), { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      const body = result.body as { access_token?: string; error_description?: string } | undefined;
      if (result.status !== 200 || !body?.access_token) throw new Error(`The local Entra emulator refused a token for ${match}: ${body?.error_description ?? result.text}`);
      return body.access_token;
    },
  };
}

export function azureTokenSource(apiClientId: string, tenantId: string | undefined, scope = `api://${apiClientId}/.default`): TokenSource {
  return {
    describe: `your Azure sign-in (${scope})`,
    async token() {
      // Loaded only here: the local stack never needs it, and it is the slowest import of the CLI.
      const { DefaultAzureCredential } = await import('@azure/identity');
      const credential = new DefaultAzureCredential(tenantId ? { tenantId } : {});
      const token = await credential.getToken(scope);
      return token.token;
    },
  };
}
