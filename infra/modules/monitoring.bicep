// Application Insights on a Log Analytics workspace. Local (instrumentation key) authentication
// is off, so the connection string alone cannot send telemetry: the app authenticates with the
// managed identity (APPLICATIONINSIGHTS_AUTHENTICATION_STRING) and holds Monitoring Metrics
// Publisher on the component (https://learn.microsoft.com/azure/azure-monitor/app/azure-ad-authentication).
param workspaceName string
param applicationInsightsName string
param location string
param tags object
param principalId string
@description('Stable ID of the identity (its resource ID), for role assignment names.')
param assignmentSeed string

var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
    features: { disableLocalAuth: true }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

resource publisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, assignmentSeed, monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
  }
}

output connectionString string = applicationInsights.properties.ConnectionString
