// The second deployment for three-subscriptions.bicepparam, with the values its outputs give
// (the tests check that they match the main snapshot's outputs).
using '../events.bicep'

param topics = [
  { subscriptionId: 'aaaaaaaa-0000-4000-8000-000000000001', resourceGroup: 'rg-linkgate-prod', name: 'evgt-linkgate-ld55rxmtwetds', existing: false }
  { subscriptionId: 'aaaaaaaa-0000-4000-8000-000000000002', resourceGroup: 'rg-platform-events', name: 'subscription-events', existing: true }
  { subscriptionId: 'aaaaaaaa-0000-4000-8000-000000000003', resourceGroup: 'rg-linkgate-prod-events', name: 'evgt-linkgate-ld55rxmtwetds', existing: false }
]
param functionAppName = 'func-linkgate-ld55rxmtwetds'
param functionAppResourceGroup = 'rg-linkgate-prod'
param identityId = '/subscriptions/aaaaaaaa-0000-4000-8000-000000000001/resourceGroups/rg-linkgate-prod/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-linkgate-ld55rxmtwetds'
param deadLetterStorageId = '/subscriptions/aaaaaaaa-0000-4000-8000-000000000001/resourceGroups/rg-linkgate-prod/providers/Microsoft.Storage/storageAccounts/stlgld55rxmtwetds'
param deadLetterContainerName = 'deadletters'
param watchedResourceTypes = 'keyvault,storage,sql'
