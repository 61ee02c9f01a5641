import { stableGuid } from './resource-ids.js';

/** Who performed an ARM operation, as it appears in the claims of a resource event. */
export interface CallerIdentity {
  objectId: string;
  tenantId: string;
  name: string;
  appId: string;
}

/** Well-known public client IDs, so events look like those produced by the CLI/SDK or by the portal. */
export const AZURE_CLI_APP_ID = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
export const AZURE_PORTAL_APP_ID = 'c44b4083-3bb0-49c1-b47d-974e53cbdf3c';

/**
 * Any non-empty bearer token is accepted. When it happens to be a JWT its oid/tid/name claims are used, so
 * tests can act as a specific principal; otherwise a stable fake identity is derived from the token text.
 */
export function identityFromBearer(token: string, fallbackTenantId: string): CallerIdentity {
  const claims = decodeJwtPayload(token);
  const objectId = stringClaim(claims, 'oid') ?? stableGuid(`bearer:${token}`);
  return {
    objectId,
    tenantId: stringClaim(claims, 'tid') ?? fallbackTenantId,
    name: stringClaim(claims, 'upn') ?? stringClaim(claims, 'name') ?? `caller-${objectId.slice(0, 8)}@emulator.test`,
    appId: stringClaim(claims, 'appid') ?? stringClaim(claims, 'azp') ?? AZURE_CLI_APP_ID,
  };
}

export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S.*)$/i.exec(authorization ?? '');
  return match?.[1]?.trim() || undefined;
}

function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
  const payload = token.split('.')[1];
  if (token.split('.').length !== 3 || !payload) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function stringClaim(claims: Record<string, unknown> | undefined, name: string): string | undefined {
  const value = claims?.[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
