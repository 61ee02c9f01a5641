// Second deployment, run by the postdeploy hook after `azd deploy` has published the functions:
// one Event Grid subscription per watched subscription's system topic, to resourceEvents. Event
// Grid checks that the destination function exists when a subscription is created, which is why
// this cannot be part of main.bicep (README, "Deploy to Azure").
targetScope = 'subscription'

@description('LINKGATE_DEPLOY_EVENT_TOPICS from main.bicep: [{ subscriptionId, resourceGroup, name, existing }].')
param topics array
@description('AZURE_FUNCTION_APP_NAME')
param functionAppName string
@description('AZURE_RESOURCE_GROUP')
param functionAppResourceGroup string
@description('LINKGATE_DEPLOY_IDENTITY_ID')
param identityId string
@description('LINKGATE_DEPLOY_STORAGE_ID')
param deadLetterStorageId string
@description('LINKGATE_DEPLOY_DEAD_LETTER_CONTAINER')
param deadLetterContainerName string

// The same definition resourceEvents reads to decide what it accepts.
var resourceEvents = loadJsonContent('../src/domain/definitions/resource-events.json')

module eventSubscriptions 'modules/event-subscription.bicep' = [
  for (topic, i) in topics: {
    name: 'linkgate-events-${uniqueString(functionAppName)}-${i}'
    scope: resourceGroup(topic.subscriptionId, topic.resourceGroup)
    params: {
      topicName: topic.name
      filter: {
        includedEventTypes: resourceEvents.includedEventTypes
        operationNamePrefixes: resourceEvents.operationNamePrefixes
      }
      functionApp: { subscriptionId: subscription().subscriptionId, resourceGroup: functionAppResourceGroup, name: functionAppName }
      identityId: identityId
      deadLetterStorageId: deadLetterStorageId
      deadLetterContainerName: deadLetterContainerName
    }
  }
]

output eventSubscriptionIds array = [for (topic, i) in topics: eventSubscriptions[i].outputs.id]
