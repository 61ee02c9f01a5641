// The one identity Linkgate runs as: ARM calls, Table Storage, the Functions host's storage, the
// deployment package, Application Insights ingestion, the Teams bot (UserAssignedMSI), and Event
// Grid dead-lettering. No secret exists anywhere.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
