import { spawnSync } from 'node:child_process';

/**
 * The azd hooks' access to Azure: the Azure CLI, signed in to the tenant azd deploys to. azd's
 * own token is not available to hook scripts, and azd has no command for a second deployment.
 */
export interface AzStep {
  readonly description: string;
  readonly args: readonly string[];
  /** A failure is reported and the hook goes on (for clean-up of what may already be gone). */
  readonly mayFail?: boolean;
}

export class HookError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HookError';
  }
}

export type AzdEnvironment = Readonly<Record<string, string | undefined>>;

export function required(env: AzdEnvironment, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new HookError(`${name} is not in the azd environment; run \`azd provision\` first (it is an output of infra/main.bicep).`);
  return value;
}

/** A JSON array output (azd stores array outputs as JSON text). */
export function requiredArray<T>(env: AzdEnvironment, name: string): T[] {
  const text = required(env, name);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new HookError(`${name} in the azd environment is not JSON: ${text.slice(0, 200)}`);
  }
  if (!Array.isArray(parsed)) throw new HookError(`${name} in the azd environment is not a JSON array`);
  return parsed as T[];
}

export interface AzResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

export type AzRunner = (args: readonly string[]) => AzResult;

export const runAz: AzRunner = (args) => {
  const run = spawnSync('az', [...args], { encoding: 'utf8', env: process.env, shell: process.platform === 'win32', maxBuffer: 64 * 1024 * 1024 });
  if (run.error) throw new HookError(`The Azure CLI (az) could not be started: ${run.error.message}. Install it and run \`az login\`.`);
  return { status: run.status ?? 1, stdout: run.stdout ?? '', stderr: run.stderr ?? '' };
};

/** Runs the steps in order; stops at the first failure that may not fail. */
export function runSteps(steps: readonly AzStep[], az: AzRunner = runAz, log: (line: string) => void = console.log): void {
  for (const step of steps) {
    log(`→ ${step.description}`);
    const result = az(step.args);
    if (result.status === 0) continue;
    const detail = result.stderr.trim().split('\n').slice(-3).join(' ');
    if (step.mayFail) {
      log(`  (skipped: ${detail || `exit ${result.status}`})`);
      continue;
    }
    throw new HookError(`${step.description} failed: az ${step.args.join(' ')}\n${detail}`);
  }
}

/** The CLI must be signed in to the tenant azd deploys to, or every later step fails obscurely. */
export function checkSignedIn(env: AzdEnvironment, hook: 'postdeploy' | 'predown', az: AzRunner = runAz): void {
  const tenant = required(env, 'AZURE_TENANT_ID');
  const account = az(['account', 'show', '--query', 'tenantId', '--output', 'tsv']);
  if (account.status !== 0) throw new HookError(`The Azure CLI is not signed in. Run \`az login --tenant ${tenant}\`, then \`azd hooks run ${hook}\`.`);
  if (account.stdout.trim().toLowerCase() !== tenant.toLowerCase()) {
    throw new HookError(`The Azure CLI is signed in to tenant ${account.stdout.trim()}, but azd deploys to ${tenant}. Run \`az login --tenant ${tenant}\`.`);
  }
}
