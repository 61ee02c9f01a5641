import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { DEMO, DEMO_TEAMS } from '../../src/dev/demo-world.js';
import { parseConnectionId } from '../../src/domain/resource-id.js';
import type { LocalStack } from '../../src/dev/local-stack.js';
import { auditEntries, auth, eventually, startTestStack } from './helpers.js';

/**
 * The admin APIs through the local stack with real signed tokens from its Entra emulator:
 * every bad token is refused on every route, roles decide what a caller may do, and a rule that
 * could approve on its own needs a second person.
 */
let stack: LocalStack;
let stateDir: string;

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'linkgate-admin-'));
  stack = await startTestStack({ stateDir });
});
afterAll(async () => {
  await stack?.close();
});

interface Route {
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  /** A person who holds no role this route accepts. */
  readonly without: string;
}

const ROUTES: Route[] = [
  { method: 'GET', path: '/api/audit', without: 'rita@contoso.example' },
  { method: 'GET', path: '/api/connections', without: 'rita@contoso.example' },
  { method: 'GET', path: '/api/rules', without: 'rita@contoso.example' },
  { method: 'PUT', path: '/api/rules/shadow-probe', body: { priority: 5, mode: 'shadow', action: 'approve' }, without: 'bob@contoso.example' },
  { method: 'DELETE', path: '/api/rules/shadow-probe', without: 'bob@contoso.example' },
  { method: 'GET', path: '/api/rule-proposals', without: 'rita@contoso.example' },
  { method: 'POST', path: '/api/rule-proposals/20261202000000-00000000/confirm', body: {}, without: 'bob@contoso.example' },
  { method: 'GET', path: '/api/teams/conversations', without: 'bob@contoso.example' },
  { method: 'POST', path: '/api/sweep', body: {}, without: 'grace@contoso.example' },
  { method: 'GET', path: '/api/automation', without: 'rita@contoso.example' },
  { method: 'POST', path: '/api/connections/replay', body: { connectionId: 'x' }, without: 'grace@contoso.example' },
  { method: 'POST', path: '/api/automation/hold', body: { reason: 'probe' }, without: 'grace@contoso.example' },
];

async function call(route: Pick<Route, 'method' | 'path' | 'body'>, headers: Record<string, string>): Promise<{ status: number; body: any; challenge: string | null }> {
  const response = await fetch(`${stack.functionsUrl}${route.path}`, {
    method: route.method,
    headers: { 'content-type': 'application/json', ...headers },
    ...(route.body === undefined ? {} : { body: JSON.stringify(route.body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, challenge: response.headers.get('www-authenticate') };
}

async function strangerSigned(): Promise<string> {
  // Signed by a key the tenant does not publish, under the kid the tenant does publish, so the
  // signature itself is what fails.
  const keys = (await (await fetch(`${stack.entra!.authority}/${DEMO.homeTenantId}/discovery/v2.0/keys`)).json()) as { keys: Array<{ kid: string }> };
  const { privateKey } = await generateKeyPair('RS256');
  const good = JSON.parse(Buffer.from((await stack.entra!.issue({ person: 'ada@contoso.example' })).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  return new SignJWT(good).setProtectedHeader({ alg: 'RS256', kid: keys.keys[0]!.kid }).sign(privateKey);
}

const BAD_TOKENS: Array<[string, () => Promise<Record<string, string>>, RegExp]> = [
  ['no token', async () => ({}), /bearer token is required/],
  ['a function key alone', async () => ({ 'x-functions-key': 'the-shared-key' }), /bearer token is required/],
  ['not a bearer token', async () => ({ authorization: 'Basic YWRhOnB3' }), /must be "Bearer "/],
  ['a wrong signature', async () => ({ authorization: `Bearer ${await strangerSigned()}` }), /signature does not verify/],
  ['a wrong audience', async () => ({ authorization: `Bearer ${await stack.entra!.issue({ person: 'ada', claims: { aud: 'api://someone-else' } })}` }), /another audience/],
  ['a wrong issuer', async () => ({ authorization: `Bearer ${await stack.entra!.issue({ person: 'ada', claims: { iss: 'https://login.microsoftonline.com/common/v2.0' } })}` }), /another issuer/],
  ['an expired token', async () => ({ authorization: `Bearer ${await stack.entra!.issue({ person: 'ada', claims: { iat: Math.floor(Date.now() / 1000) - 7200, exp: Math.floor(Date.now() / 1000) - 3600 } })}` }), /expired/],
  ['another tenant', async () => ({ authorization: `Bearer ${await stack.entra!.issue({ person: 'ada', claims: { tid: DEMO.partnerTenantId } })}` }), /issued for tenant fab0/],
  ['no object ID', async () => ({ authorization: `Bearer ${await stack.entra!.issue({ person: 'ada', claims: { oid: 'not-a-guid' } })}` }), /object ID/],
];

describe('admin APIs: every bad token is refused on every route', () => {
  for (const route of ROUTES) {
    it.each(BAD_TOKENS)(`${route.method} ${route.path} refuses %s with 401`, async (_what, headers, message) => {
      const answer = await call(route, await headers());
      expect(answer.status).toBe(401);
      expect(answer.body.error).toMatch(message);
      expect(answer.challenge).toMatch(/^Bearer realm="linkgate"/);
    });

    it(`${route.method} ${route.path} refuses a valid token without the role with 403, and audits who asked`, async () => {
      const answer = await call(route, await auth(stack, route.without));
      expect(answer.status).toBe(403);
      expect(answer.body.error).toMatch(/needs the app role/);
      const refusals = await auditEntries(stack, { outcome: 'not-allowed' });
      expect(refusals.some((e) => e.kind === 'admin' && (e.detail as { action?: string }).action?.startsWith(`${route.method} ${route.path.split('/').slice(0, 3).join('/')}`))).toBe(true);
    });
  }

  it('answers a valid token with the caller and roles Linkgate sees', async () => {
    const answer = await call({ method: 'GET', path: '/api/whoami' }, await auth(stack, 'grace@contoso.example'));
    expect(answer).toMatchObject({ status: 200, body: { name: 'Grace Approver', kind: 'user', roles: ['Audit.Read', 'Rules.Write'] } });
  });
});

describe('admin APIs: route parameters that cannot name a rule', () => {
  it.each(['a%2Fb', '..%2F..', 'a%23b', '%2E', 'x'.repeat(65)])('DELETE /api/rules/%s answers 400 at once', async (name) => {
    const answer = await call({ method: 'DELETE', path: `/api/rules/${name}` }, await auth(stack));
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(/cannot name a rule|name/);
  });
});

describe('four-eyes: the open-sesame rule needs a second person', () => {
  it('leaves a deny-listed request rejected until Grace confirms what Ada proposed, and audits both people with the rule before and after', async () => {
    // Prepare: Ada proposes an approve-everything rule at the top.
    const proposed = await call({ method: 'PUT', path: '/api/rules/open-sesame', body: { priority: 0, action: 'approve' } }, await auth(stack, 'ada'));
    expect(proposed.status).toBe(202);
    expect(proposed.body).toMatchObject({ status: 'proposed', proposal: { ruleName: 'open-sesame', status: 'pending', proposedBy: { name: 'Ada Approver' } } });
    const id = proposed.body.proposal.id as string;

    // Assess: nothing changed yet, so the deny-listed tenant is still rejected.
    const denied = await stack.emulator!.simulateRequest({ vault: DEMO.vaultName, fromSubscription: DEMO.deniedSubscriptionId, endpointName: 'pe-northwind-1' });
    await eventually(async () => (stack.emulator!.getConnection(denied.id)?.properties.privateLinkServiceConnectionState.status === 'Rejected' ? true : undefined), 'the deny-listed request to be rejected');

    // Act: Ada may not confirm her own proposal; Grace may.
    const self = await call({ method: 'POST', path: `/api/rule-proposals/${id}/confirm`, body: {} }, await auth(stack, 'ada'));
    expect(self.status).toBe(403);
    expect(self.body.code).toBe('same-person');
    const confirmed = await call({ method: 'POST', path: `/api/rule-proposals/${id}/confirm`, body: {} }, await auth(stack, 'grace'));
    expect(confirmed).toMatchObject({ status: 200, body: { status: 'applied', proposal: { status: 'applied', decidedBy: { name: 'Grace Approver' } } } });

    // Assess: the audit names both people and the rule before and after.
    const changes = await auditEntries(stack, { outcome: 'rule-changed' });
    expect(changes.find((e) => e.ruleName === 'open-sesame')).toMatchObject({
      kind: 'admin',
      actor: { type: 'user', id: 'ace00000-0000-4000-8000-0000000000a2', name: 'Grace Approver' },
      detail: { change: 'added', before: null, after: { name: 'open-sesame', action: 'approve', priority: 0 }, proposal: { id, proposedBy: { name: 'Ada Approver' } } },
    });
    const proposals = await auditEntries(stack, { outcome: 'proposed' });
    expect(proposals.find((e) => e.ruleName === 'open-sesame')?.actor).toMatchObject({ id: 'ada00000-0000-4000-8000-0000000000a1', name: 'Ada Approver' });

    // The admins' conversation (the team's General channel here) was told of both steps.
    const notices = stack.teams!.messages(DEMO_TEAMS.teamId).map((m) => m.text ?? '');
    expect(notices.some((t) => t.startsWith("Ada Approver proposed a change to rule 'open-sesame'") && t.includes(`linkgate proposals confirm ${id}`))).toBe(true);
    expect(notices.some((t) => t.startsWith(`Grace Approver added rule 'open-sesame', confirming Ada Approver's proposal ${id}`))).toBe(true);

    // Clean up at once: a delete takes effect immediately.
    expect((await call({ method: 'DELETE', path: '/api/rules/open-sesame' }, await auth(stack, 'grace'))).status).toBe(204);
  });

  it('applies a shadow rule at once, naming the person', async () => {
    const written = await call({ method: 'PUT', path: '/api/rules/try-approve-all', body: { priority: 1, mode: 'shadow', action: 'approve' } }, await auth(stack, 'grace'));
    expect(written).toMatchObject({ status: 200, body: { status: 'applied', rule: { name: 'try-approve-all', mode: 'shadow' } } });
    const entry = (await auditEntries(stack, { outcome: 'rule-changed' })).find((e) => e.ruleName === 'try-approve-all');
    expect(entry).toMatchObject({ actor: { name: 'Grace Approver' }, detail: { change: 'added', before: null, after: { mode: 'shadow' } } });
  });
});

describe('break-glass: a hold on automatic decisions', () => {
  it('sends an in-tenant request to a person while Ada holds automation, and approves again once released', async () => {
    // Act: Ada (Operate) places the hold.
    const held = await call({ method: 'POST', path: '/api/automation/hold', body: { reason: 'incident 42' } }, await auth(stack, 'ada'));
    expect(held).toMatchObject({ status: 200, body: { automatic: false, hold: { by: { name: 'Ada Approver' }, reason: 'incident 42' } } });
    const during = await stack.emulator!.simulateRequest({ vault: DEMO.vaultName, fromSubscription: DEMO.appSubscriptionId, endpointName: 'pe-during-hold' });

    // Assess: the in-tenant rule said approve, but a person decides; no PUT was sent.
    const decision = await eventually(async () => (await auditEntries(stack, { connection: during.id })).find((e) => e.kind === 'decision'), 'the decision during the hold');
    expect(decision).toMatchObject({ outcome: 'review', summary: expect.stringContaining('automatic decisions are on hold (by Ada Approver') });
    expect(stack.emulator!.getConnection(during.id)?.properties.privateLinkServiceConnectionState.status).toBe('Pending');

    // Act: a release needs a reason, then in-tenant requests are approved again.
    expect((await call({ method: 'POST', path: '/api/automation/release', body: {} }, await auth(stack, 'ada'))).status).toBe(400);
    const released = await call({ method: 'POST', path: '/api/automation/release', body: { reason: 'incident closed' } }, await auth(stack, 'ada'));
    expect(released).toMatchObject({ status: 200, body: { automatic: true } });
    const after = await stack.emulator!.simulateRequest({ vault: DEMO.vaultName, fromSubscription: DEMO.appSubscriptionId, endpointName: 'pe-after-hold' });
    await eventually(async () => (stack.emulator!.getConnection(after.id)?.properties.privateLinkServiceConnectionState.status === 'Approved' ? true : undefined), 'the approval after the release');
    const entries = [...(await auditEntries(stack, { outcome: 'held' })), ...(await auditEntries(stack, { outcome: 'released' }))];
    expect(entries.map((e) => [e.outcome, e.actor.name])).toEqual([['held', 'Ada Approver'], ['released', 'Ada Approver']]);
  });
});

describe('replay: an operator looks at a failed connection again', () => {
  it('gives a connection that failed its attempts back and approves it at once, naming the operator', async () => {
    // Prepare: every PUT fails until the operator fixes what was wrong (here: the fault runs out).
    stack.emulator!.injectFault({ method: 'PUT', pathIncludes: 'pe-replayed', status: 403, times: 1 });
    const connection = await stack.emulator!.simulateRequest({ vault: DEMO.vaultName, fromSubscription: DEMO.appSubscriptionId, endpointName: 'pe-replayed' });
    const record = await eventually(async () => {
      const found = await stack.services.approvals.get(parseConnectionId(connection.id));
      return found?.value.state === 'Failed' ? found.value : undefined;
    }, 'the failed attempt');
    expect(record.attempts).toBe(1);

    // Act
    const answer = await call({ method: 'POST', path: '/api/connections/replay', body: { connectionId: connection.id } }, await auth(stack, 'ada'));

    // Assess
    expect(answer).toMatchObject({ status: 200, body: { attemptsReset: true, outcome: 'approved' } });
    expect(stack.emulator!.getConnection(connection.id)?.properties.privateLinkServiceConnectionState.status).toBe('Approved');
    const replayed = (await auditEntries(stack, { connection: connection.id })).find((e) => e.kind === 'admin');
    expect(replayed).toMatchObject({ actor: { name: 'Ada Approver' }, summary: expect.stringMatching(/^Ada Approver replayed pe-replayed.*giving back its 1 failed attempt/) });
  });

  it('answers 400 for an ID that cannot name a connection, and sends nothing to ARM', async () => {
    const before = stack.emulator!.calls.length;
    for (const connectionId of ['x', `/subscriptions/${DEMO.vaultSubscriptionId}/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv-payments/privateEndpointConnections/..`]) {
      const answer = await call({ method: 'POST', path: '/api/connections/replay', body: { connectionId } }, await auth(stack, 'ada'));
      expect(answer.status).toBe(400);
    }
    expect(stack.emulator!.calls.length).toBe(before);
  });
});

describe('the linkgate CLI against the local stack, with tokens from its issuer', () => {
  function capture() {
    const lines: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
    return { lines, restore: () => spy.mockRestore() };
  }

  it('says who you are, proposes as Ada, lists the proposal, declines it as Grace', async () => {
    const out = capture();
    try {
      expect(await main(['whoami', '--as', 'bob', '--state-dir', stateDir])).toBe(0);
      expect(out.lines.at(-1)).toMatch(/^Bob Bystander \(b0b00000-.*\) via bob@contoso.example \(local Entra emulator\); roles: Audit.Read$/);

      const file = join(stateDir, 'rule.json');
      const { writeFileSync } = await import('node:fs');
      writeFileSync(file, JSON.stringify({ name: 'partner-auto', priority: 30, action: 'approve', conditions: { requesterTenant: [DEMO.partnerTenantId] } }));
      expect(await main(['rules', 'put', '--file', file, '--as', 'ada', '--state-dir', stateDir])).toBe(0);
      const id = /Proposed \(([^)]+)\)/.exec(out.lines.join('\n'))?.[1];
      expect(id).toBeDefined();

      expect(await main(['proposals', 'list', '--as', 'bob', '--state-dir', stateDir])).toBe(0);
      expect(out.lines.some((l) => l.startsWith(`${id}  pending   rule 'partner-auto' proposed by Ada Approver`))).toBe(true);

      expect(await main(['proposals', 'decline', id!, '--comment', 'partners go to review', '--as', 'grace', '--state-dir', stateDir])).toBe(0);
      expect(out.lines.at(-1)).toBe(`Proposal ${id} declined.`);
    } finally {
      out.restore();
    }
  });

  it('refuses a sweep for someone without Operate and runs it for Ada', async () => {
    await expect(main(['sweep', '--as', 'grace', '--state-dir', stateDir])).rejects.toThrow(/HTTP 403: POST \/api\/sweep needs the app role Operate/);
    const out = capture();
    try {
      expect(await main(['sweep', '--as', 'ada', '--state-dir', stateDir])).toBe(0);
      expect(out.lines.find((line) => line.startsWith('Swept in '))).toMatch(/^Swept in \d+ ms: /);
      expect(out.lines).toContain('  0 error(s)');
    } finally {
      out.restore();
    }
  });
});
