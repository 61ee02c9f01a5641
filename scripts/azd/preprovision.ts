/**
 * azd `preprovision` hook: registers Linkgate's API application in Entra ID, whose app roles
 * (src/domain/definitions/app-roles.json) decide who may use the admin APIs, and hands its client
 * ID to the deployment (`azd env set LINKGATE_API_CLIENT_ID`, read by infra/main.parameters.json).
 *
 * What it registers, and why:
 * - the application, single tenant, with the app roles Audit.Read, Rules.Write and Operate (fixed
 *   IDs, so a re-run updates the same roles), application ID URI `api://{clientId}`, v2.0 access
 *   tokens, and one delegated scope `user_impersonation`, so a person's CLI can ask for a token;
 * - the Azure CLI and Azure PowerShell as pre-authorized clients of that scope, so `linkgate` (via
 *   @azure/identity's Azure CLI sign-in) gets a token without a consent prompt;
 * - its service principal with `appRoleAssignmentRequired`, so Entra issues tokens only to people
 *   and applications that were assigned a role;
 * - the three roles for the person running the deployment. Four-eyes needs a second person with
 *   Rules.Write: README, "Security model", says how to assign it.
 *
 * Registering an application needs the Application Developer role or the tenant's "users can
 * register applications" setting. Without it: have an administrator register the application as
 * the README's manual path says, then `azd env set LINKGATE_API_CLIENT_ID <client ID>`; this hook
 * then only checks that the application exists. `LINKGATE_SKIP_APP_REGISTRATION=true` skips it
 * entirely (the admin APIs then refuse every request until a client ID is set).
 *
 * Running it again is harmless: it finds the application by its display name and updates it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HookError, required, runAz, type AzdEnvironment, type AzRunner } from './az.js';
import appRoles from '../../src/domain/definitions/app-roles.json';

/** Well-known first-party client IDs (learn.microsoft.com, "Verify first-party Microsoft applications in sign-in reports"). */
export const AZURE_CLI_CLIENT_ID = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
export const AZURE_POWERSHELL_CLIENT_ID = '1950a258-227b-4e31-a9cf-717495945fc2';
/** Fixed, like the role IDs, so a re-run keeps the scope the clients were pre-authorized for. */
export const USER_IMPERSONATION_SCOPE_ID = '6c2f1a9e-3d4b-4e8f-9a07-b5c1d3e5f7a9';
const GRAPH = 'https://graph.microsoft.com/v1.0';

export function displayName(env: AzdEnvironment): string {
  return `Linkgate API (${required(env, 'AZURE_ENV_NAME')})`;
}

/** `az ad app create/update --app-roles` takes Graph's appRole objects. */
export function appRoleDefinitions(): Array<Record<string, unknown>> {
  return appRoles.appRoles.map((role) => ({ ...role, allowedMemberTypes: ['User', 'Application'], isEnabled: true }));
}

/** The `api` part of the application: v2.0 tokens, the CLI's scope, and the pre-authorized clients. */
export function apiSettings(): Record<string, unknown> {
  return {
    api: {
      requestedAccessTokenVersion: 2,
      oauth2PermissionScopes: [
        {
          id: USER_IMPERSONATION_SCOPE_ID,
          value: 'user_impersonation',
          type: 'User',
          isEnabled: true,
          adminConsentDisplayName: 'Use Linkgate as the signed-in person',
          adminConsentDescription: "Call Linkgate's admin APIs as the signed-in person, within the app roles assigned to them.",
          userConsentDisplayName: 'Use Linkgate as you',
          userConsentDescription: "Call Linkgate's admin APIs as you, within the app roles assigned to you.",
        },
      ],
      preAuthorizedApplications: [AZURE_CLI_CLIENT_ID, AZURE_POWERSHELL_CLIENT_ID].map((appId) => ({ appId, delegatedPermissionIds: [USER_IMPERSONATION_SCOPE_ID] })),
    },
  };
}

export interface RegistrationDeps {
  readonly az: AzRunner;
  readonly setEnv: (name: string, value: string) => void;
  readonly log: (line: string) => void;
  readonly tempDir: () => string;
}

/** Registers or updates the application and answers its client ID. */
export function registerApiApplication(env: AzdEnvironment, deps: RegistrationDeps): string | undefined {
  const given = env.LINKGATE_API_CLIENT_ID?.trim();
  if (given) {
    const shown = deps.az(['ad', 'app', 'show', '--id', given, '--query', 'appId', '--output', 'tsv']);
    if (shown.status !== 0) throw new HookError(`LINKGATE_API_CLIENT_ID is ${given}, but no application with that client ID exists in the tenant: ${lastLines(shown.stderr)}`);
    deps.log(`Using the API application ${given} (LINKGATE_API_CLIENT_ID). Its app roles are not changed here.`);
    return given;
  }
  if (/^(true|1|yes)$/i.test(env.LINKGATE_SKIP_APP_REGISTRATION ?? '')) {
    deps.log('LINKGATE_SKIP_APP_REGISTRATION is set: no API application is registered, and the admin APIs refuse every request until LINKGATE_API_CLIENT_ID is set (README, "Security model").');
    return undefined;
  }
  const name = displayName(env);
  const dir = deps.tempDir();
  const rolesFile = join(dir, 'app-roles.json');
  const apiFile = join(dir, 'api.json');
  writeFileSync(rolesFile, JSON.stringify(appRoleDefinitions()));
  writeFileSync(apiFile, JSON.stringify(apiSettings()));

  const found = run(deps, `Find the application '${name}'`, ['ad', 'app', 'list', '--display-name', name, '--query', '[0].appId', '--output', 'tsv']).trim();
  let appId = found;
  if (!appId) {
    appId = run(deps, `Register the application '${name}'`, ['ad', 'app', 'create', '--display-name', name, '--sign-in-audience', 'AzureADMyOrg', '--app-roles', `@${rolesFile}`, '--query', 'appId', '--output', 'tsv'], registrationHelp).trim();
  } else {
    run(deps, `Update the app roles of '${name}'`, ['ad', 'app', 'update', '--id', appId, '--app-roles', `@${rolesFile}`]);
  }
  if (!/^[0-9a-f-]{36}$/i.test(appId)) throw new HookError(`The Azure CLI answered '${appId}' as the application's client ID.`);
  run(deps, 'Set its application ID URI', ['ad', 'app', 'update', '--id', appId, '--identifier-uris', `api://${appId}`]);
  run(deps, 'Ask for v2.0 tokens and expose the user_impersonation scope to the Azure CLI and PowerShell', ['rest', '--method', 'PATCH', '--uri', `${GRAPH}/applications(appId='${appId}')`, '--headers', 'Content-Type=application/json', '--body', `@${apiFile}`]);
  const existingSp = deps.az(['ad', 'sp', 'show', '--id', appId, '--query', 'id', '--output', 'tsv']);
  const spId = existingSp.status === 0 && existingSp.stdout.trim() ? existingSp.stdout.trim() : run(deps, 'Create its service principal', ['ad', 'sp', 'create', '--id', appId, '--query', 'id', '--output', 'tsv']).trim();
  run(deps, 'Issue tokens only to assigned people and applications', ['ad', 'sp', 'update', '--id', appId, '--set', 'appRoleAssignmentRequired=true']);
  const me = deps.az(['ad', 'signed-in-user', 'show', '--query', 'id', '--output', 'tsv']);
  if (me.status === 0 && me.stdout.trim()) {
    for (const role of appRoles.appRoles) {
      const body = JSON.stringify({ principalId: me.stdout.trim(), resourceId: spId, appRoleId: role.id });
      const assigned = deps.az(['rest', '--method', 'POST', '--uri', `${GRAPH}/servicePrincipals/${spId}/appRoleAssignedTo`, '--headers', 'Content-Type=application/json', '--body', body]);
      // Graph answers 400 "Permission being assigned already exists" on a re-run.
      deps.log(assigned.status === 0 ? `→ Assigned ${role.value} to you` : `  (${role.value}: ${/already exists/i.test(assigned.stderr) ? 'already assigned' : lastLines(assigned.stderr)})`);
    }
  } else {
    deps.log('  (signed in as an application, not a person: assign the roles to people as the README says)');
  }
  deps.setEnv('LINKGATE_API_CLIENT_ID', appId);
  // So that `azd down` removes what this hook created, and only that (scripts/azd/predown.ts).
  deps.setEnv('LINKGATE_API_APP_REGISTERED', appId);
  deps.log(`API application ${appId} is ready. Assign Rules.Write to a second person for four-eyes rule changes (README, "Security model").`);
  return appId;
}

const registrationHelp =
  'You may not be allowed to register applications in this tenant. Ask an administrator to register it as the README\'s "Security model" manual path says, ' +
  'then run `azd env set LINKGATE_API_CLIENT_ID <client ID>` and `azd provision` again; or set LINKGATE_SKIP_APP_REGISTRATION=true to deploy with the admin APIs off.';

function run(deps: RegistrationDeps, description: string, args: readonly string[], help = ''): string {
  deps.log(`→ ${description}`);
  const result = deps.az(args);
  if (result.status !== 0) throw new HookError(`${description} failed: az ${args.slice(0, 3).join(' ')} …\n${lastLines(result.stderr)}${help ? `\n${help}` : ''}`);
  return result.stdout;
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' ');
}

function azdEnvSet(name: string, value: string): void {
  const result = spawnSync('azd', ['env', 'set', name, value], { stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.status !== 0) throw new HookError(`azd env set ${name} failed; run it by hand: azd env set ${name} ${value}`);
}

function main(): void {
  const env = process.env;
  const tenant = required(env, 'AZURE_TENANT_ID');
  const account = runAz(['account', 'show', '--query', 'tenantId', '--output', 'tsv']);
  if (account.status !== 0 || account.stdout.trim().toLowerCase() !== tenant.toLowerCase()) {
    throw new HookError(`The Azure CLI must be signed in to tenant ${tenant} to register Linkgate's API application. Run \`az login --tenant ${tenant}\`, then \`azd provision\`.`);
  }
  registerApiApplication(env, { az: runAz, setEnv: azdEnvSet, log: console.log, tempDir: () => mkdtempSync(join(tmpdir(), 'linkgate-app-')) });
}

if (require.main === module) {
  try {
    main();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
