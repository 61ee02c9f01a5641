import { randomUUID } from 'node:crypto';
import type { CallerIdentity } from './identity.js';
import { eventResourceUri } from './resource-ids.js';

/** The operation names a provider reports for private endpoint connection work on one of its resources. */
export function operationsFor(fixture: { readonly type: string }) {
  return {
    proxyValidate: `${fixture.type}/privateEndpointConnectionProxies/validate/action`,
    proxyWrite: `${fixture.type}/privateEndpointConnectionProxies/write`,
    connectionWrite: `${fixture.type}/privateEndpointConnections/write`,
    connectionDelete: `${fixture.type}/privateEndpointConnections/delete`,
  };
}

/** Key Vault's, for callers that only deal with vaults. */
export const OPERATIONS = operationsFor({ type: 'Microsoft.KeyVault/vaults' });

export type ResourceEventType =
  | 'Microsoft.Resources.ResourceActionSuccess'
  | 'Microsoft.Resources.ResourceWriteSuccess'
  | 'Microsoft.Resources.ResourceDeleteSuccess';

export const VALIDATION_EVENT_TYPE = 'Microsoft.EventGrid.SubscriptionValidationEvent';

/** Built-in Contributor role definition ID, as it appears in authorization evidence. */
const CONTRIBUTOR_ROLE_DEFINITION_ID = 'b24988ac618042a0ab8820f7382dd24c';
const CLAIM = {
  objectId: 'http://schemas.microsoft.com/identity/claims/objectidentifier',
  tenantId: 'http://schemas.microsoft.com/identity/claims/tenantid',
  name: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
  upn: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn',
  nameIdentifier: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier',
  scope: 'http://schemas.microsoft.com/identity/claims/scope',
  authnMethods: 'http://schemas.microsoft.com/claims/authnmethodsreferences',
  authnClass: 'http://schemas.microsoft.com/claims/authnclassreference',
} as const;

export interface ResourceEventSpec {
  eventType: ResourceEventType;
  operationName: string;
  /** The resource the operation acted on, in its stored casing. */
  resourceId: string;
  subscriptionId: string;
  /** Tenant of the subscription that holds the resource. */
  tenantId: string;
  /** The resource's provider namespace, e.g. `Microsoft.Storage`. */
  resourceProvider: string;
  caller: CallerIdentity;
  /** Where the caller's role assignment lives (the requester's own subscription for cross-subscription requests). */
  roleAssignmentScope: string;
  httpMethod: string;
  httpUrl: string;
  correlationId: string;
  clientRequestId: string;
}

/** Schema-neutral event; it is rendered per subscriber as Event Grid or CloudEvents JSON at delivery time. */
export interface ResourceEvent {
  id: string;
  topic: string;
  subject: string;
  eventType: string;
  eventTime: string;
  data: Record<string, unknown>;
}

export function buildResourceEvent(spec: ResourceEventSpec, now: Date): ResourceEvent {
  const resourceUri = eventResourceUri(spec.resourceId);
  return {
    id: randomUUID(),
    topic: `/subscriptions/${spec.subscriptionId}`,
    subject: resourceUri,
    eventType: spec.eventType,
    eventTime: now.toISOString(),
    data: {
      authorization: {
        scope: resourceUri,
        action: spec.operationName,
        evidence: {
          role: 'Contributor',
          roleAssignmentScope: spec.roleAssignmentScope,
          roleAssignmentId: randomUUID().replaceAll('-', ''),
          roleDefinitionId: CONTRIBUTOR_ROLE_DEFINITION_ID,
          principalId: spec.caller.objectId.replaceAll('-', ''),
          principalType: 'User',
        },
      },
      claims: buildClaims(spec.caller, now),
      correlationId: spec.correlationId,
      httpRequest: {
        clientRequestId: spec.clientRequestId,
        clientIpAddress: '127.0.0.1',
        method: spec.httpMethod,
        url: spec.httpUrl,
      },
      resourceProvider: spec.resourceProvider,
      resourceUri,
      operationName: spec.operationName,
      status: 'Succeeded',
      subscriptionId: spec.subscriptionId,
      tenantId: spec.tenantId,
    },
  };
}

/** Claims arrive as a flat string map keyed by the long claim-type URIs, as in real Microsoft.Resources events. */
function buildClaims(caller: CallerIdentity, now: Date): Record<string, string> {
  const issuedAt = Math.floor(now.getTime() / 1000);
  return {
    aud: 'https://management.core.windows.net/',
    iss: `https://sts.windows.net/${caller.tenantId}/`,
    iat: String(issuedAt),
    nbf: String(issuedAt),
    exp: String(issuedAt + 3600),
    [CLAIM.authnClass]: '1',
    [CLAIM.authnMethods]: 'pwd',
    appid: caller.appId,
    appidacr: '0',
    name: caller.name,
    [CLAIM.name]: caller.name,
    [CLAIM.upn]: caller.name,
    [CLAIM.nameIdentifier]: caller.objectId,
    [CLAIM.objectId]: caller.objectId,
    [CLAIM.scope]: 'user_impersonation',
    [CLAIM.tenantId]: caller.tenantId,
    ver: '1.0',
  };
}

export function toEventGridSchema(event: ResourceEvent): Record<string, unknown> {
  return { ...event, dataVersion: '2', metadataVersion: '1' };
}

export function toCloudEvent(event: ResourceEvent): Record<string, unknown> {
  return {
    specversion: '1.0',
    type: event.eventType,
    source: event.topic,
    subject: event.subject,
    id: event.id,
    time: event.eventTime,
    datacontenttype: 'application/json',
    data: event.data,
  };
}

export function buildValidationEvent(
  topic: string,
  validationCode: string,
  validationUrl: string,
  now: Date,
): Record<string, unknown> {
  return {
    id: randomUUID(),
    topic,
    subject: '',
    eventType: VALIDATION_EVENT_TYPE,
    eventTime: now.toISOString(),
    data: { validationCode, validationUrl },
    dataVersion: '2',
    metadataVersion: '1',
  };
}
