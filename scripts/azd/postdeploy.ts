/**
 * azd `postdeploy` hook: the Event Grid subscriptions (infra/events.bicep), once the code is
 * deployed. Event Grid checks that the destination function exists when a subscription is
 * created, and the resourceEvents function exists only after `azd deploy` has published the
 * package and the host has indexed it, so this waits for the function first, then deploys.
 * Running it again is harmless: the deployment is idempotent.
 */
import { join } from 'node:path';
import { checkSignedIn, HookError, required, requiredArray, runAz, runSteps, type AzdEnvironment, type AzRunner, type AzStep } from './az.js';

export const FUNCTION_NAME = 'resourceEvents';
const WAIT_SECONDS = Number(process.env.LINKGATE_FUNCTION_WAIT_SECONDS ?? 600);

export function functionExistsStep(env: AzdEnvironment): AzStep {
  return {
    description: `Check that ${FUNCTION_NAME} is deployed`,
    args: ['functionapp', 'function', 'show', '--resource-group', required(env, 'AZURE_RESOURCE_GROUP'), '--name', required(env, 'AZURE_FUNCTION_APP_NAME'), '--function-name', FUNCTION_NAME, '--subscription', required(env, 'AZURE_SUBSCRIPTION_ID'), '--output', 'none'],
  };
}

export function eventsDeploymentStep(env: AzdEnvironment, root: string): AzStep {
  const topics = requiredArray<{ subscriptionId: string }>(env, 'LINKGATE_DEPLOY_EVENT_TOPICS');
  // Fail here, not in ARM, when the values events.bicepparam reads are absent.
  for (const name of ['AZURE_FUNCTION_APP_NAME', 'AZURE_RESOURCE_GROUP', 'LINKGATE_DEPLOY_IDENTITY_ID', 'LINKGATE_DEPLOY_STORAGE_ID', 'LINKGATE_DEPLOY_DEAD_LETTER_CONTAINER']) required(env, name);
  return {
    description: `Subscribe ${FUNCTION_NAME} to ${topics.length} system topic(s) (infra/events.bicep)`,
    args: [
      'deployment', 'sub', 'create',
      '--name', `linkgate-events-${required(env, 'AZURE_ENV_NAME')}`,
      '--location', required(env, 'AZURE_LOCATION'),
      '--subscription', required(env, 'AZURE_SUBSCRIPTION_ID'),
      '--parameters', join(root, 'infra', 'events.bicepparam'),
      '--output', 'none',
    ],
  };
}

export async function waitForFunction(env: AzdEnvironment, az: AzRunner, seconds: number, sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))): Promise<void> {
  const step = functionExistsStep(env);
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    if (az(step.args).status === 0) return;
    if (Date.now() >= deadline) {
      throw new HookError(
        `${FUNCTION_NAME} did not appear in ${required(env, 'AZURE_FUNCTION_APP_NAME')} within ${seconds} s. ` +
          'Look at the app\'s log stream in the portal for a startup error (README, "Troubleshooting"), then run `azd hooks run postdeploy`.',
      );
    }
    await sleep(10_000);
  }
}

async function main(): Promise<void> {
  const env = process.env;
  checkSignedIn(env, 'postdeploy');
  console.log(`Waiting (up to ${WAIT_SECONDS} s) for ${FUNCTION_NAME} in ${required(env, 'AZURE_FUNCTION_APP_NAME')}…`);
  await waitForFunction(env, runAz, WAIT_SECONDS);
  runSteps([eventsDeploymentStep(env, join(__dirname, '..', '..'))]);
  console.log('Event Grid now delivers the watched subscriptions\' private endpoint connection events to Linkgate.');
  console.log('Next: `npm run teams:package`, upload the zip to Teams, and add the app to the review channel (README, "Deploy to Azure").');
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
