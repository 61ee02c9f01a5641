// A subscription Linkgate does not watch but may read the tenant of (requesters' subscriptions).
targetScope = 'subscription'

param principalId string
@description('Stable ID of the identity (its resource ID), for role assignment names.')
param assignmentSeed string
@description('GUID of the tenant lookup role definition.')
param tenantLookupRoleId string

resource lookup 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, assignmentSeed, tenantLookupRoleId)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', tenantLookupRoleId)
  }
}

output roleAssignmentIds string[] = [lookup.id]
