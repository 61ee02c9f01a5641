// Linkgate: everything `azd provision` creates. Subscription scope, because the custom roles,
// their assignments and the Event Grid system topics live in the watched subscriptions, outside
// the app's resource group. The Event Grid subscriptions to the resourceEvents function come in a
// second deployment (events.bicep), run by the postdeploy hook once the function exists: Event
// Grid validates the endpoint when a subscription is created, and the function appears only after
// the code is deployed.
targetScope = 'subscription'

metadata description = 'Linkgate: approval workflow for Azure Private Endpoint connections'

@minLength(1)
@maxLength(48)
@description('Name of the azd environment. Tags every resource and seeds the resource token.')
param environmentName string

@minLength(1)
@description('Region of the resource group, function app, storage and monitoring (one that offers Flex Consumption).')
param location string

@description('Subscriptions whose Private Link resources Linkgate watches, comma-separated. Empty: the subscription deployed to.')
param watchedSubscriptionIds string = ''

@description('More subscriptions, comma-separated, whose tenant Linkgate may read to recognise in-tenant requesters. The watched ones are always included.')
param tenantLookupSubscriptionIds string = ''

@description('Resource IDs of existing Microsoft.Resources.Subscriptions system topics to reuse, comma-separated (Azure allows one per subscription).')
param existingSystemTopicIds string = ''

@description('Teams conversation (channel) ID that review cards go to by default, for example 19:...@thread.tacv2. Can be set after the Teams app is installed.')
param reviewConversationId string = ''

@description('Entra object IDs of the default approvers, comma-separated.')
param reviewApproverObjectIds string = ''

@description('Resource types to watch, comma-separated keys or ARM types from src/domain/definitions/resource-types.json (keyvault, storage, sql, ...). Empty or all: every registered type.')
param watchedResourceTypes string = ''

@description('Client ID of Linkgate\'s API application, whose app roles decide who may use the admin APIs. The preprovision hook registers it (scripts/azd/preprovision.ts); empty: the admin APIs refuse every request.')
param apiClientId string = ''

@description('Teams conversation told of every rule change and proposal, for example the admins\' channel (19:...@thread.tacv2). Empty: none.')
param adminConversationId string = ''

@allowed(['true', 'false'])
@description('Four-eyes rule changes: a second person with Rules.Write confirms changes that could approve, reject or change approvers. Turn off only for a single-admin team.')
param fourEyes string = 'true'

// A string, as azd substitutes environment values into main.parameters.json as text.
@allowed(['1', '2', '3', '4', '5', '6', '10', '12', '15', '20', '30', '60', '120', '180', '240', '360', '480', '720', '1440'])
@description('Minutes between sweeps (src/app/sweep.ts): the Resource Graph query over the watched subscriptions that finds connections events missed and approvals made outside Linkgate.')
param sweepIntervalMinutes string = '15'

@minValue(40)
@maxValue(1000)
@description('Most instances the Flex Consumption plan scales out to.')
param maximumInstanceCount int = 40

var tags = { 'azd-env-name': environmentName, application: 'linkgate' }
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var homeSubscriptionId = toLower(subscription().subscriptionId)
var resourceGroupName = 'rg-${environmentName}'

var listedWatched = filter(map(split(watchedSubscriptionIds, ','), id => toLower(trim(id))), id => !empty(id))
var watched = empty(listedWatched) ? [homeSubscriptionId] : union(listedWatched, [])
var lookupOnly = filter(
  union(filter(map(split(tenantLookupSubscriptionIds, ','), id => toLower(trim(id))), id => !empty(id)), []),
  id => !contains(watched, id)
)

// An existing topic: /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.EventGrid/systemTopics/{name}
var existingTopics = map(
  filter(map(split(existingSystemTopicIds, ','), id => trim(id)), id => !empty(id)),
  id => { subscriptionId: toLower(split(id, '/')[2]), resourceGroup: split(id, '/')[4], name: last(split(id, '/')), existing: true }
)
var eventsResourceGroupName = 'rg-${environmentName}-events'
var topics = map(watched, sub => contains(map(existingTopics, t => t.subscriptionId), sub)
  ? first(filter(existingTopics, t => t.subscriptionId == sub))
  : {
      subscriptionId: sub
      resourceGroup: sub == homeSubscriptionId ? resourceGroupName : eventsResourceGroupName
      name: 'evgt-linkgate-${resourceToken}'
      existing: false
    })

// The watched types, from the registry the app reads (src/domain/definitions/resource-types.json):
// the approver role grants exactly their actions. events.bicep picks the same types for its filters.
var registeredTypes = loadJsonContent('../src/domain/definitions/resource-types.json').types
var listedTypes = filter(map(split(toLower(watchedResourceTypes), ','), name => trim(name)), name => !empty(name) && name != 'all')
var watchedTypes = empty(listedTypes)
  ? registeredTypes
  : filter(registeredTypes, type => contains(listedTypes, type.key) || contains(listedTypes, toLower(type.type)))
// With the sweep's own (Resource Graph), from the role's data file.
var approverActions = concat(flatten(map(watchedTypes, type => concat(type.permissions.read, type.permissions.approve))), loadJsonContent('../src/domain/definitions/approver-role.json').sweepActions)

var tableNames = ['rules', 'approvals', 'audit', 'tenantcache', 'conversations', 'ruleproposals', 'connections']

// Names and IDs known before anything runs, so role assignment names (guid(...)) are stable and
// What-If can predict them; principal IDs appear only in the assignments' properties.
var identityName = 'id-linkgate-${resourceToken}'
var identityId = resourceId(homeSubscriptionId, resourceGroupName, 'Microsoft.ManagedIdentity/userAssignedIdentities', identityName)
var approverRoleId = guid(subscription().id, environmentName, 'linkgate-approver')
var tenantLookupRoleId = guid(subscription().id, environmentName, 'linkgate-tenant-lookup')
var deadLetterContainerName = 'deadletters'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: identityName
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'stlg${resourceToken}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    assignmentSeed: identityId
    tableNames: tableNames
    deploymentContainerName: 'app-package'
    deadLetterContainerName: deadLetterContainerName
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    workspaceName: 'log-linkgate-${resourceToken}'
    applicationInsightsName: 'appi-linkgate-${resourceToken}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
    assignmentSeed: identityId
  }
}

module roles 'modules/roles.bicep' = {
  name: 'linkgate-roles-${resourceToken}'
  params: {
    environmentName: environmentName
    approverRoleId: approverRoleId
    tenantLookupRoleId: tenantLookupRoleId
    approverActions: approverActions
    approverScopes: map(union(watched, [homeSubscriptionId]), sub => '/subscriptions/${sub}')
    tenantLookupScopes: map(union(watched, lookupOnly, [homeSubscriptionId]), sub => '/subscriptions/${sub}')
  }
}

module watchedSubscriptions 'modules/watched-subscription.bicep' = [
  for (topic, i) in topics: {
    name: 'linkgate-watch-${resourceToken}-${i}'
    scope: subscription(topic.subscriptionId)
    params: {
      location: location
      tags: tags
      principalId: identity.outputs.principalId
      identityId: identityId
      approverRoleId: approverRoleId
      tenantLookupRoleId: tenantLookupRoleId
      topic: topic
      createResourceGroup: !topic.existing && topic.resourceGroup != resourceGroupName
    }
    // The roles are referenced by GUID, not by symbol, so the order is stated.
    dependsOn: [roles]
  }
]

module tenantLookupSubscriptions 'modules/tenant-lookup-subscription.bicep' = [
  for (sub, i) in lookupOnly: {
    name: 'linkgate-lookup-${resourceToken}-${i}'
    scope: subscription(sub)
    params: {
      principalId: identity.outputs.principalId
      assignmentSeed: identityId
      tenantLookupRoleId: tenantLookupRoleId
    }
    dependsOn: [roles]
  }
]

// Everything the app reads at start (src/config.ts). Each one is also an output of the same name,
// so `azd env get-values` gives a local run against this deployment the same configuration.
var appSettings = {
  AZURE_CLIENT_ID: identity.outputs.clientId
  LINKGATE_HOME_TENANT_ID: tenant().tenantId
  LINKGATE_ARM_ENDPOINT: environment().resourceManager
  LINKGATE_TABLES_ENDPOINT: storage.outputs.tableEndpoint
  LINKGATE_SWEEP_SUBSCRIPTIONS: join(watched, ',')
  LINKGATE_SWEEP_INTERVAL_MINUTES: sweepIntervalMinutes
  LINKGATE_RESOURCE_TYPES: join(map(watchedTypes, type => type.key), ',')
  LINKGATE_TEAMS_BOT_ID: identity.outputs.clientId
  LINKGATE_TEAMS_TENANT_ID: tenant().tenantId
  LINKGATE_REVIEW_CONVERSATION: reviewConversationId
  LINKGATE_REVIEW_APPROVERS: reviewApproverObjectIds
  LINKGATE_API_CLIENT_ID: toLower(trim(apiClientId))
  LINKGATE_AUTH_AUTHORITY: environment().authentication.loginEndpoint
  LINKGATE_FOUR_EYES: fourEyes
  LINKGATE_ADMIN_CONVERSATION: adminConversationId
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.outputs.clientId};Authorization=AAD'
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    planName: 'plan-linkgate-${resourceToken}'
    name: 'func-linkgate-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    appSettings: appSettings
    maximumInstanceCount: maximumInstanceCount
  }
}

module bot 'modules/bot.bicep' = {
  name: 'bot'
  scope: rg
  params: {
    name: 'bot-linkgate-${resourceToken}'
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    tenantId: tenant().tenantId
    messagingEndpoint: 'https://${functionApp.outputs.defaultHostName}/api/messages'
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output LINKGATE_API_URL string = 'https://${functionApp.outputs.defaultHostName}'

output AZURE_CLIENT_ID string = appSettings.AZURE_CLIENT_ID
output LINKGATE_HOME_TENANT_ID string = appSettings.LINKGATE_HOME_TENANT_ID
output LINKGATE_ARM_ENDPOINT string = appSettings.LINKGATE_ARM_ENDPOINT
output LINKGATE_TABLES_ENDPOINT string = appSettings.LINKGATE_TABLES_ENDPOINT
output LINKGATE_SWEEP_SUBSCRIPTIONS string = appSettings.LINKGATE_SWEEP_SUBSCRIPTIONS
output LINKGATE_SWEEP_INTERVAL_MINUTES string = appSettings.LINKGATE_SWEEP_INTERVAL_MINUTES
output LINKGATE_RESOURCE_TYPES string = appSettings.LINKGATE_RESOURCE_TYPES
output LINKGATE_TEAMS_BOT_ID string = appSettings.LINKGATE_TEAMS_BOT_ID
output LINKGATE_TEAMS_TENANT_ID string = appSettings.LINKGATE_TEAMS_TENANT_ID
output LINKGATE_REVIEW_CONVERSATION string = appSettings.LINKGATE_REVIEW_CONVERSATION
output LINKGATE_REVIEW_APPROVERS string = appSettings.LINKGATE_REVIEW_APPROVERS
output LINKGATE_API_CLIENT_ID string = appSettings.LINKGATE_API_CLIENT_ID
output LINKGATE_AUTH_AUTHORITY string = appSettings.LINKGATE_AUTH_AUTHORITY
output LINKGATE_FOUR_EYES string = appSettings.LINKGATE_FOUR_EYES
output LINKGATE_ADMIN_CONVERSATION string = appSettings.LINKGATE_ADMIN_CONVERSATION
output APPLICATIONINSIGHTS_CONNECTION_STRING string = appSettings.APPLICATIONINSIGHTS_CONNECTION_STRING
output APPLICATIONINSIGHTS_AUTHENTICATION_STRING string = appSettings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING

// For the hooks (Teams package, Event Grid subscriptions, teardown); no app setting reads these.
output LINKGATE_TEAMS_APP_ID string = guid(subscription().id, environmentName, 'teams-app')
output LINKGATE_DEPLOY_BOT_NAME string = bot.outputs.name
output LINKGATE_DEPLOY_IDENTITY_ID string = identity.outputs.id
output LINKGATE_DEPLOY_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output LINKGATE_DEPLOY_FUNCTION_APP_ID string = functionApp.outputs.id
output LINKGATE_DEPLOY_STORAGE_ID string = storage.outputs.id
output LINKGATE_DEPLOY_DEAD_LETTER_CONTAINER string = deadLetterContainerName
output LINKGATE_DEPLOY_EVENT_TOPICS array = topics
output LINKGATE_DEPLOY_ROLE_IDS array = [roles.outputs.approverRoleId, roles.outputs.tenantLookupRoleId]
output LINKGATE_DEPLOY_ROLE_ASSIGNMENT_IDS array = [for (topic, i) in topics: watchedSubscriptions[i].outputs.roleAssignmentIds]
output LINKGATE_DEPLOY_LOOKUP_ROLE_ASSIGNMENT_IDS array = [for (sub, i) in lookupOnly: tenantLookupSubscriptions[i].outputs.roleAssignmentIds]
