// The Azure Bot that Teams talks to. Its app ID is the user-assigned identity (UserAssignedMSI),
// so there is no app registration and no client secret; Teams delivers card clicks to the
// function's /api/messages (https://learn.microsoft.com/azure/bot-service/provision-and-publish-a-bot).
param name string
param tags object
param identityId string
param identityClientId string
@description('Tenant of the identity: the bot is single-tenant.')
param tenantId string
param messagingEndpoint string

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: name
  location: 'global'
  tags: tags
  kind: 'azurebot'
  sku: { name: 'F0' }
  properties: {
    displayName: 'Linkgate'
    description: 'Approves or rejects private endpoint connections after a person decides.'
    endpoint: messagingEndpoint
    msaAppType: 'UserAssignedMSI'
    msaAppId: identityClientId
    msaAppMSIResourceId: identityId
    msaAppTenantId: tenantId
    publicNetworkAccess: 'Enabled'
  }
}

resource teams 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: {
      isEnabled: true
      acceptedTerms: true
    }
  }
}

output name string = bot.name
