import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { TokenValidator } from '../../app/ports.js';
import { APP_ROLES, type AppRole, type Principal } from '../../domain/principal.js';
import { AuthenticationError } from '../../domain/errors.js';
import { isGuid } from '../../domain/resource-id.js';

/**
 * Validates Entra ID access tokens for Linkgate's admin APIs inside the app, with `jose`.
 *
 * Why in the app and not App Service Authentication ("Easy Auth"): the same checks must run on
 * the local stack, where there is no App Service front end, and the role decision is per route
 * (`Audit.Read` reads, `Rules.Write` writes) and per request body (four-eyes), which Easy Auth
 * cannot make; it would only forward the claims for the app to check anyway. Validating here
 * keeps one code path for Azure, the local issuer and the tests, which use real signed tokens.
 * `jose` is a maintained, dependency-free JOSE implementation; Linkgate writes no crypto of its own.
 *
 * What is checked, each a refusal with its own message:
 * - the signature, RS256 only, against the tenant's published keys (`{authority}/{tenant}/discovery/v2.0/keys`),
 *   cached and re-fetched when a token names a key that is not cached (Entra rolls keys);
 * - the issuer: the v2.0 issuer of the home tenant, or its v1.0 issuer. The API's registration asks
 *   for v2.0 tokens (`requestedAccessTokenVersion: 2`), but a registration made by hand may leave
 *   it unset, and Entra then issues v1.0 tokens (learn.microsoft.com, "Access tokens": token formats);
 * - the audience: the API's client ID (v2.0 tokens) or its application ID URI (v1.0 tokens);
 * - expiry and not-before, with 60 s of clock skew;
 * - `tid` is the home tenant, whatever the issuer says, and `oid` is a GUID.
 */
export interface EntraTokenSettings {
  /** Login endpoint without a tenant: `https://login.microsoftonline.com`, a sovereign cloud's, or the local issuer. */
  readonly authority: string;
  readonly tenantId: string;
  /** The API application's client ID. */
  readonly clientId: string;
  /** Accepted audiences; default the client ID and `api://{clientId}`. */
  readonly audiences?: readonly string[];
  /** Accepted issuers; default the v2.0 and v1.0 issuers of the tenant for the authority. */
  readonly issuers?: readonly string[];
  /** For tests: replaces the remote key set. */
  readonly keys?: JWTVerifyGetKey;
  readonly clockToleranceSeconds?: number;
}

/** Tokens longer than this are refused unread; Entra's are a few KB even with many roles and groups. */
const MAX_TOKEN_LENGTH = 16_384;

export function createEntraTokenValidator(settings: EntraTokenSettings): TokenValidator {
  const authority = settings.authority.replace(/\/+$/, '');
  const tenantId = settings.tenantId.toLowerCase();
  const issuers = settings.issuers ?? entraIssuers(authority, tenantId);
  const audiences = settings.audiences ?? [settings.clientId, `api://${settings.clientId}`];
  const keys =
    settings.keys ??
    createRemoteJWKSet(new URL(`${authority}/${tenantId}/discovery/v2.0/keys`), {
      timeoutDuration: 5_000,
      // A token naming an unknown key re-fetches the key set at most this often, so a flood of
      // made-up key IDs cannot turn into a flood of requests to Entra.
      cooldownDuration: 30_000,
      cacheMaxAge: 6 * 3_600_000,
    });
  return {
    async validate(authorization) {
      const token = bearerToken(authorization);
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, keys, {
          algorithms: ['RS256'],
          issuer: [...issuers],
          audience: [...audiences],
          clockTolerance: settings.clockToleranceSeconds ?? 60,
          requiredClaims: ['exp', 'iat', 'tid', 'oid'],
        }));
      } catch (error) {
        // The tenant's keys could not be fetched: not the caller's fault, and not a verdict on the
        // token. jose reports a timeout as JWKSTimeout and passes fetch's own TypeError through.
        if (error instanceof errors.JWKSTimeout || (error instanceof TypeError && /fetch/i.test(error.message))) {
          throw new AuthenticationError(`The home tenant's signing keys could not be fetched (${(error as Error).message}); try again shortly. Nothing was done.`, 'keys-unavailable', { cause: error });
        }
        throw new AuthenticationError(`The bearer token was refused: ${describeJoseError(error)}.`, 'invalid-token', { cause: error });
      }
      return principalOf(payload, tenantId);
    },
  };
}

/** The issuers Entra uses for a tenant's v2.0 and v1.0 access tokens at this authority. */
export function entraIssuers(authority: string, tenantId: string): string[] {
  const base = authority.replace(/\/+$/, '');
  const host = new URL(base).hostname.toLowerCase();
  // v1.0 tokens name the security token service, which is its own host in the public and China
  // clouds (learn.microsoft.com, "Access tokens" and "National clouds"); elsewhere (US Government,
  // the local issuer) it is the authority itself.
  const v1 =
    host === 'login.microsoftonline.com'
      ? `https://sts.windows.net/${tenantId}/`
      : host === 'login.chinacloudapi.cn' || host === 'login.partner.microsoftonline.cn'
        ? `https://sts.chinacloudapi.cn/${tenantId}/`
        : `${base}/${tenantId}/`;
  return [`${base}/${tenantId}/v2.0`, v1];
}

function bearerToken(authorization: string | null | undefined): string {
  if (!authorization?.trim()) {
    throw new AuthenticationError('An Entra ID bearer token is required (Authorization: Bearer …); a function key alone is not an identity.', 'missing-token');
  }
  const match = /^Bearer[ ]+([A-Za-z0-9_.~+/=-]+)$/i.exec(authorization.trim());
  if (!match) throw new AuthenticationError('The Authorization header must be "Bearer " followed by an access token.', 'invalid-token');
  const token = match[1] as string;
  if (token.length > MAX_TOKEN_LENGTH) throw new AuthenticationError(`The bearer token is longer than ${MAX_TOKEN_LENGTH} characters.`, 'invalid-token');
  return token;
}

function principalOf(payload: JWTPayload, homeTenantId: string): Principal {
  const tid = stringClaim(payload, 'tid')?.toLowerCase();
  if (tid !== homeTenantId) {
    throw new AuthenticationError(`The token was issued for tenant ${tid ?? '(none)'}, not Linkgate's home tenant; only the home tenant's identities are accepted.`, 'invalid-token');
  }
  const oid = stringClaim(payload, 'oid');
  if (!oid || !isGuid(oid)) throw new AuthenticationError('The token has no object ID (oid) that is a GUID.', 'invalid-token');
  const rawRoles = payload.roles;
  const roles = new Set<AppRole>();
  if (Array.isArray(rawRoles)) {
    for (const role of rawRoles) if ((APP_ROLES as readonly unknown[]).includes(role)) roles.add(role as AppRole);
  }
  // A delegated token carries the scopes the client was granted (`scp`); an application's own
  // token has none (learn.microsoft.com, "Access token claims reference": scp, roles, idtyp).
  const kind = stringClaim(payload, 'scp') !== undefined || stringClaim(payload, 'idtyp') === 'user' ? 'user' : 'app';
  const name =
    stringClaim(payload, 'name') ??
    stringClaim(payload, 'app_displayname') ??
    stringClaim(payload, 'preferred_username') ??
    (kind === 'app' ? `application ${stringClaim(payload, 'azp') ?? stringClaim(payload, 'appid') ?? oid}` : oid);
  return { objectId: oid.toLowerCase(), tenantId: tid, name: name.slice(0, 200), kind, roles };
}

function stringClaim(payload: JWTPayload, name: string): string | undefined {
  const value = payload[name];
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

function describeJoseError(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'it has expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return 'it was issued for another audience (aud), not this API';
    if (error.claim === 'iss') return "it was issued by another issuer (iss), not the home tenant's";
    if (error.claim === 'nbf') return 'it is not valid yet (nbf)';
    return `its ${error.claim} claim is not accepted (${error.reason})`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'its signature does not verify';
  if (error instanceof errors.JWKSNoMatchingKey) return "it is signed with a key the tenant does not publish";
  if (error instanceof errors.JOSEAlgNotAllowed) return 'it is signed with an algorithm other than RS256';
  if (error instanceof errors.JOSEError) return `${error.code}: ${error.message}`;
  return (error as Error).message;
}
