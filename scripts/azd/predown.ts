/**
 * azd `predown` hook: removes what `azd down` does not, because it lives outside the app's
 * resource group: the Event Grid subscriptions on reused topics, the events resource groups in
 * other watched subscriptions, the role assignments at subscription scope, and the two custom
 * role definitions (which cannot be deleted while assignments remain, hence the order). Each
 * step may find its object already gone; that is reported and the teardown goes on.
 * Also the API application, when the preprovision hook registered it (LINKGATE_API_APP_REGISTERED
 * names its client ID); one registered by hand for the manual path is left to its owner.
 * Left in place on purpose: a reused system topic itself, which belongs to its owner (Linkgate's
 * identity stays listed on it until they remove it).
 */
import { RESOURCE_TYPES } from '../../src/domain/resource-types.js';
import { checkSignedIn, required, requiredArray, runSteps, type AzdEnvironment, type AzStep } from './az.js';

/**
 * The names events.bicep gives Linkgate's event subscriptions on a topic: one per 25 operations
 * (Event Grid's limit of filter values). Every name that all registered types could need is
 * removed, since the watched types may have been narrowed since they were created; a name that
 * was never used is skipped like any other object already gone.
 */
export function eventSubscriptionNames(): string[] {
  const parts = Math.ceil(RESOURCE_TYPES.reduce((n, t) => n + t.events.length, 0) / 25);
  return Array.from({ length: parts }, (_, i) => (i === 0 ? 'linkgate-resource-events' : `linkgate-resource-events-${i + 1}`));
}

interface Topic {
  readonly subscriptionId: string;
  readonly resourceGroup: string;
  readonly name: string;
  readonly existing: boolean;
}

export function teardownSteps(env: AzdEnvironment): AzStep[] {
  const homeGroup = required(env, 'AZURE_RESOURCE_GROUP');
  const homeSubscription = required(env, 'AZURE_SUBSCRIPTION_ID');
  const topics = requiredArray<Topic>(env, 'LINKGATE_DEPLOY_EVENT_TOPICS');
  // Arrays of arrays: one per watched (and per lookup-only) subscription.
  const roleAssignments = [
    ...requiredArray<string[]>(env, 'LINKGATE_DEPLOY_ROLE_ASSIGNMENT_IDS'),
    ...requiredArray<string[]>(env, 'LINKGATE_DEPLOY_LOOKUP_ROLE_ASSIGNMENT_IDS'),
  ].flat();
  const roleIds = requiredArray<string>(env, 'LINKGATE_DEPLOY_ROLE_IDS');
  const steps: AzStep[] = [];
  for (const topic of topics) {
    if (topic.existing) {
      for (const name of eventSubscriptionNames()) {
        steps.push({
          description: `Remove Linkgate's event subscription ${name} from the reused topic ${topic.name}`,
          args: ['eventgrid', 'system-topic', 'event-subscription', 'delete', '--name', name, '--system-topic-name', topic.name, '--resource-group', topic.resourceGroup, '--subscription', topic.subscriptionId, '--yes'],
          mayFail: true,
        });
      }
    } else if (!(topic.subscriptionId === homeSubscription.toLowerCase() && topic.resourceGroup === homeGroup)) {
      steps.push({
        description: `Delete ${topic.resourceGroup} (Linkgate's system topic) in subscription ${topic.subscriptionId}`,
        args: ['group', 'delete', '--name', topic.resourceGroup, '--subscription', topic.subscriptionId, '--yes'],
        mayFail: true,
      });
    }
  }
  // By exact ID (main.bicep outputs them), so nothing but Linkgate's own assignments is touched.
  if (roleAssignments.length > 0) {
    steps.push({
      description: `Remove Linkgate's ${roleAssignments.length} role assignment(s) at subscription scope`,
      args: ['role', 'assignment', 'delete', '--ids', ...roleAssignments],
      mayFail: true,
    });
  }
  for (const roleId of roleIds) {
    steps.push({
      description: `Delete the custom role ${roleId}`,
      args: ['role', 'definition', 'delete', '--name', roleId, '--scope', `/subscriptions/${homeSubscription}`],
      mayFail: true,
    });
  }
  const registered = env.LINKGATE_API_APP_REGISTERED?.trim();
  if (registered && registered.toLowerCase() === env.LINKGATE_API_CLIENT_ID?.trim().toLowerCase()) {
    steps.push({
      description: `Delete the API application ${registered} that the preprovision hook registered (its role assignments go with it)`,
      args: ['ad', 'app', 'delete', '--id', registered],
      mayFail: true,
    });
  }
  return steps;
}

if (require.main === module) {
  try {
    checkSignedIn(process.env, 'predown');
    runSteps(teardownSteps(process.env));
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  }
}
