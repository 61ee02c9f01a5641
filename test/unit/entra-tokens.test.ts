import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEntraTokenValidator, entraIssuers } from '../../src/adapters/auth/entra-tokens.js';
import { AuthenticationError } from '../../src/domain/errors.js';

const TENANT = 'c0a1b2c3-0000-4000-8000-00000000c0de';
const CLIENT = 'a91c1e47-0000-4000-8000-0000000000a9';
const OID = 'ada00000-0000-4000-8000-0000000000a1';
let sign: (payload: JWTPayload, alg?: string) => Promise<string>;
let validator: ReturnType<typeof createEntraTokenValidator>;

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' };
  sign = (payload) => new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).sign(privateKey);
  validator = createEntraTokenValidator({ authority: 'https://login.microsoftonline.com', tenantId: TENANT, clientId: CLIENT, keys: createLocalJWKSet({ keys: [jwk] }) });
});

const now = () => Math.floor(Date.now() / 1000);
const v2 = (extra: JWTPayload = {}): JWTPayload => ({ iss: `https://login.microsoftonline.com/${TENANT}/v2.0`, aud: CLIENT, tid: TENANT, oid: OID, iat: now(), exp: now() + 600, name: 'Ada', scp: 'user_impersonation', roles: ['Rules.Write'], ...extra });

describe('Entra token validation', () => {
  it('accepts a v2.0 token and a v1.0 token of the home tenant, and reads the person and known roles', async () => {
    const principal = await validator.validate(`Bearer ${await sign(v2({ roles: ['Rules.Write', 'Something.Else'] }))}`);
    expect(principal).toMatchObject({ objectId: OID, name: 'Ada', kind: 'user', tenantId: TENANT });
    expect([...principal.roles]).toEqual(['Rules.Write']);
    const v1 = await validator.validate(`Bearer ${await sign(v2({ iss: `https://sts.windows.net/${TENANT}/`, aud: `api://${CLIENT}` }))}`);
    expect(v1.objectId).toBe(OID);
  });

  it('reads an application token (no scp) as an application, named after it', async () => {
    const principal = await validator.validate(`Bearer ${await sign(v2({ scp: undefined, name: undefined, azp: '11111111-2222-4333-8444-555555555555', idtyp: 'app', roles: ['Operate'] }))}`);
    expect(principal).toMatchObject({ kind: 'app', name: 'application 11111111-2222-4333-8444-555555555555' });
  });

  it.each([
    ['a tenant other than the home tenant in tid, with the home issuer', v2({ tid: 'fab00000-0000-4000-8000-00000000fab0' }), /issued for tenant fab0/],
    ['the common endpoint as issuer', v2({ iss: 'https://login.microsoftonline.com/common/v2.0' }), /another issuer/],
    ['a Graph token', v2({ aud: 'https://graph.microsoft.com' }), /another audience/],
    ['an object ID that is not a GUID', v2({ oid: 'ada' }), /object ID/],
    ['a token not valid yet', v2({ nbf: now() + 3600 }), /not valid yet/],
  ])('refuses %s', async (_what, payload, message) => {
    await expect(validator.validate(`Bearer ${await sign(payload)}`)).rejects.toThrow(message);
  });

  it('refuses an unsigned token and one signed with a shared secret', async () => {
    const header = (alg: string) => Buffer.from(JSON.stringify({ alg, kid: 'k1' })).toString('base64url');
    const body = Buffer.from(JSON.stringify(v2())).toString('base64url');
    await expect(validator.validate(`Bearer ${header('none')}.${body}.`)).rejects.toBeInstanceOf(AuthenticationError);
    const hs = await new SignJWT(v2()).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(new TextEncoder().encode('x'.repeat(32)));
    await expect(validator.validate(`Bearer ${hs}`)).rejects.toThrow(/algorithm other than RS256|refused/);
  });

  it('knows the v1.0 issuers of the public, China and US Government clouds', () => {
    expect(entraIssuers('https://login.microsoftonline.com', TENANT)).toEqual([`https://login.microsoftonline.com/${TENANT}/v2.0`, `https://sts.windows.net/${TENANT}/`]);
    expect(entraIssuers('https://login.chinacloudapi.cn', TENANT)[1]).toBe(`https://sts.chinacloudapi.cn/${TENANT}/`);
    expect(entraIssuers('https://login.microsoftonline.us/', TENANT)[1]).toBe(`https://login.microsoftonline.us/${TENANT}/`);
  });
});

describe('Entra token validation: when the tenant keys cannot be fetched', () => {
  it('says so as keys-unavailable (503), not as a bad token', async () => {
    // Prepare: a key endpoint on a port nothing listens on.
    const offline = createEntraTokenValidator({ authority: 'http://127.0.0.1:9', tenantId: TENANT, clientId: CLIENT });
    // Act / Assess
    await expect(offline.validate(`Bearer ${await sign(v2())}`)).rejects.toMatchObject({ code: 'keys-unavailable' });
  });
});
