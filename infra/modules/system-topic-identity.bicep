// An existing system topic, reused: the same topic with Linkgate's identity added to the ones it
// already has. Its other identities, tags, source and event subscriptions stay as they are.
// Identities are written back without their read-only principalId/clientId.
param name string
param topicLocation string
param topicTags object
param source string
param topicType string
@description('The topic\'s identity block as it is now ({ type: None } when it has none).')
param currentIdentity object
param identityId string

var hasSystemAssigned = contains(toLower(currentIdentity.type), 'systemassigned')
var userAssigned = union(
  toObject(items(currentIdentity.?userAssignedIdentities ?? {}), entry => entry.key, _ => {}),
  { '${identityId}': {} }
)

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: name
  location: topicLocation
  tags: topicTags
  identity: {
    type: hasSystemAssigned ? 'SystemAssigned, UserAssigned' : 'UserAssigned'
    userAssignedIdentities: userAssigned
  }
  properties: {
    source: source
    topicType: topicType
  }
}
