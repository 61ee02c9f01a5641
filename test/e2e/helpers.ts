import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEntry } from '../../src/domain/audit.js';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../../src/dev/local-stack.js';

const quiet = { info: () => {}, warn: () => {}, error: () => {} };

/** The local stack on free ports with its state in a temporary folder. */
export function startTestStack(options: Partial<LocalStackOptions> = {}): Promise<LocalStack> {
  return startLocalStack({
    port: 0,
    stateDir: mkdtempSync(join(tmpdir(), 'linkgate-e2e-')),
    timers: false,
    provisioningDelayMs: 100,
    log: quiet,
    hostLog: () => {},
    env: {},
    ...options,
  });
}

/** Authorization headers with a token from the stack's Entra emulator, as a demo person (default Ada, who holds every role). */
export async function auth(stack: LocalStack, person = 'ada@contoso.example'): Promise<Record<string, string>> {
  if (!stack.entra) throw new Error('This stack has no local Entra issuer');
  return { authorization: `Bearer ${await stack.entra.issue({ person })}` };
}

export async function getJson(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // keep text
  }
  return { status: response.status, body: parsed };
}

/** Every audit entry for a filter, following continuation tokens. */
export async function auditEntries(stack: LocalStack, query: Record<string, string>): Promise<AuditEntry[]> {
  const entries: AuditEntry[] = [];
  let token: string | undefined;
  do {
    const params = new URLSearchParams({ ...query, pageSize: '100', ...(token ? { continuationToken: token } : {}) });
    const page = await getJson(`${stack.functionsUrl}/api/audit?${params}`, await auth(stack));
    if (page.status !== 200) throw new Error(`GET /api/audit answered ${page.status}: ${JSON.stringify(page.body)}`);
    entries.push(...page.body.entries);
    token = page.body.continuationToken;
  } while (token);
  return entries;
}

/** Polls until `check` returns a value; the bound keeps a broken pipeline from hanging the suite. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function putsFor(stack: LocalStack, connectionName: string) {
  return (stack.emulator?.calls ?? []).filter((c) => c.method === 'PUT' && c.path.toLowerCase().endsWith(`/privateendpointconnections/${connectionName.toLowerCase()}`));
}
