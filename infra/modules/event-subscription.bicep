// Linkgate's subscription on one system topic: the resource events resourceEvents acts on, to
// the function itself (endpoint type AzureFunction: no webhook URL and no function key in the
// template), with Event Grid's retry schedule and dead-lettering to blob storage through
// Linkgate's identity.
// Known: Microsoft recommends the AzureFunction endpoint type over a webhook for functions
// (https://learn.microsoft.com/azure/event-grid/handler-webhooks). Reported, not documented: on
// Flex Consumption the first delivery after a scale from zero can be refused while the host
// loads its keys (Azure/azure-functions-host#11834); Event Grid retries it within seconds, and
// the sweep would find the connection anyway.
param topicName string
@description('linkgate-resource-events, then -2, -3, ... when the operations need more than one subscription.')
param name string
@description('{ includedEventTypes, operationNames }: resource-events.json and at most 25 operations from resource-types.json.')
param filter object
@description('The function app, in its own subscription and resource group.')
param functionApp { subscriptionId: string, resourceGroup: string, name: string }
param identityId string
param deadLetterStorageId string
param deadLetterContainerName string

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: topicName
}

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionApp.name
  scope: resourceGroup(functionApp.subscriptionId, functionApp.resourceGroup)

  resource resourceEvents 'functions' existing = {
    name: 'resourceEvents'
  }
}

resource subscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: topic
  name: name
  properties: {
    eventDeliverySchema: 'EventGridSchema'
    destination: {
      endpointType: 'AzureFunction'
      properties: {
        resourceId: site::resourceEvents.id
        // A deployment's burst arrives together: the invocations of one batch start together on
        // one instance, where hints for the same resource share one look (hint-coalescer.ts).
        // Known (https://learn.microsoft.com/azure/event-grid/delivery-and-retry, "Batching"):
        // a batch is all or none, so a failed event brings the whole batch again, which the
        // handler's idempotence absorbs; up to 5,000 events and 1,024 KB per batch. An ARM
        // resource event is 2 to 4 KB, so about 250 of them fill 1,024 KB. Not documented:
        // whether the Functions host hands a batch to a JavaScript function as one array or as
        // one invocation per event; the handler accepts both.
        maxEventsPerBatch: 100
        preferredBatchSizeInKilobytes: 1024
      }
    }
    filter: {
      includedEventTypes: filter.includedEventTypes
      // One StringIn filter with the exact operation names (Event Grid compares case-insensitively
      // and allows at most 25 values per subscription).
      advancedFilters: [
        {
          operatorType: 'StringIn'
          key: 'data.operationName'
          values: filter.operationNames
        }
      ]
    }
    // Event Grid's own maximum: 30 attempts over 24 hours
    // (https://learn.microsoft.com/azure/event-grid/delivery-and-retry).
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'UserAssigned'
        userAssignedIdentity: identityId
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: deadLetterStorageId
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output id string = subscription.id
