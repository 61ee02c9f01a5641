/**
 * `npm run check:infra`: every Bicep file and .bicepparam through the real Bicep CLI.
 *
 *   1. `bicep lint --diagnostics-format sarif` on each file; any result fails, whatever its level
 *      (warnings leave Bicep's exit code at 0, so the SARIF is read instead of the exit code).
 *   2. `bicep build` / `build-params` to ARM JSON, compared with infra/compiled/, which the
 *      compiled-template tests read. A difference fails; `--update` writes the new JSON instead.
 *   3. `bicep snapshot` of each sample deployment in infra/samples/: every expression Bicep can
 *      evaluate before deploying is evaluated (names, IDs, scopes, lists parsed from parameters),
 *      and the predicted resources are compared with the committed <sample>.snapshot.json, which
 *      the snapshot tests read. `--update` rewrites them.
 *
 * Every call passes --no-restore: nothing here reaches a registry. Where the CLI comes from:
 * BICEP (a path), else `bicep` on PATH, else azd's copy (~/.azd/bin/bicep). CI restores it from
 * NuGet (Azure.Bicep.CommandLine.linux-x64) and sets BICEP; `npm test` never needs it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';

const root = join(__dirname, '..');
const infra = join(root, 'infra');
const compiledDir = join(infra, 'compiled');
const samplesDir = join(infra, 'samples');

/** The deployment context of the sample snapshots (what azd would pass). */
export const SAMPLE_CONTEXT = {
  subscriptionId: 'aaaaaaaa-0000-4000-8000-000000000001',
  tenantId: '11111111-1111-4111-8111-111111111111',
  location: 'swedencentral',
  deploymentName: 'linkgate',
} as const;

/**
 * A representative azd environment for compiling events.bicepparam: two watched subscriptions,
 * one of them with a reused system topic (what main.bicep's outputs look like after `azd provision`).
 */
export const SAMPLE_AZD_ENVIRONMENT: Readonly<Record<string, string>> = {
  LINKGATE_DEPLOY_EVENT_TOPICS: JSON.stringify([
    { subscriptionId: 'aaaaaaaa-0000-4000-8000-000000000001', resourceGroup: 'rg-linkgate', name: 'evgt-linkgate-abc123', existing: false },
    { subscriptionId: 'aaaaaaaa-0000-4000-8000-000000000002', resourceGroup: 'rg-platform-events', name: 'subscription-events', existing: true },
  ]),
  AZURE_FUNCTION_APP_NAME: 'func-linkgate-abc123',
  AZURE_RESOURCE_GROUP: 'rg-linkgate',
  LINKGATE_DEPLOY_IDENTITY_ID:
    '/subscriptions/aaaaaaaa-0000-4000-8000-000000000001/resourceGroups/rg-linkgate/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-linkgate-abc123',
  LINKGATE_DEPLOY_STORAGE_ID: '/subscriptions/aaaaaaaa-0000-4000-8000-000000000001/resourceGroups/rg-linkgate/providers/Microsoft.Storage/storageAccounts/stlgabc123',
  LINKGATE_DEPLOY_DEAD_LETTER_CONTAINER: 'deadletters',
};

interface SarifResult {
  readonly ruleId: string;
  readonly level: string;
  readonly message: { readonly text: string };
  readonly locations?: { physicalLocation?: { artifactLocation?: { uri?: string }; region?: { startLine?: number } } }[];
}

export function findBicep(): string {
  const candidates = [process.env.BICEP, 'bicep', join(homedir(), '.azd', 'bin', 'bicep')].filter((c): c is string => Boolean(c));
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (probe.status === 0) return candidate;
  }
  throw new Error(
    'No Bicep CLI found. Set BICEP to its path, put `bicep` on PATH, or install azd (which brings ~/.azd/bin/bicep). ' +
      'Offline, restore the NuGet package Azure.Bicep.CommandLine.linux-x64 as .ci/run does.',
  );
}

function bicepFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'compiled' ? [] : bicepFiles(path);
    return /\.(bicep|bicepparam)$/.test(entry.name) ? [path] : [];
  });
}

function lint(bicep: string, file: string, env: NodeJS.ProcessEnv): string[] {
  const run = spawnSync(bicep, ['lint', '--no-restore', '--diagnostics-format', 'sarif', file], { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
  let results: SarifResult[];
  try {
    results = (JSON.parse(run.stdout) as { runs: { results: SarifResult[] }[] }).runs.flatMap((r) => r.results);
  } catch {
    return [`${relative(root, file)}: bicep lint did not produce SARIF (exit ${run.status}): ${run.stderr.trim()}`];
  }
  const problems = results.map((r) => {
    const where = r.locations?.[0]?.physicalLocation;
    return `${relative(root, file)}:${where?.region?.startLine ?? '?'}: ${r.level} ${r.ruleId}: ${r.message.text}`;
  });
  if (run.status !== 0 && problems.length === 0) problems.push(`${relative(root, file)}: bicep lint exited ${run.status}: ${run.stderr.trim()}`);
  return problems;
}

function compile(bicep: string, file: string, env: NodeJS.ProcessEnv): { json: string; diagnostics: string } {
  if (file.endsWith('.bicepparam')) {
    const out = execFileSync(bicep, ['build-params', '--no-restore', '--stdout', file], { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] });
    const { parametersJson } = JSON.parse(out) as { parametersJson: string };
    return { json: `${JSON.stringify(JSON.parse(parametersJson), null, 2)}\n`, diagnostics: '' };
  }
  const run = spawnSync(bicep, ['build', '--no-restore', '--stdout', file], { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 });
  if (run.status !== 0) throw new Error(`bicep build ${relative(root, file)} failed:\n${run.stderr}`);
  return { json: run.stdout.endsWith('\n') ? run.stdout : `${run.stdout}\n`, diagnostics: run.stderr.trim() };
}

function main(): number {
  const update = process.argv.includes('--update');
  const bicep = findBicep();
  const version = execFileSync(bicep, ['--version'], { encoding: 'utf8' }).trim();
  const env = { ...process.env, ...SAMPLE_AZD_ENVIRONMENT };
  const files = bicepFiles(infra).sort();
  const problems: string[] = [];
  for (const file of files) problems.push(...lint(bicep, file, env));

  mkdirSync(compiledDir, { recursive: true });
  const targets: [string, string][] = [
    ['main.bicep', 'main.json'],
    ['events.bicep', 'events.json'],
    ['events.bicepparam', 'events.parameters.sample.json'],
  ];
  for (const [source, target] of targets) {
    const { json, diagnostics } = compile(bicep, join(infra, source), env);
    if (diagnostics) problems.push(`infra/${source}: bicep build printed diagnostics:\n${diagnostics}`);
    const path = join(compiledDir, target);
    const committed = existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    if (committed === json) continue;
    if (update) {
      writeFileSync(path, json);
      console.log(`updated ${relative(root, path)}`);
    } else {
      problems.push(`${relative(root, path)} is not what infra/${source} compiles to; run \`npm run check:infra -- --update\` and commit the result`);
    }
  }

  const samples = readdirSync(samplesDir).filter((f) => f.endsWith('.bicepparam')).sort();
  for (const sample of samples) {
    const run = spawnSync(
      bicep,
      [
        'snapshot', join(samplesDir, sample),
        '--mode', update ? 'overwrite' : 'validate',
        '--subscription-id', SAMPLE_CONTEXT.subscriptionId,
        '--tenant-id', SAMPLE_CONTEXT.tenantId,
        '--location', SAMPLE_CONTEXT.location,
        '--deployment-name', SAMPLE_CONTEXT.deploymentName,
      ],
      { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 },
    );
    const output = `${run.stdout}${run.stderr}`.replace(/\u001b\[[0-9;]*m/g, '').trim();
    if (run.status !== 0) {
      problems.push(
        `infra/samples/${sample}: the snapshot differs from ${sample.replace(/\.bicepparam$/, '.snapshot.json')} (or could not be made); ` +
          `run \`npm run check:infra -- --update\` and review the change:\n${output.split('\n').slice(0, 40).join('\n')}`,
      );
      continue;
    }
    const snapshot = JSON.parse(readFileSync(join(samplesDir, sample.replace(/\.bicepparam$/, '.snapshot.json')), 'utf8')) as { diagnostics?: unknown[] };
    if (snapshot.diagnostics && snapshot.diagnostics.length > 0) problems.push(`infra/samples/${sample}: snapshot diagnostics ${JSON.stringify(snapshot.diagnostics)}`);
    if (update) console.log(`updated infra/samples/${sample.replace(/\.bicepparam$/, '.snapshot.json')}`);
  }

  console.log(`${version}: linted ${files.length} files (${files.map((f) => relative(infra, f)).join(', ')}), compiled ${targets.length}, snapshotted ${samples.length} sample deployments`);
  if (problems.length > 0) {
    console.error(`${problems.length} problem(s):\n${problems.map((p) => `  ${p}`).join('\n')}`);
    return 1;
  }
  console.log('0 diagnostics; infra/compiled and the sample snapshots are up to date');
  return 0;
}

if (require.main === module) {
  try {
    process.exitCode = main();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
