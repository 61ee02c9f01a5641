import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseResourceEvent } from '../../src/adapters/eventgrid/resource-event.js';
import { TABLES } from '../../src/composition.js';
import approverRole from '../../src/domain/definitions/approver-role.json';
import resourceEvents from '../../src/domain/definitions/resource-events.json';
import tenantLookupRole from '../../src/domain/definitions/tenant-lookup-role.json';
import { allFunctions } from '../../functions/all.js';
import { allResources, compiledDir, loadCompiled, moduleNamed, moduleParameter, ofType, type ArmResource, type ArmTemplate } from '../fixtures/arm-template.js';
import { armEvent } from '../fixtures/events.js';
import { RESOURCE_TYPES } from '../../src/domain/resource-types.js';

const SUBSCRIPTION = '3f2a9c4e-8b1d-4e6f-a5c7-2d9e0b4f7a13';

/**
 * Tests of the ARM JSON that infra/*.bicep compiles to (infra/compiled, kept current by
 * `npm run check:infra`, which CI runs with the real Bicep CLI).
 */
const main = loadCompiled('main.json');
const events = loadCompiled('events.json');
const mainText = readFileSync(join(compiledDir, 'main.json'), 'utf8');
const eventsText = readFileSync(join(compiledDir, 'events.json'), 'utf8');

const BUILT_IN = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
};
const TOO_BROAD = {
  Owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  Contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c',
  'User Access Administrator': '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
  'Key Vault Contributor': 'f25e0fa2-a7c8-4377-a976-54943a77a395',
  'Key Vault Administrator': '00482a5a-887f-4fb3-b363-3b7fe8e74483',
  Reader: 'acdd72a7-3385-48ef-bd42-f606fba81ae7',
};
const IDENTITY_PRINCIPAL = /'Microsoft\.Resources\/deployments', 'identity'\), '[\d-]+'\)\.outputs\.principalId\.value\]$/;

function only<T>(items: T[], what: string): T {
  expect(items, what).toHaveLength(1);
  return items[0]!;
}

function resourceIn(template: ArmTemplate, type: string): ArmResource {
  return only(
    allResources(template).filter((placed) => placed.resource.type === type).map((placed) => placed.resource),
    type,
  );
}

describe('custom roles', () => {
  const definitions = ofType(main, 'Microsoft.Authorization/roleDefinitions').map((placed) => placed.resource);

  it('grants the approver role the actions main.bicep gathers from the resource type registry', () => {
    const approver = only(definitions.filter((d) => d.properties.roleName.includes("variables('approver').roleName")), 'approver role');
    expect(approver.properties.roleName).toBe("[format('{0} ({1})', variables('approver').roleName, parameters('environmentName'))]");
    expect(approver.properties.permissions).toHaveLength(1);
    const [permission] = approver.properties.permissions;
    expect(permission.actions).toBe("[parameters('approverActions')]");
    const roles = moduleNamed(main, 'linkgate-roles');
    expect(moduleParameter(roles, 'approverActions')).toBe("[variables('approverActions')]");
    expect(main.variables!.approverActions).toMatch(/^\[concat\(flatten\(map\(variables\('watchedTypes'\), lambda\('type', concat\(lambdaVariables\('type'\)\.permissions\.read, lambdaVariables\('type'\)\.permissions\.approve\)\)\)\), .*sweepActions\)\]$/);
    const loaded = roles.properties.template.variables;
    const fileVariable = Object.entries(loaded).find(([name]) => name.startsWith('$fxv#') && (loaded[name] as { roleName?: string }).roleName === approverRole.roleName);
    expect(fileVariable?.[1]).toEqual(approverRole);
    expect(permission).toMatchObject({ notActions: [], dataActions: [], notDataActions: [] });
  });

  it('lists only what reading and deciding connections needs, with both the write and the Approval action', () => {
    for (const type of RESOURCE_TYPES) {
      const actions = [...type.permissions.read, ...type.permissions.approve];
      expect(new Set(actions).size, type.key).toBe(actions.length);
      for (const action of actions) {
        expect(action).not.toContain('*');
        // Nothing that writes the resource itself (a vault write can grant data access through access policies).
        expect(action.toLowerCase()).not.toBe(`${type.type.toLowerCase()}/write`);
        expect(action.toLowerCase()).toMatch(/\/(read|privateendpointconnections\/(read|write)|privateendpointconnectionsapproval\/action)$/);
      }
      expect(type.permissions.read.map((a) => a.toLowerCase())).toContain(`${type.type.toLowerCase()}/read`);
    }
    expect(tenantLookupRole.actions.some((a) => a.includes('*'))).toBe(false);
    expect(Object.keys(approverRole.why).sort()).toEqual(['approve', 'read', 'sweep']);
    expect(approverRole.sweepActions).toEqual(['Microsoft.ResourceGraph/resources/read']);
  });

  it('grants the tenant lookup role exactly its data file\'s action', () => {
    const lookup = only(definitions.filter((d) => d.properties.roleName.includes("variables('tenantLookup').roleName")), 'tenant lookup role');
    expect(lookup.properties.permissions[0].actions).toMatch(/^\[variables\('tenantLookup'\)\.actions\]$/);
    const loaded = moduleNamed(main, 'linkgate-roles').properties.template.variables as Record<string, unknown>;
    expect(Object.values(loaded)).toContainEqual(tenantLookupRole);
    expect(tenantLookupRole.actions).toEqual(['Microsoft.Resources/subscriptions/read']);
  });

  it('can be assigned only at the watched (and lookup) subscriptions', () => {
    const roles = moduleNamed(main, 'linkgate-roles');
    expect(moduleParameter(roles, 'approverScopes')).toMatch(/^\[map\(union\(variables\('watched'\), createArray\(variables\('homeSubscriptionId'\)\)\)/);
    expect(moduleParameter(roles, 'tenantLookupScopes')).toMatch(/^\[map\(union\(variables\('watched'\), variables\('lookupOnly'\), createArray\(variables\('homeSubscriptionId'\)\)\)/);
  });
});

describe('role assignments', () => {
  const assignments = ofType(main, 'Microsoft.Authorization/roleAssignments');

  /** The role GUID an assignment grants, resolved through its module's variables and parameters. */
  function grantedRole(placed: (typeof assignments)[number]): string {
    const expression: string = placed.resource.properties.roleDefinitionId;
    const variable = /variables\('(\w+)'\)\)\]$/.exec(expression);
    if (variable) return placed.template.variables![variable[1]!];
    const parameter = /parameters\('(\w+)'\)\)\]$/.exec(expression);
    if (parameter) return `param:${parameter[1]}`;
    throw new Error(`Unrecognised roleDefinitionId ${expression}`);
  }

  it('are exactly these six, to the one identity, at the intended scopes', () => {
    const summary = assignments.map((placed) => ({
      module: placed.modules.map((m) => (m.name.includes('linkgate-watch') ? 'watched' : m.name.includes('linkgate-lookup') ? 'lookup' : m.name)).join('/'),
      role: grantedRole(placed),
      scope: placed.resource.scope ?? 'subscription',
    }));
    expect(summary).toEqual([
      { module: 'storage', role: BUILT_IN.storageBlobDataOwner, scope: "[resourceId('Microsoft.Storage/storageAccounts', parameters('name'))]" },
      { module: 'storage', role: BUILT_IN.storageTableDataContributor, scope: "[resourceId('Microsoft.Storage/storageAccounts', parameters('name'))]" },
      { module: 'monitoring', role: BUILT_IN.monitoringMetricsPublisher, scope: "[resourceId('Microsoft.Insights/components', parameters('applicationInsightsName'))]" },
      { module: 'watched', role: 'param:approverRoleId', scope: 'subscription' },
      { module: 'watched', role: 'param:tenantLookupRoleId', scope: 'subscription' },
      { module: 'lookup', role: 'param:tenantLookupRoleId', scope: 'subscription' },
    ]);
    for (const placed of assignments) {
      expect(placed.resource.properties.principalId).toBe("[parameters('principalId')]");
      expect(placed.resource.properties.principalType).toBe('ServicePrincipal');
      expect(moduleParameter(placed.modules.at(-1)!, 'principalId')).toMatch(IDENTITY_PRINCIPAL);
    }
  });

  it('put the approver role on each watched subscription and the lookup role on the extra ones', () => {
    const watched = moduleNamed(main, 'linkgate-watch');
    expect(watched.copy).toMatchObject({ count: "[length(variables('topics'))]" });
    expect(watched.subscriptionId).toBe("[variables('topics')[copyIndex()].subscriptionId]");
    expect(main.variables!.topics).toMatch(/^\[map\(variables\('watched'\)/);
    expect(moduleParameter(watched, 'approverRoleId')).toBe("[variables('approverRoleId')]");
    expect(moduleParameter(watched, 'tenantLookupRoleId')).toBe("[variables('tenantLookupRoleId')]");
    const roles = moduleNamed(main, 'linkgate-roles');
    expect(moduleParameter(roles, 'approverRoleId')).toBe("[variables('approverRoleId')]");
    const lookup = moduleNamed(main, 'linkgate-lookup');
    expect(lookup.subscriptionId).toBe("[variables('lookupOnly')[copyIndex()]]");
  });

  it('never grants a broad built-in role', () => {
    for (const [name, id] of Object.entries(TOO_BROAD)) {
      expect(mainText.includes(id), name).toBe(false);
      expect(eventsText.includes(id), name).toBe(false);
    }
  });
});

describe('the function app', () => {
  const site = resourceIn(main, 'Microsoft.Web/sites');
  const plan = resourceIn(main, 'Microsoft.Web/serverfarms');
  const functionAppModule = moduleNamed(main, 'function-app');
  const appSettings = moduleParameter(functionAppModule, 'appSettings') as Record<string, string>;
  const hostSettings = functionAppModule.properties.template.variables.hostStorageSettings as Record<string, string>;

  it('runs Node 22 on a Flex Consumption plan from the deployment container, through the identity', () => {
    expect(plan.sku).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
    expect(site.kind).toBe('functionapp,linux');
    expect(site.properties.functionAppConfig.runtime).toEqual({ name: 'node', version: '22' });
    expect(site.properties.functionAppConfig.deployment.storage).toMatchObject({
      type: 'blobContainer',
      authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: "[parameters('identityId')]" },
    });
    expect(site.identity).toMatchObject({ type: 'UserAssigned' });
    expect(site.properties.httpsOnly).toBe(true);
  });

  it('reaches the host storage with the identity: no connection string', () => {
    expect(hostSettings).toEqual({
      AzureWebJobsStorage__accountName: "[parameters('storageAccountName')]",
      AzureWebJobsStorage__credential: 'managedidentity',
      AzureWebJobsStorage__clientId: "[parameters('identityClientId')]",
    });
    expect(Object.keys(appSettings)).not.toContain('AzureWebJobsStorage');
    // Flex Consumption refuses these: the runtime comes from functionAppConfig.
    expect(Object.keys(appSettings)).not.toContain('FUNCTIONS_WORKER_RUNTIME');
    expect(Object.keys(appSettings)).not.toContain('FUNCTIONS_EXTENSION_VERSION');
  });

  it('holds no secret or key in any app setting, and no template lists keys', () => {
    for (const [name, value] of Object.entries({ ...appSettings, ...hostSettings })) {
      expect(value, name).not.toMatch(/listKeys|listSecrets|listAccountSas|AccountKey|SharedAccessKey|sig=|password|secret/i);
      expect(name, name).not.toMatch(/KEY|SECRET|PASSWORD|SAS/i);
    }
    for (const text of [mainText, eventsText]) expect(text).not.toMatch(/listKeys\(|listSecrets\(|listAccountSas\(|listServiceSas\(/);
    const storage = resourceIn(main, 'Microsoft.Storage/storageAccounts');
    expect(storage.properties).toMatchObject({ allowSharedKeyAccess: false, allowBlobPublicAccess: false, minimumTlsVersion: 'TLS1_2' });
    // The connection string carries an instrumentation key, which is no secret once local
    // authentication is off: telemetry then needs an Entra token.
    const insights = resourceIn(main, 'Microsoft.Insights/components');
    expect(insights.properties.DisableLocalAuth).toBe(true);
    expect(appSettings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING).toMatch(/ClientId=\{0\};Authorization=AAD/);
  });

  it('sets only settings that the app or the platform reads, and outputs each under the same name', () => {
    const configSource = readFileSync(join(__dirname, '..', '..', 'src', 'config.ts'), 'utf8');
    for (const name of Object.keys(appSettings)) {
      const readByApp = configSource.includes(`'${name}'`);
      const platform = ['AZURE_CLIENT_ID', 'APPLICATIONINSIGHTS_CONNECTION_STRING', 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'].includes(name);
      expect(readByApp || platform, `${name} is read by src/config.ts or the platform`).toBe(true);
      expect(main.outputs![name]?.value, `output ${name}`).toMatch(new RegExp(`\\)\\.${name}\\]$`));
    }
    expect(Object.keys(appSettings)).toEqual(expect.arrayContaining(['LINKGATE_HOME_TENANT_ID', 'LINKGATE_TABLES_ENDPOINT', 'LINKGATE_SWEEP_SUBSCRIPTIONS', 'LINKGATE_TEAMS_BOT_ID', 'AZURE_CLIENT_ID']));
    expect(appSettings.LINKGATE_SWEEP_SUBSCRIPTIONS).toBe("[join(variables('watched'), ',')]");
  });

  it('creates the tables the app uses', () => {
    const storageModule = moduleNamed(main, 'storage');
    expect(moduleParameter(storageModule, 'tableNames')).toBe("[variables('tableNames')]");
    expect(main.variables!.tableNames).toEqual(Object.values(TABLES));
    expect(resourceIn(main, 'Microsoft.Storage/storageAccounts/tableServices/tables').copy).toMatchObject({ count: "[length(parameters('tableNames'))]" });
  });
});

describe('Event Grid', () => {
  const subscription = resourceIn(events, 'Microsoft.EventGrid/systemTopics/eventSubscriptions');
  const module = moduleNamed(events, 'linkgate-events');
  const filterModuleParameter = moduleParameter(module, 'filter') as Record<string, string>;

  it('builds the filter from the definitions resourceEvents reads: event types, and exact operation names in parts of 25', () => {
    expect(filterModuleParameter).toEqual({
      includedEventTypes: "[variables('resourceEvents').includedEventTypes]",
      operationNames: "[variables('deliveries')[copyIndex()].operations]",
    });
    expect(Object.values(events.variables!)).toContainEqual(resourceEvents);
    expect(events.variables!.filterValueLimit).toBe(25);
    expect(subscription.properties.filter).toEqual({
      includedEventTypes: "[parameters('filter').includedEventTypes]",
      advancedFilters: [{ operatorType: 'StringIn', key: 'data.operationName', values: "[parameters('filter').operationNames]" }],
    });
    // Event Grid's limits: 512 characters a value.
    for (const type of RESOURCE_TYPES) for (const value of type.events) expect(value.length).toBeLessThanOrEqual(512);
  });

  it('lets through exactly the events resourceEvents acts on, for every registered type', async () => {
    // Event Grid's semantics for this filter: the type is one of includedEventTypes and
    // data.operationName is one of the values, both compared case-insensitively.
    const filtered = new Set(RESOURCE_TYPES.flatMap((t) => t.events).map((o) => o.toLowerCase()));
    const delivered = (type: string, operation: string) =>
      resourceEvents.includedEventTypes.some((t) => t.toLowerCase() === type.toLowerCase()) && filtered.has(operation.toLowerCase());
    const types = ['Write', 'Delete', 'Action'].flatMap((verb) => ['Success', 'Failure', 'Cancel'].map((end) => `Microsoft.Resources.Resource${verb}${end}`));
    let deliveredCount = 0;
    for (const resourceType of RESOURCE_TYPES) {
      const operations = [
        ...resourceType.events,
        resourceType.events[0]!.toUpperCase(),
        `${resourceType.type}/write`,
        `${resourceType.type}/privateEndpointConnectionProxies/delete`,
      ];
      const resourceUri = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg/providers/${resourceType.type}/res1/privateEndpointConnections/pe-1`;
      for (const type of types) {
        for (const operation of operations) {
          const intake = await parseResourceEvent(armEvent(type, operation, resourceUri, 'PUT', {}));
          const expected = delivered(type, operation);
          if (expected) deliveredCount++;
          expect(intake.kind !== 'unrelated', `${type} ${operation}`).toBe(expected);
        }
      }
    }
    expect(deliveredCount).toBe(3 * (RESOURCE_TYPES.reduce((n, t) => n + t.events.length, 0) + RESOURCE_TYPES.length));
  });

  it('delivers to the resourceEvents function itself in batches of 100, retries for 24 hours, and dead-letters through the identity', () => {
    expect(allFunctions.map((f) => f.name)).toContain('resourceEvents');
    expect(subscription.properties.destination).toEqual({
      endpointType: 'AzureFunction',
      properties: {
        resourceId: expect.stringMatching(/'Microsoft\.Web\/sites\/functions', parameters\('functionApp'\)\.name, 'resourceEvents'\)\]$/),
        // A burst reaches one instance together, where hints for one resource share one look.
        maxEventsPerBatch: 100,
        preferredBatchSizeInKilobytes: 1024,
      },
    });
    expect(subscription.properties.retryPolicy).toEqual({ maxDeliveryAttempts: 30, eventTimeToLiveInMinutes: 1440 });
    expect(subscription.properties.deadLetterWithResourceIdentity).toEqual({
      identity: { type: 'UserAssigned', userAssignedIdentity: "[parameters('identityId')]" },
      deadLetterDestination: {
        endpointType: 'StorageBlob',
        properties: { resourceId: "[parameters('deadLetterStorageId')]", blobContainerName: "[parameters('deadLetterContainerName')]" },
      },
    });
    expect(subscription.properties).not.toHaveProperty('deadLetterDestination');
  });

  it('makes as many subscriptions per watched subscription\'s topic as the operations need, with the parameters main.bicep outputs', () => {
    expect(module.copy).toMatchObject({ count: "[length(variables('deliveries'))]" });
    expect(module.subscriptionId).toBe("[variables('deliveries')[copyIndex()].topic.subscriptionId]");
    for (const name of ['LINKGATE_RESOURCE_TYPES']) expect(main.outputs, name).toHaveProperty(name);
    const sample = loadCompiled('events.parameters.sample.json') as unknown as { parameters: Record<string, { value: unknown }> };
    expect(Object.keys(sample.parameters).sort()).toEqual(Object.keys(events.parameters!).sort());
    for (const name of ['LINKGATE_DEPLOY_EVENT_TOPICS', 'LINKGATE_DEPLOY_IDENTITY_ID', 'LINKGATE_DEPLOY_STORAGE_ID', 'LINKGATE_DEPLOY_DEAD_LETTER_CONTAINER', 'AZURE_FUNCTION_APP_NAME', 'AZURE_RESOURCE_GROUP']) {
      expect(main.outputs, name).toHaveProperty(name);
    }
  });

  it('gives each new system topic the identity, and merges it into a reused one', () => {
    const topics = ofType(main, 'Microsoft.EventGrid/systemTopics').map((placed) => placed.resource);
    expect(topics).toHaveLength(2);
    const [created, reused] = topics;
    expect(created).toMatchObject({ location: 'global', properties: { topicType: 'Microsoft.Resources.Subscriptions' } });
    expect(created!.properties.source).toBe("[format('/subscriptions/{0}', parameters('subscriptionId'))]");
    expect(JSON.stringify(created!.identity)).toContain("parameters('identityId')");
    expect(JSON.stringify(reused!.identity)).toContain("variables('userAssigned')");
    expect(reused!.properties).toEqual({ source: "[parameters('source')]", topicType: "[parameters('topicType')]" });
  });
});

describe('the bot and the parameters', () => {
  it('is the identity (UserAssignedMSI) with the Teams channel, at the function\'s /api/messages', () => {
    const bot = resourceIn(main, 'Microsoft.BotService/botServices');
    expect(bot.properties).toMatchObject({
      msaAppType: 'UserAssignedMSI',
      msaAppId: "[parameters('identityClientId')]",
      msaAppMSIResourceId: "[parameters('identityId')]",
      endpoint: "[parameters('messagingEndpoint')]",
    });
    expect(moduleParameter(moduleNamed(main, 'bot'), 'messagingEndpoint')).toMatch(/outputs\.defaultHostName\.value\)\]$/);
    expect(moduleParameter(moduleNamed(main, 'bot'), 'messagingEndpoint')).toMatch(/^\[format\('https:\/\/\{0\}\/api\/messages'/);
    const channel = resourceIn(main, 'Microsoft.BotService/botServices/channels');
    expect(channel.properties).toMatchObject({ channelName: 'MsTeamsChannel', properties: { isEnabled: true } });
    expect(mainText).not.toMatch(/msaAppPassword|clientSecret/i);
  });

  it('main.parameters.json names only parameters main.bicep has, and every required one', () => {
    const parameters = JSON.parse(readFileSync(join(__dirname, '..', '..', 'infra', 'main.parameters.json'), 'utf8')) as { parameters: Record<string, unknown> };
    const declared = main.parameters!;
    for (const name of Object.keys(parameters.parameters)) expect(declared, name).toHaveProperty(name);
    for (const [name, definition] of Object.entries(declared)) {
      if (!('defaultValue' in definition)) expect(parameters.parameters, name).toHaveProperty(name);
    }
  });
});
