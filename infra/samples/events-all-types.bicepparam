// The second deployment with every registered resource type watched: more operations than one
// Event Grid subscription can filter on (25 values), so each topic gets as many as it needs.
using '../events.bicep'

param topics = [
  { subscriptionId: 'aaaaaaaa-0000-4000-8000-000000000001', resourceGroup: 'rg-linkgate', name: 'evgt-linkgate-sample', existing: false }
]
param functionAppName = 'func-linkgate-sample'
param functionAppResourceGroup = 'rg-linkgate'
param identityId = '/subscriptions/aaaaaaaa-0000-4000-8000-000000000001/resourceGroups/rg-linkgate/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-linkgate-sample'
param deadLetterStorageId = '/subscriptions/aaaaaaaa-0000-4000-8000-000000000001/resourceGroups/rg-linkgate/providers/Microsoft.Storage/storageAccounts/stlgsample'
param deadLetterContainerName = 'deadletters'
