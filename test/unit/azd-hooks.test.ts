import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { HookError, checkSignedIn, runSteps, type AzResult } from '../../scripts/azd/az.js';
import { eventsDeploymentStep, functionExistsStep, waitForFunction } from '../../scripts/azd/postdeploy.js';
import { teardownSteps } from '../../scripts/azd/predown.js';
import { AZURE_CLI_CLIENT_ID, apiSettings, appRoleDefinitions, registerApiApplication } from '../../scripts/azd/preprovision.js';
import { APP_ROLES } from '../../src/domain/principal.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { SAMPLE_AZD_ENVIRONMENT } from '../../scripts/check-infra.js';
import { loadCompiled } from '../fixtures/arm-template.js';

const root = join(__dirname, '..', '..');
const HOME = 'aaaaaaaa-0000-4000-8000-000000000001';
const OTHER = 'aaaaaaaa-0000-4000-8000-000000000002';
const THIRD = 'aaaaaaaa-0000-4000-8000-000000000003';

/** An azd environment after `azd provision`: three watched subscriptions, one topic reused. */
const ENV = {
  ...SAMPLE_AZD_ENVIRONMENT,
  AZURE_ENV_NAME: 'linkgate-prod',
  AZURE_LOCATION: 'swedencentral',
  AZURE_SUBSCRIPTION_ID: HOME,
  AZURE_TENANT_ID: '11111111-1111-4111-8111-111111111111',
  LINKGATE_DEPLOY_EVENT_TOPICS: JSON.stringify([
    { subscriptionId: HOME, resourceGroup: 'rg-linkgate', name: 'evgt-linkgate-abc123', existing: false },
    { subscriptionId: OTHER, resourceGroup: 'rg-platform-events', name: 'subscription-events', existing: true },
    { subscriptionId: THIRD, resourceGroup: 'rg-linkgate-prod-events', name: 'evgt-linkgate-abc123', existing: false },
  ]),
  LINKGATE_DEPLOY_ROLE_ASSIGNMENT_IDS: JSON.stringify([[`/subscriptions/${HOME}/providers/Microsoft.Authorization/roleAssignments/a1`, `/subscriptions/${HOME}/providers/Microsoft.Authorization/roleAssignments/a2`], [`/subscriptions/${OTHER}/providers/Microsoft.Authorization/roleAssignments/b1`]]),
  LINKGATE_DEPLOY_LOOKUP_ROLE_ASSIGNMENT_IDS: JSON.stringify([]),
  LINKGATE_DEPLOY_ROLE_IDS: JSON.stringify(['role-approver-guid', 'role-lookup-guid']),
};

const ok = (stdout = ''): AzResult => ({ status: 0, stdout, stderr: '' });
const failed = (stderr: string): AzResult => ({ status: 1, stdout: '', stderr });

describe('azure.yaml', () => {
  const azure = parse(readFileSync(join(root, 'azure.yaml'), 'utf8'));

  it('deploys one function service from the bundle, and runs the hooks that exist', () => {
    expect(Object.keys(azure.services)).toEqual(['api']);
    expect(azure.services.api).toMatchObject({ host: 'function', language: 'ts', dist: 'dist/deploy', project: '.' });
    expect(azure.infra).toMatchObject({ provider: 'bicep', path: 'infra', module: 'main' });
    for (const [hook, shells] of Object.entries(azure.hooks as Record<string, Record<string, { run: string }>>)) {
      for (const { run } of Object.values(shells)) {
        const script = /tsx (\S+)$/.exec(run)?.[1];
        expect(script, `${hook} runs a script`).toBeDefined();
        expect(() => readFileSync(join(root, script!)), script).not.toThrow();
      }
    }
    expect(Object.keys(azure.hooks).sort()).toEqual(['postdeploy', 'predown', 'preprovision']);
    // azd finds the app for the `api` service by this tag.
    expect(readFileSync(join(root, 'infra', 'modules', 'function-app.bicep'), 'utf8')).toContain("'azd-service-name': 'api'");
  });
});

describe('postdeploy: Event Grid subscriptions once the function exists', () => {
  it('deploys events.bicepparam at subscription scope, and every value it reads is an output of main.bicep', () => {
    const step = eventsDeploymentStep(ENV, root);
    expect(step.args.slice(0, 3)).toEqual(['deployment', 'sub', 'create']);
    expect(step.args).toContain(join(root, 'infra', 'events.bicepparam'));
    expect(step.args).toEqual(expect.arrayContaining(['--location', 'swedencentral', '--subscription', HOME, '--name', 'linkgate-events-linkgate-prod']));
    const bicepparam = readFileSync(join(root, 'infra', 'events.bicepparam'), 'utf8');
    const read = [...bicepparam.matchAll(/readEnvironmentVariable\('(\w+)'\)/g)].map((m) => m[1]!);
    expect(read.length).toBeGreaterThan(0);
    const outputs = Object.keys(loadCompiled('main.json').outputs!);
    for (const name of read) {
      expect(outputs, name).toContain(name);
      expect(() => eventsDeploymentStep({ ...ENV, [name]: '' }, root), name).toThrow(new RegExp(name));
    }
  });

  it('waits until the function is listed, then stops; or gives up with what to do', async () => {
    const calls: string[][] = [];
    const answers = [failed('ResourceNotFound'), failed('ResourceNotFound'), ok()];
    await waitForFunction(ENV, (args) => (calls.push([...args]), answers.shift()!), 60, async () => undefined);
    expect(calls).toHaveLength(3);
    expect(calls[0]).toEqual([...functionExistsStep(ENV).args]);
    expect(calls[0]).toEqual(expect.arrayContaining(['--function-name', 'resourceEvents', '--name', 'func-linkgate-abc123']));
    await expect(waitForFunction(ENV, () => failed('ResourceNotFound'), 0, async () => undefined)).rejects.toThrow(/did not appear[\s\S]*azd hooks run postdeploy/);
  });

  it('refuses to run when the CLI is signed in elsewhere', () => {
    expect(() => checkSignedIn(ENV, 'postdeploy', () => ok('99999999-9999-4999-8999-999999999999\n'))).toThrow(/signed in to tenant 9999.*az login --tenant 1111/);
    expect(() => checkSignedIn(ENV, 'postdeploy', () => failed('Please run az login'))).toThrow(/not signed in[\s\S]*azd hooks run postdeploy/);
    expect(() => checkSignedIn(ENV, 'postdeploy', () => ok('11111111-1111-4111-8111-111111111111\n'))).not.toThrow();
  });
});

describe('predown: what azd down leaves behind', () => {
  it('removes the event subscription from a reused topic, the events groups elsewhere, the assignments by ID, then the roles', () => {
    const steps = teardownSteps(ENV);
    expect(steps.map((s) => s.args.slice(0, 4).join(' '))).toEqual([
      'eventgrid system-topic event-subscription delete',
      'eventgrid system-topic event-subscription delete',
      `group delete --name rg-linkgate-prod-events`,
      'role assignment delete --ids',
      'role definition delete --name',
      'role definition delete --name',
    ]);
    expect(steps[0]!.args).toEqual(expect.arrayContaining(['--system-topic-name', 'subscription-events', '--resource-group', 'rg-platform-events', '--subscription', OTHER]));
    // Every event subscription events.bicep may have made there (all types: 36 operations, two parts of 25).
    expect([steps[0]!, steps[1]!].map((s) => s.args[s.args.indexOf('--name') + 1])).toEqual(['linkgate-resource-events', 'linkgate-resource-events-2']);
    expect(steps[2]!.args).toEqual(expect.arrayContaining(['--subscription', THIRD]));
    expect(steps[3]!.args.slice(4)).toEqual([
      `/subscriptions/${HOME}/providers/Microsoft.Authorization/roleAssignments/a1`,
      `/subscriptions/${HOME}/providers/Microsoft.Authorization/roleAssignments/a2`,
      `/subscriptions/${OTHER}/providers/Microsoft.Authorization/roleAssignments/b1`,
    ]);
    expect(steps.every((s) => s.mayFail)).toBe(true);
    // The reused topic itself and the app's own resource group are not deleted here.
    expect(steps.some((s) => s.args.includes('rg-platform-events') && s.args[0] === 'group')).toBe(false);
    expect(steps.some((s) => s.args.includes('rg-linkgate') && s.args[0] === 'group')).toBe(false);
  });

  it('goes on past steps whose object is already gone, and stops at a required step that fails', () => {
    const log: string[] = [];
    runSteps([{ description: 'gone', args: ['x'], mayFail: true }, { description: 'next', args: ['y'] }], (args) => (args[0] === 'x' ? failed('NotFound') : ok()), (line) => log.push(line));
    expect(log).toEqual(['→ gone', '  (skipped: NotFound)', '→ next']);
    expect(() => runSteps([{ description: 'required', args: ['z'] }, { description: 'never', args: ['w'] }], () => failed('Forbidden'), () => undefined)).toThrow(HookError);
  });
});

describe('preprovision: the API application and its app roles', () => {
  const APP = 'd1b2c3d4-0000-4000-8000-0000000000a9';
  function fakeAz(answers: Record<string, AzResult>) {
    const calls: string[][] = [];
    const az = (args: readonly string[]) => {
      calls.push([...args]);
      const key = Object.keys(answers).find((k) => args.join(' ').startsWith(k));
      return key ? answers[key]! : ok();
    };
    return { calls, az };
  }
  const deps = (az: (args: readonly string[]) => AzResult, set: Record<string, string>, log: string[] = []) => ({
    az,
    setEnv: (name: string, value: string) => void (set[name] = value),
    log: (line: string) => void log.push(line),
    tempDir: () => mkdtempSync(join(tmpdir(), 'linkgate-hook-')),
  });

  it('defines exactly the roles the app checks, for people and applications', () => {
    expect(appRoleDefinitions().map((r) => r.value)).toEqual([...APP_ROLES]);
    for (const role of appRoleDefinitions()) expect(role).toMatchObject({ allowedMemberTypes: ['User', 'Application'], isEnabled: true, id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(apiSettings()).toMatchObject({ api: { requestedAccessTokenVersion: 2, preAuthorizedApplications: expect.arrayContaining([expect.objectContaining({ appId: AZURE_CLI_CLIENT_ID })]) } });
  });

  it('registers a new application, requires role assignment, assigns the deployer the roles, and sets the client ID', () => {
    const set: Record<string, string> = {};
    const { calls, az } = fakeAz({
      'ad app list': ok('\n'),
      'ad app create': ok(`${APP}\n`),
      'ad sp show': failed('not found'),
      'ad sp create': ok('sp-object-id\n'),
      'ad signed-in-user show': ok('deployer-oid\n'),
    });
    expect(registerApiApplication(ENV, deps(az, set))).toBe(APP);
    expect(set).toEqual({ LINKGATE_API_CLIENT_ID: APP, LINKGATE_API_APP_REGISTERED: APP });
    const lines = calls.map((c) => c.join(' '));
    expect(lines).toEqual(expect.arrayContaining([
      expect.stringMatching(/^ad app create --display-name Linkgate API \(linkgate-prod\) --sign-in-audience AzureADMyOrg --app-roles @/),
      `ad app update --id ${APP} --identifier-uris api://${APP}`,
      `ad sp update --id ${APP} --set appRoleAssignmentRequired=true`,
    ]));
    expect(lines.filter((l) => l.includes('/appRoleAssignedTo'))).toHaveLength(3);
  });

  it('finds an application it registered before and updates it instead of registering another', () => {
    const set: Record<string, string> = {};
    const { calls, az } = fakeAz({ 'ad app list': ok(`${APP}\n`), 'ad sp show': ok('sp-object-id\n'), 'ad signed-in-user show': ok('deployer-oid\n') });
    registerApiApplication(ENV, deps(az, set));
    expect(calls.some((c) => c.slice(0, 3).join(' ') === 'ad app create')).toBe(false);
    expect(calls.some((c) => c.join(' ').startsWith(`ad app update --id ${APP} --app-roles`))).toBe(true);
  });

  it('uses a client ID set by hand (the manual path) after checking it exists, and says what to do when registering is not allowed', () => {
    const set: Record<string, string> = {};
    const checked = fakeAz({});
    expect(registerApiApplication({ ...ENV, LINKGATE_API_CLIENT_ID: APP }, deps(checked.az, set))).toBe(APP);
    expect(checked.calls).toEqual([['ad', 'app', 'show', '--id', APP, '--query', 'appId', '--output', 'tsv']]);
    expect(() => registerApiApplication({ ...ENV, LINKGATE_API_CLIENT_ID: APP }, deps(fakeAz({ 'ad app show': failed('Resource does not exist') }).az, set))).toThrow(/no application with that client ID/);
    expect(() => registerApiApplication(ENV, deps(fakeAz({ 'ad app list': ok(''), 'ad app create': failed('Insufficient privileges to complete the operation.') }).az, set))).toThrow(/Insufficient privileges[\s\S]*LINKGATE_API_CLIENT_ID/);
    expect(registerApiApplication({ ...ENV, LINKGATE_SKIP_APP_REGISTRATION: 'true' }, deps(fakeAz({}).az, set))).toBeUndefined();
  });
});

describe('predown: the API application', () => {
  const APP = 'd1b2c3d4-0000-4000-8000-0000000000a9';
  it('deletes the application the preprovision hook registered, and never one set by hand', () => {
    const registered = teardownSteps({ ...ENV, LINKGATE_API_CLIENT_ID: APP, LINKGATE_API_APP_REGISTERED: APP }).at(-1);
    expect(registered).toMatchObject({ args: ['ad', 'app', 'delete', '--id', APP], mayFail: true });
    const manual = teardownSteps({ ...ENV, LINKGATE_API_CLIENT_ID: APP });
    expect(manual.some((step) => step.args.includes('app'))).toBe(false);
  });
});
