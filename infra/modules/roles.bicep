// Linkgate's two custom roles. Their actions come from the data files the code's tests read too
// (src/domain/definitions), so a new resource type extends the role and the tests at once.
// Role names are unique in a tenant, hence the environment name in each.
targetScope = 'subscription'

param environmentName string
@description('GUID of the approver role definition (fixed by main.bicep).')
param approverRoleId string
@description('GUID of the tenant lookup role definition.')
param tenantLookupRoleId string
@description('Scopes the approver role may be assigned at: the watched subscriptions.')
param approverScopes string[]
@description('Scopes the tenant lookup role may be assigned at.')
param tenantLookupScopes string[]

var approver = loadJsonContent('../../src/domain/definitions/approver-role.json')
var tenantLookup = loadJsonContent('../../src/domain/definitions/tenant-lookup-role.json')

resource approverRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: approverRoleId
  properties: {
    roleName: '${approver.roleName} (${environmentName})'
    description: approver.description
    type: 'CustomRole'
    permissions: [
      {
        actions: approver.actions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: approverScopes
  }
}

resource tenantLookupRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: tenantLookupRoleId
  properties: {
    roleName: '${tenantLookup.roleName} (${environmentName})'
    description: tenantLookup.description
    type: 'CustomRole'
    permissions: [
      {
        actions: tenantLookup.actions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: tenantLookupScopes
  }
}

// The definitions' GUIDs: each assignment builds the ID in its own subscription
// (subscriptionResourceId), where a custom role with that scope in assignableScopes is visible.
output approverRoleId string = approverRole.name
output tenantLookupRoleId string = tenantLookupRole.name
