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

@description('LINKGATE_RESOURCE_TYPES from main.bicep: the watched types, comma-separated keys. Empty: all.')
param watchedResourceTypes string = ''

// The same definitions resourceEvents reads to decide what it accepts: the event types, and the
// exact operation names of the watched resource types from the registry. The types are chosen as
// in main.bicep.
var resourceEvents = loadJsonContent('../src/domain/definitions/resource-events.json')
var registeredTypes = loadJsonContent('../src/domain/definitions/resource-types.json').types
var listedTypes = filter(map(split(toLower(watchedResourceTypes), ','), name => trim(name)), name => !empty(name) && name != 'all')
var watchedTypes = empty(listedTypes)
  ? registeredTypes
  : filter(registeredTypes, type => contains(listedTypes, type.key) || contains(listedTypes, toLower(type.type)))
var operations = flatten(map(watchedTypes, type => type.events))

// Event Grid allows 25 advanced filter values per event subscription
// (https://learn.microsoft.com/azure/event-grid/event-filtering#limitations), so the exact
// operation list is split over as many subscriptions per topic as it needs: parts of 25.
var filterValueLimit = 25
var parts = (length(operations) + filterValueLimit - 1) / filterValueLimit
var deliveries = flatten(map(topics, topic => map(range(0, parts), part => {
  topic: topic
  name: part == 0 ? 'linkgate-resource-events' : 'linkgate-resource-events-${part + 1}'
  operations: take(skip(operations, part * filterValueLimit), filterValueLimit)
})))

module eventSubscriptions 'modules/event-subscription.bicep' = [
  for (delivery, i) in deliveries: {
    name: 'linkgate-events-${uniqueString(functionAppName)}-${i}'
    scope: resourceGroup(delivery.topic.subscriptionId, delivery.topic.resourceGroup)
    params: {
      topicName: delivery.topic.name
      name: delivery.name
      filter: {
        includedEventTypes: resourceEvents.includedEventTypes
        operationNames: delivery.operations
      }
      functionApp: { subscriptionId: subscription().subscriptionId, resourceGroup: functionAppResourceGroup, name: functionAppName }
      identityId: identityId
      deadLetterStorageId: deadLetterStorageId
      deadLetterContainerName: deadLetterContainerName
    }
  }
]

output eventSubscriptionIds array = [for (delivery, i) in deliveries: eventSubscriptions[i].outputs.id]
