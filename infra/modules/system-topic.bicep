// The subscription's system topic for Azure Resource Manager events (location global; Azure
// allows one per source). It carries Linkgate's identity so that dead-lettered events are
// written to blob storage without a key.
param name string
param tags object
param subscriptionId string
param identityId string

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: name
  location: 'global'
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    source: '/subscriptions/${subscriptionId}'
    topicType: 'Microsoft.Resources.Subscriptions'
  }
}
