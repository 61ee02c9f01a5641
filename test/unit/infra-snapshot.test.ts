import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TABLES } from '../../src/composition.js';
import approverRole from '../../src/domain/definitions/approver-role.json';
import resourceEvents from '../../src/domain/definitions/resource-events.json';
import tenantLookupRole from '../../src/domain/definitions/tenant-lookup-role.json';
import { findResourceType, RESOURCE_TYPES } from '../../src/domain/resource-types.js';
import { SAMPLE_CONTEXT } from '../../scripts/check-infra.js';
import { evaluate } from '../fixtures/arm-expression.js';

/**
 * Tests of the sample deployments in infra/samples, as `bicep snapshot` predicts them (kept
 * current by `npm run check:infra`): everything Bicep can evaluate before deploying is a value
 * here, so names, scopes, IDs and the lists parsed from parameters are checked as ARM receives
 * them. Only values that exist at deploy time (principal IDs, host names) remain expressions.
 */
interface Predicted {
  readonly id: string;
  readonly type: string;
  readonly name: string;
  readonly location?: string;
  readonly identity?: any;
  readonly tags?: Record<string, string>;
  readonly properties?: any;
}

interface Snapshot {
  readonly predictedResources: Predicted[];
  readonly diagnostics: unknown[];
  readonly outputs: Record<string, unknown>;
}

function snapshot(name: string): Snapshot {
  return JSON.parse(readFileSync(join(__dirname, '..', '..', 'infra', 'samples', `${name}.snapshot.json`), 'utf8')) as Snapshot;
}

const HOME = SAMPLE_CONTEXT.subscriptionId;
const SUB2 = 'aaaaaaaa-0000-4000-8000-000000000002';
const SUB3 = 'aaaaaaaa-0000-4000-8000-000000000003';
const LOOKUP_ONLY = 'aaaaaaaa-0000-4000-8000-000000000004';
const BLOB_DATA_OWNER = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b';
const TABLE_DATA_CONTRIBUTOR = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3';
const MONITORING_METRICS_PUBLISHER = '3913510d-42f4-4e42-8a64-420c390055eb';

const three = snapshot('three-subscriptions');
const defaults = snapshot('defaults');
const events = snapshot('events-three-topics');

const ofType = (s: Snapshot, type: string) => s.predictedResources.filter((r) => r.type === type);
const only = (s: Snapshot, type: string) => {
  const found = ofType(s, type);
  expect(found, type).toHaveLength(1);
  return found[0]!;
};
const identity = only(three, 'Microsoft.ManagedIdentity/userAssignedIdentities');
const storage = only(three, 'Microsoft.Storage/storageAccounts');
const insights = only(three, 'Microsoft.Insights/components');
const site = only(three, 'Microsoft.Web/sites');
const approver = ofType(three, 'Microsoft.Authorization/roleDefinitions').find((r) => r.properties.roleName.startsWith(approverRole.roleName))!;
const lookup = ofType(three, 'Microsoft.Authorization/roleDefinitions').find((r) => r.properties.roleName.startsWith(tenantLookupRole.roleName))!;

/** A role assignment as (where, what): its scope and the role definition GUID. */
function assignments(s: Snapshot) {
  return ofType(s, 'Microsoft.Authorization/roleAssignments').map((r) => ({
    scope: r.id.slice(0, r.id.indexOf('/providers/Microsoft.Authorization/roleAssignments/')),
    role: r.properties.roleDefinitionId.split('/').pop(),
    roleDefinitionSubscription: r.properties.roleDefinitionId.split('/')[2],
    principalId: r.properties.principalId,
  }));
}

describe('sample: three watched subscriptions, one reused topic, one lookup-only subscription', () => {
  it('predicts a clean deployment', () => {
    expect(three.diagnostics).toEqual([]);
    expect(events.diagnostics).toEqual([]);
    expect(defaults.diagnostics).toEqual([]);
  });

  it('assigns exactly these roles, each to the identity, each where it is needed', () => {
    const principal = `[reference('${identity.id}', '2023-01-31').principalId]`;
    const got = assignments(three);
    for (const a of got) expect(a.principalId).toBe(principal);
    expect(got.map(({ scope, role }) => `${scope} ${role}`).sort()).toEqual(
      [
        `${storage.id} ${BLOB_DATA_OWNER}`,
        `${storage.id} ${TABLE_DATA_CONTRIBUTOR}`,
        `${insights.id} ${MONITORING_METRICS_PUBLISHER}`,
        `/subscriptions/${HOME} ${approver.name}`,
        `/subscriptions/${HOME} ${lookup.name}`,
        `/subscriptions/${SUB2} ${approver.name}`,
        `/subscriptions/${SUB2} ${lookup.name}`,
        `/subscriptions/${SUB3} ${approver.name}`,
        `/subscriptions/${SUB3} ${lookup.name}`,
        `/subscriptions/${LOOKUP_ONLY} ${lookup.name}`,
      ].sort(),
    );
    // A custom role is referenced from the subscription it is assigned in.
    for (const a of got.filter((a) => a.scope.startsWith('/subscriptions/') && !a.scope.includes('/resourceGroups/'))) {
      expect(a.roleDefinitionSubscription).toBe(a.scope.split('/')[2]);
    }
  });

  it('defines the roles with the data files\' actions, assignable exactly where they are assigned', () => {
    // The sample watches Key Vault, storage and SQL only: their read and approve actions, nothing else.
    const watched = ['keyvault', 'storage', 'sql'].map((key) => findResourceType(key)!);
    const actions = [...watched.flatMap((t) => [...t.permissions.read, ...t.permissions.approve]), ...approverRole.sweepActions];
    expect(approver.properties.permissions).toEqual([{ actions, notActions: [], dataActions: [], notDataActions: [] }]);
    expect(three.outputs.LINKGATE_RESOURCE_TYPES).toBe('keyvault,storage,sql');
    expect(lookup.properties.permissions).toEqual([{ actions: tenantLookupRole.actions, notActions: [], dataActions: [], notDataActions: [] }]);
    expect(approver.properties.roleName).toBe(`${approverRole.roleName} (linkgate-prod)`);
    expect([...approver.properties.assignableScopes].sort()).toEqual([HOME, SUB2, SUB3].map((s) => `/subscriptions/${s}`).sort());
    expect([...lookup.properties.assignableScopes].sort()).toEqual([HOME, SUB2, SUB3, LOOKUP_ONLY].map((s) => `/subscriptions/${s}`).sort());
  });

  it('creates a topic in the home group, reuses the existing one, and creates one in its own group elsewhere', () => {
    const topics = ofType(three, 'Microsoft.EventGrid/systemTopics');
    expect(topics.map((t) => t.id)).toEqual([
      `/subscriptions/${HOME}/resourceGroups/rg-linkgate-prod/providers/Microsoft.EventGrid/systemTopics/evgt-linkgate-ld55rxmtwetds`,
      `/subscriptions/${SUB2}/resourceGroups/rg-platform-events/providers/Microsoft.EventGrid/systemTopics/subscription-events`,
      `/subscriptions/${SUB3}/resourceGroups/rg-linkgate-prod-events/providers/Microsoft.EventGrid/systemTopics/evgt-linkgate-ld55rxmtwetds`,
    ]);
    const [home, reused, third] = topics;
    for (const [topic, sub] of [[home!, HOME], [third!, SUB3]] as const) {
      expect(topic.location).toBe('global');
      expect(topic.properties).toEqual({ source: `/subscriptions/${sub}`, topicType: 'Microsoft.Resources.Subscriptions' });
      expect(topic.identity).toEqual({ type: 'UserAssigned', userAssignedIdentities: { [identity.id]: {} } });
    }
    // The reused topic is read at deploy time: its source, type, location and tags stay.
    const existingTopic = { location: 'global', tags: { owner: 'platform' }, properties: { source: `/subscriptions/${SUB2}`, topicType: 'Microsoft.Resources.Subscriptions' } };
    const deployed = (existingIdentity: object | undefined) => {
      const full = existingIdentity ? { ...existingTopic, identity: existingIdentity } : existingTopic;
      const context = { reference: (id: string, isFull: boolean) => (expect(id).toBe(reused!.id), isFull ? full : full.properties) };
      return {
        location: evaluate(reused!.location!, context),
        tags: evaluate(reused!.tags as unknown as string, context),
        properties: { source: evaluate(reused!.properties.source, context), topicType: evaluate(reused!.properties.topicType, context) },
        identity: { type: evaluate(reused!.identity.type, context), userAssignedIdentities: evaluate(reused!.identity.userAssignedIdentities, context) },
      };
    };
    expect(deployed(undefined)).toEqual({ ...existingTopic, identity: { type: 'UserAssigned', userAssignedIdentities: { [identity.id]: {} } } });
    expect(deployed({ type: 'None' }).identity).toEqual({ type: 'UserAssigned', userAssignedIdentities: { [identity.id]: {} } });
    expect(deployed({ type: 'SystemAssigned', principalId: 'p', tenantId: 't' }).identity).toEqual({ type: 'SystemAssigned, UserAssigned', userAssignedIdentities: { [identity.id]: {} } });
    // Others' identities stay, without the read-only principalId/clientId a GET returns.
    const theirs = '/subscriptions/x/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-theirs';
    expect(deployed({ type: 'SystemAssigned, UserAssigned', userAssignedIdentities: { [theirs]: { principalId: 'p', clientId: 'c' } } }).identity).toEqual({
      type: 'SystemAssigned, UserAssigned',
      userAssignedIdentities: { [theirs]: {}, [identity.id]: {} },
    });
    // Deploying twice changes nothing: Linkgate's own identity is not added a second time.
    expect(deployed({ type: 'UserAssigned', userAssignedIdentities: { [identity.id]: { principalId: 'p', clientId: 'c' } } }).identity).toEqual({
      type: 'UserAssigned',
      userAssignedIdentities: { [identity.id]: {} },
    });
    const groups = ofType(three, 'Microsoft.Resources/resourceGroups').map((g) => g.id);
    expect(groups).toEqual([`/subscriptions/${HOME}/resourceGroups/rg-linkgate-prod`, `/subscriptions/${SUB3}/resourceGroups/rg-linkgate-prod-events`]);
  });

  it('configures the app from the parameters, tidied: lower-case, no blanks, no duplicates', () => {
    const settings = Object.fromEntries((site.properties.siteConfig.appSettings as { name: string; value: string }[]).map((s) => [s.name, s.value]));
    expect(settings.LINKGATE_SWEEP_SUBSCRIPTIONS).toBe([HOME, SUB2, SUB3].join(','));
    expect(settings.LINKGATE_HOME_TENANT_ID).toBe(SAMPLE_CONTEXT.tenantId);
    expect(settings.LINKGATE_REVIEW_CONVERSATION).toBe('19:3f1c0ffee@thread.tacv2');
    expect(settings.LINKGATE_REVIEW_APPROVERS).toBe('5e8b2c1a-9d4f-4b7e-a3c6-1f0d8e2b7c94');
    expect(settings.LINKGATE_API_CLIENT_ID).toBe('d1b2c3d4-0000-4000-8000-0000000000a9');
    expect(settings.LINKGATE_AUTH_AUTHORITY).toMatch(/^\[environment\(\)\.authentication\.loginEndpoint\]$|^https:\/\/login\.microsoftonline\.com\/?$/);
    expect(settings.LINKGATE_FOUR_EYES).toBe('false');
    expect(settings.AzureWebJobsStorage__accountName).toBe(storage.name);
    expect(settings.AzureWebJobsStorage__credential).toBe('managedidentity');
    expect(settings.AZURE_CLIENT_ID).toBe(`[reference('${identity.id}', '2023-01-31').clientId]`);
    expect(settings.LINKGATE_TEAMS_BOT_ID).toBe(settings.AZURE_CLIENT_ID);
    for (const [name, value] of Object.entries(settings)) expect(`${name}=${value}`).not.toMatch(/listKeys|AccountKey|SharedAccess|secret|password/i);
    for (const [name, value] of Object.entries(settings)) {
      if (name in three.outputs) expect(three.outputs[name], name).toBe(value);
    }
    const tables = ofType(three, 'Microsoft.Storage/storageAccounts/tableServices/tables').map((t) => t.name.split('/').pop());
    expect(tables).toEqual(Object.values(TABLES));
  });

  it('outputs what the postdeploy and predown hooks need, matching what it deploys', () => {
    const topics = three.outputs.LINKGATE_DEPLOY_EVENT_TOPICS as { subscriptionId: string; resourceGroup: string; name: string; existing: boolean }[];
    expect(topics.map((t) => `/subscriptions/${t.subscriptionId}/resourceGroups/${t.resourceGroup}/providers/Microsoft.EventGrid/systemTopics/${t.name}`)).toEqual(
      ofType(three, 'Microsoft.EventGrid/systemTopics').map((t) => t.id),
    );
    expect(topics.map((t) => t.existing)).toEqual([false, true, false]);
    const assignmentIds = [...(three.outputs.LINKGATE_DEPLOY_ROLE_ASSIGNMENT_IDS as string[][]), ...(three.outputs.LINKGATE_DEPLOY_LOOKUP_ROLE_ASSIGNMENT_IDS as string[][])].flat();
    expect(assignmentIds.sort()).toEqual(
      ofType(three, 'Microsoft.Authorization/roleAssignments')
        .map((r) => r.id)
        .filter((id) => !id.includes('/resourceGroups/'))
        .sort(),
    );
    expect(three.outputs.LINKGATE_DEPLOY_ROLE_IDS).toEqual([approver.name, lookup.name]);
    expect(three.outputs.LINKGATE_DEPLOY_IDENTITY_ID).toBe(identity.id);
    expect(three.outputs.LINKGATE_DEPLOY_STORAGE_ID).toBe(storage.id);
    expect(three.outputs.AZURE_FUNCTION_APP_NAME).toBe(site.name);
  });
});

describe('sample: the second deployment for it', () => {
  const subscriptions = ofType(events, 'Microsoft.EventGrid/systemTopics/eventSubscriptions');

  it('takes the values the first one outputs', () => {
    const params = readFileSync(join(__dirname, '..', '..', 'infra', 'samples', 'events-three-topics.bicepparam'), 'utf8');
    for (const topic of three.outputs.LINKGATE_DEPLOY_EVENT_TOPICS as { name: string; resourceGroup: string }[]) {
      expect(params).toContain(`name: '${topic.name}'`);
      expect(params).toContain(`resourceGroup: '${topic.resourceGroup}'`);
    }
    expect(params).toContain(`'${three.outputs.LINKGATE_DEPLOY_IDENTITY_ID as string}'`);
  });

  it('subscribes resourceEvents on each topic with the filter, retry and dead-lettering it needs', () => {
    expect(subscriptions.map((s) => s.id)).toEqual(
      ofType(three, 'Microsoft.EventGrid/systemTopics').map((t) => `${t.id}/eventSubscriptions/linkgate-resource-events`),
    );
    const operations = ['keyvault', 'storage', 'sql'].flatMap((key) => findResourceType(key)!.events);
    for (const subscription of subscriptions) {
      expect(subscription.properties).toEqual({
        eventDeliverySchema: 'EventGridSchema',
        destination: {
          endpointType: 'AzureFunction',
          properties: { resourceId: `${site.id}/functions/resourceEvents`, maxEventsPerBatch: 100, preferredBatchSizeInKilobytes: 1024 },
        },
        filter: {
          includedEventTypes: resourceEvents.includedEventTypes,
          advancedFilters: [{ operatorType: 'StringIn', key: 'data.operationName', values: operations }],
        },
        retryPolicy: { maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 },
        deadLetterWithResourceIdentity: {
          identity: { type: 'UserAssigned', userAssignedIdentity: identity.id },
          deadLetterDestination: { endpointType: 'StorageBlob', properties: { resourceId: storage.id, blobContainerName: 'deadletters' } },
        },
      });
    }
  });
});

describe('sample: every resource type watched', () => {
  const all = snapshot('events-all-types');
  const defaultsApprover = ofType(defaults, 'Microsoft.Authorization/roleDefinitions').find((r) => r.properties.roleName.startsWith(approverRole.roleName))!;

  it('splits the exact operation list over as many event subscriptions as Event Grid\'s 25 values allow, in registry order', () => {
    const subscriptions = ofType(all, 'Microsoft.EventGrid/systemTopics/eventSubscriptions');
    const operations = RESOURCE_TYPES.flatMap((t) => t.events);
    expect(subscriptions.map((s) => s.name)).toEqual(['evgt-linkgate-sample/linkgate-resource-events', 'evgt-linkgate-sample/linkgate-resource-events-2']);
    const values = subscriptions.map((s) => s.properties.filter.advancedFilters[0].values as string[]);
    for (const part of values) expect(part.length).toBeLessThanOrEqual(25);
    expect(values.flat()).toEqual(operations);
    for (const s of subscriptions) expect(s.properties.filter.advancedFilters).toHaveLength(1);
  });

  it('grants the approver role the read and approve actions of every registered type by default', () => {
    expect(defaultsApprover.properties.permissions[0].actions).toEqual([...RESOURCE_TYPES.flatMap((t) => [...t.permissions.read, ...t.permissions.approve]), ...approverRole.sweepActions]);
    expect(defaults.outputs.LINKGATE_RESOURCE_TYPES).toBe(RESOURCE_TYPES.map((t) => t.key).join(','));
  });
});

describe('sample: azd defaults only', () => {
  it('watches the home subscription alone, with one topic in the app\'s group and no extra groups', () => {
    const home = `/subscriptions/${HOME}`;
    expect(assignments(defaults).filter((a) => !a.scope.includes('/resourceGroups/')).map((a) => a.scope)).toEqual([home, home]);
    expect(ofType(defaults, 'Microsoft.EventGrid/systemTopics').map((t) => t.id.split('/resourceGroups/')[1])).toEqual([
      expect.stringMatching(/^rg-linkgate\/providers\/Microsoft\.EventGrid\/systemTopics\/evgt-linkgate-/),
    ]);
    expect(ofType(defaults, 'Microsoft.Resources/resourceGroups').map((g) => g.name)).toEqual(['rg-linkgate']);
    const settings = Object.fromEntries((only(defaults, 'Microsoft.Web/sites').properties.siteConfig.appSettings as { name: string; value: string }[]).map((s) => [s.name, s.value]));
    expect(settings.LINKGATE_SWEEP_SUBSCRIPTIONS).toBe(HOME);
    expect(only(defaults, 'Microsoft.Web/sites').location).toBe('westeurope');
  });
});
