// One watched subscription: Linkgate's roles on it, and the system topic that carries its Azure
// Resource Manager events (created, or an existing one given Linkgate's identity for dead-lettering).
targetScope = 'subscription'

param location string
param tags object
param principalId string
param identityId string
@description('GUID of the approver role definition.')
param approverRoleId string
@description('GUID of the tenant lookup role definition.')
param tenantLookupRoleId string
@description('Where the topic is: { subscriptionId, resourceGroup, name, existing }.')
param topic object
param createResourceGroup bool

// The approver role at subscription scope: the vaults of this subscription are what Linkgate
// approves for. Nothing broader (no Key Vault Contributor: it includes vaults/write).
resource approver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, identityId, approverRoleId)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', approverRoleId)
  }
}

resource tenantLookup 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, identityId, tenantLookupRoleId)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', tenantLookupRoleId)
  }
}

resource eventsGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = if (createResourceGroup) {
  name: topic.resourceGroup
  location: location
  tags: tags
}

module newTopic 'system-topic.bicep' = if (!topic.existing) {
  name: 'linkgate-topic-${uniqueString(topic.name)}'
  scope: resourceGroup(topic.resourceGroup)
  params: {
    name: topic.name
    tags: tags
    subscriptionId: subscription().subscriptionId
    identityId: identityId
  }
  dependsOn: [eventsGroup]
}

resource existingTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = if (topic.existing) {
  name: topic.name
  scope: resourceGroup(topic.resourceGroup)
}

module reusedTopic 'system-topic-identity.bicep' = if (topic.existing) {
  name: 'linkgate-topic-identity-${uniqueString(topic.name)}'
  scope: resourceGroup(topic.resourceGroup)
  params: {
    name: topic.name
    topicLocation: existingTopic.location
    topicTags: existingTopic.?tags ?? {}
    source: existingTopic.properties.source
    topicType: existingTopic.properties.topicType
    currentIdentity: existingTopic.?identity ?? { type: 'None' }
    identityId: identityId
  }
}

@description('What the predown hook deletes: azd down removes resource groups, not subscription-scope assignments.')
output roleAssignmentIds string[] = [approver.id, tenantLookup.id]
