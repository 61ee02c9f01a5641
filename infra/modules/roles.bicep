// Linkgate's two custom roles. The approver role's actions are the read and approve permissions of
// the watched types in the resource type registry (src/domain/definitions/resource-types.json,
// gathered by main.bicep), so a new resource type extends the role and the tests at once.
// Role names are unique in a tenant, hence the environment name in each.
targetScope = 'subscription'

param environmentName string
@description('GUID of the approver role definition (fixed by main.bicep).')
param approverRoleId string
@description('GUID of the tenant lookup role definition.')
param tenantLookupRoleId string
@description('The read and approve actions of the watched resource types.')
param approverActions string[]
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
        actions: approverActions
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
