// A sample deployment for the tests (npm run check:infra snapshots it): three watched
// subscriptions, written untidily as a person would, one with a system topic of its own to
// reuse, one more subscription for tenant lookups only, and three of the resource types.
using '../main.bicep'

param environmentName = 'linkgate-prod'
param location = 'swedencentral'
param watchedSubscriptionIds = 'AAAAAAAA-0000-4000-8000-000000000001, aaaaaaaa-0000-4000-8000-000000000002,aaaaaaaa-0000-4000-8000-000000000003,'
param tenantLookupSubscriptionIds = 'aaaaaaaa-0000-4000-8000-000000000004,aaaaaaaa-0000-4000-8000-000000000002'
param existingSystemTopicIds = '/subscriptions/aaaaaaaa-0000-4000-8000-000000000002/resourceGroups/rg-platform-events/providers/Microsoft.EventGrid/systemTopics/subscription-events'
param reviewConversationId = '19:3f1c0ffee@thread.tacv2'
param reviewApproverObjectIds = '5e8b2c1a-9d4f-4b7e-a3c6-1f0d8e2b7c94'
param watchedResourceTypes = 'keyvault, Storage,microsoft.sql/servers'
param apiClientId = 'D1B2C3D4-0000-4000-8000-0000000000A9'
param fourEyes = 'false'
