// Parameters of the second deployment, read from the azd environment: the postdeploy hook runs
// with every `azd env get-values` entry as an environment variable (main.bicep's outputs).
using 'events.bicep'

param topics = json(readEnvironmentVariable('LINKGATE_DEPLOY_EVENT_TOPICS'))
param functionAppName = readEnvironmentVariable('AZURE_FUNCTION_APP_NAME')
param functionAppResourceGroup = readEnvironmentVariable('AZURE_RESOURCE_GROUP')
param identityId = readEnvironmentVariable('LINKGATE_DEPLOY_IDENTITY_ID')
param deadLetterStorageId = readEnvironmentVariable('LINKGATE_DEPLOY_STORAGE_ID')
param deadLetterContainerName = readEnvironmentVariable('LINKGATE_DEPLOY_DEAD_LETTER_CONTAINER')
param watchedResourceTypes = readEnvironmentVariable('LINKGATE_RESOURCE_TYPES', '')
