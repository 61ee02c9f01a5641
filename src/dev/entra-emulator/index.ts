/**
 * A local Entra ID token issuer for the dev stack, served by the dev host under `/entra-emulator`.
 * It has its own RSA signing key, generated at start, and answers the three endpoints Linkgate and
 * its CLI use, in the shapes Entra uses (learn.microsoft.com, "OpenID Connect on the Microsoft
 * identity platform" and "OAuth 2.0 Resource Owner Password Credentials"):
 *
 * - `GET  /entra-emulator/{tenant}/v2.0/.well-known/openid-configuration` — issuer, jwks_uri, token endpoint;
 * - `GET  /entra-emulator/{tenant}/discovery/v2.0/keys` — the public key set (JWKS);
 * - `POST /entra-emulator/{tenant}/oauth2/v2.0/token` — form-encoded `grant_type=password` with
 *   `username` (a demo person's user name) and `scope` (`api://{clientId}/.default`); answers
 *   `{ token_type, access_token, expires_in }` or Entra's error body (`error`, `error_description`
 *   with an AADSTS code, `error_codes`). Passwords are not checked: the demo people are made up.
 *
 * Tokens are v2.0 access tokens for the API application: `aud` is the client ID, `iss`
 * `{authority}/{tenant}/v2.0`, with `oid`, `tid`, `name`, `preferred_username`, `scp` and the
 * person's app role assignments in `roles`, exactly what the app validates in Azure.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import type { AppRole } from '../../domain/principal.js';
import { sendJson, type DevHost } from '../dev-host.js';

export const ENTRA_EMULATOR_PATH = '/entra-emulator';
/** The Azure CLI's public client ID, which the CLI's tokens name as `azp`. */
const AZURE_CLI_CLIENT_ID = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
const TOKEN_LIFETIME_SECONDS = 3_600;

export interface EmulatedAdmin {
  readonly objectId: string;
  readonly name: string;
  /** What a person types as user name; matched case-insensitively. */
  readonly username: string;
  readonly roles: readonly AppRole[];
}

export interface EntraEmulatorOptions {
  readonly tenantId: string;
  /** The API application's client ID: the audience of every token. */
  readonly apiClientId: string;
  readonly people: readonly EmulatedAdmin[];
}

export interface TokenRequest {
  /** A person's user name or object ID. */
  readonly person: string;
  /** Claims to replace or add (a test's wrong audience, another tenant, an old `exp`). */
  readonly claims?: JWTPayload;
  /** Roles instead of the person's assignments. */
  readonly roles?: readonly string[];
}

export interface EntraEmulator {
  /** `${host.url}/entra-emulator`: what LINKGATE_AUTH_AUTHORITY names locally. */
  readonly authority: string;
  readonly issuer: string;
  /** A signed access token, as the token endpoint would issue it, with optional changes. */
  issue(request: TokenRequest): Promise<string>;
  /** Signs any payload with the emulator's key (for tests of claims Entra would never send). */
  sign(payload: JWTPayload): Promise<string>;
}

export async function attachEntraEmulator(host: DevHost, options: EntraEmulatorOptions): Promise<EntraEmulator> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { modulusLength: 2048 });
  const kid = randomUUID();
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, use: 'sig', alg: 'RS256' };
  const authority = `${host.url}${ENTRA_EMULATOR_PATH}`;
  const tenantId = options.tenantId.toLowerCase();
  const issuer = `${authority}/${tenantId}/v2.0`;

  const sign = (payload: JWTPayload) => signWith(privateKey, kid, payload);
  // A person is named by user name, its part before the @, or object ID.
  const findPerson = (who: string) => {
    const name = who.toLowerCase();
    return options.people.find((p) => p.username.toLowerCase() === name || p.username.toLowerCase().split('@')[0] === name || p.objectId === name);
  };
  const issue = async (request: TokenRequest): Promise<string> => {
    const person = findPerson(request.person);
    if (!person) throw new Error(`The Entra emulator knows no person '${request.person}' (known: ${options.people.map((p) => p.username).join(', ')})`);
    return sign({ ...accessTokenClaims(issuer, tenantId, options.apiClientId, person, request.roles ?? person.roles), ...request.claims });
  };

  host.addRoute('GET', `${ENTRA_EMULATOR_PATH}/*`, (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname.slice(ENTRA_EMULATOR_PATH.length);
    if (path === `/${tenantId}/v2.0/.well-known/openid-configuration`) {
      return sendJson(res, 200, {
        issuer,
        jwks_uri: `${authority}/${tenantId}/discovery/v2.0/keys`,
        token_endpoint: `${authority}/${tenantId}/oauth2/v2.0/token`,
        id_token_signing_alg_values_supported: ['RS256'],
        tenant_region_scope: 'EU',
      });
    }
    if (path === `/${tenantId}/discovery/v2.0/keys`) return sendJson(res, 200, { keys: [jwk] });
    return entraError(res, 404, 'invalid_tenant', 90002, `Tenant or endpoint '${path}' not found. This emulator serves tenant ${tenantId} only.`);
  });
  host.addRoute('POST', `${ENTRA_EMULATOR_PATH}/*`, async (req, res, body) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname.slice(ENTRA_EMULATOR_PATH.length);
    if (path !== `/${tenantId}/oauth2/v2.0/token`) return entraError(res, 404, 'invalid_tenant', 90002, `Tenant or endpoint '${path}' not found.`);
    await answerTokenRequest(req, res, body, { issue, findPerson, apiClientId: options.apiClientId });
  });
  return { authority, issuer, issue, sign };
}

async function answerTokenRequest(
  _req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  deps: { issue: (r: TokenRequest) => Promise<string>; findPerson: (who: string) => EmulatedAdmin | undefined; apiClientId: string },
): Promise<void> {
  const form = new URLSearchParams(body.toString('utf8'));
  if (form.get('grant_type') !== 'password') {
    return entraError(res, 400, 'unsupported_grant_type', 70003, "The emulator issues tokens for people only: grant_type must be 'password'.");
  }
  const scopes = (form.get('scope') ?? '').split(/\s+/).filter(Boolean);
  const wanted = [`api://${deps.apiClientId}/.default`, `${deps.apiClientId}/.default`, `api://${deps.apiClientId}/user_impersonation`];
  if (!scopes.some((scope) => wanted.includes(scope.toLowerCase()))) {
    return entraError(res, 400, 'invalid_scope', 70011, `The scope must name Linkgate's API, e.g. api://${deps.apiClientId}/.default.`);
  }
  const username = form.get('username') ?? '';
  if (!deps.findPerson(username)) return entraError(res, 400, 'invalid_grant', 50034, `The user account ${username || '(none)'} does not exist in the tenant.`);
  const token = await deps.issue({ person: username });
  sendJson(res, 200, { token_type: 'Bearer', scope: `api://${deps.apiClientId}/user_impersonation`, expires_in: TOKEN_LIFETIME_SECONDS, ext_expires_in: TOKEN_LIFETIME_SECONDS, access_token: token });
}

function accessTokenClaims(issuer: string, tenantId: string, apiClientId: string, person: EmulatedAdmin, roles: readonly string[]): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return {
    aud: apiClientId,
    iss: issuer,
    iat: now,
    nbf: now,
    exp: now + TOKEN_LIFETIME_SECONDS,
    azp: AZURE_CLI_CLIENT_ID,
    azpacr: '0',
    name: person.name,
    oid: person.objectId,
    preferred_username: person.username,
    roles: [...roles],
    scp: 'user_impersonation',
    sub: person.objectId.replace(/-/g, '').slice(0, 22),
    tid: tenantId,
    ver: '2.0',
  };
}

async function signWith(key: CryptoKey, kid: string, payload: JWTPayload): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid }).sign(key);
}

function entraError(res: ServerResponse, status: number, error: string, code: number, description: string): void {
  sendJson(res, status, {
    error,
    error_description: `AADSTS${code}: ${description}`,
    error_codes: [code],
    timestamp: new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    trace_id: randomUUID(),
    correlation_id: randomUUID(),
  });
}
