import { describe, expect, it } from 'vitest';
import { parseResourceEvent, type Intake } from '../../src/adapters/eventgrid/resource-event.js';
import { KEY_VAULT } from '../../src/domain/resource-types.js';
import {
  armEvent,
  connectionDeleteEvent,
  connectionWriteEvent,
  connectionWriteFailureEvent,
  LINKGATE_OBJECT_ID,
  mixedBatch,
  proxyValidateActionEvent,
  proxyWriteEvent,
  REQUESTER_OBJECT_ID,
  subscriptionValidationEvent,
  toCloudEvent,
  unrelatedStorageWriteEvent,
  VAULT_NAME,
  VAULT_RESOURCE_GROUP,
  VAULT_SUBSCRIPTION_ID,
  vaultResourceId,
} from '../fixtures/events.js';

const VAULT_KEY = `/subscriptions/${VAULT_SUBSCRIPTION_ID}/resourcegroups/${VAULT_RESOURCE_GROUP}/providers/microsoft.keyvault/vaults/${VAULT_NAME}`;

/** A copy of `event` with `field` removed from the envelope. */
function without(event: object, field: string): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...event };
  delete copy[field];
  return copy;
}

/** A copy of `event` whose data has `field` set to `value` (or removed, for undefined). */
function withData(event: { data: object }, field: string, value: unknown): Record<string, unknown> {
  const data: Record<string, unknown> = { ...event.data };
  if (value === undefined) delete data[field];
  else data[field] = value;
  return { ...event, data };
}

function hintOf(intake: Intake) {
  if (intake.kind !== 'hint') throw new Error(`expected a hint, got ${intake.kind}: ${JSON.stringify(intake)}`);
  return intake.hint;
}

describe('parseResourceEvent: Key Vault connection events become hints', () => {
  it('turns an Event Grid schema proxy write into a hint for its vault', async () => {
    // Prepare
    const event = proxyWriteEvent({ id: 'e1b7c2d4-0001-4a5b-9c8d-7e6f5a4b3c21' });

    // Act
    const intake = await parseResourceEvent(event);

    // Assess
    expect(intake).toEqual({
      kind: 'hint',
      hint: {
        resource: expect.objectContaining({ key: VAULT_KEY, name: VAULT_NAME, subscriptionId: VAULT_SUBSCRIPTION_ID, resourceGroup: VAULT_RESOURCE_GROUP }),
        source: 'event',
        eventId: 'e1b7c2d4-0001-4a5b-9c8d-7e6f5a4b3c21',
        eventTime: new Date(event.eventTime),
        eventType: 'Microsoft.Resources.ResourceWriteSuccess',
        operationName: 'Microsoft.KeyVault/vaults/privateEndpointConnectionProxies/write',
        subject: event.data.resourceUri,
        callerObjectId: REQUESTER_OBJECT_ID,
      },
    });
  });

  it('reads the caller object ID from the dotted claim key, in lower case', async () => {
    // Prepare
    const event = proxyWriteEvent({ callerObjectId: REQUESTER_OBJECT_ID.toUpperCase() });

    // Act
    const hint = hintOf(await parseResourceEvent(event));

    // Assess
    expect(hint.callerObjectId).toBe(REQUESTER_OBJECT_ID);
  });

  it('leaves callerObjectId out when the claims carry no object ID', async () => {
    // Prepare
    const event = withData(proxyWriteEvent(), 'claims', { aud: 'https://management.core.windows.net/', ver: '1.0' });

    // Act
    const hint = hintOf(await parseResourceEvent(event));

    // Assess
    expect('callerObjectId' in hint).toBe(false);
  });

  it('turns the CloudEvents 1.0 form of a proxy write into the same hint', async () => {
    // Prepare
    const eventGridForm = proxyWriteEvent();
    const cloudEventForm = toCloudEvent(eventGridForm);

    // Act
    const fromEventGrid = await parseResourceEvent(eventGridForm);
    const fromCloudEvent = await parseResourceEvent(cloudEventForm);

    // Assess
    expect(fromCloudEvent).toEqual(fromEventGrid);
  });

  it('gives lower-case /resourcegroups/ and camel-case /resourceGroups/ the same vault key', async () => {
    // Prepare
    const lower = proxyWriteEvent({ resourceGroupCasing: 'lower' });
    const camel = proxyWriteEvent({ resourceGroupCasing: 'camel' });

    // Act
    const lowerHint = hintOf(await parseResourceEvent(lower));
    const camelHint = hintOf(await parseResourceEvent(camel));

    // Assess
    expect(lower.subject).toContain('/resourcegroups/');
    expect(camel.subject).toContain('/resourceGroups/');
    expect(lowerHint.resource.key).toBe(VAULT_KEY);
    expect(camelHint.resource.key).toBe(VAULT_KEY);
  });

  it('accepts the proxy validate/action success', async () => {
    // Prepare
    const event = proxyValidateActionEvent();

    // Act
    const hint = hintOf(await parseResourceEvent(event));

    // Assess
    expect(hint.eventType).toBe('Microsoft.Resources.ResourceActionSuccess');
    expect(hint.operationName).toBe('Microsoft.KeyVault/vaults/privateEndpointConnectionProxies/validate/action');
    expect(hint.resource.key).toBe(VAULT_KEY);
  });

  it('accepts a connection delete success', async () => {
    // Prepare
    const event = connectionDeleteEvent();

    // Act
    const hint = hintOf(await parseResourceEvent(event));

    // Assess
    expect(hint.eventType).toBe('Microsoft.Resources.ResourceDeleteSuccess');
    expect(hint.resource.key).toBe(VAULT_KEY);
  });

  it("accepts Linkgate's own connection write, carrying its object ID as the caller", async () => {
    // Prepare
    const event = connectionWriteEvent();

    // Act
    const hint = hintOf(await parseResourceEvent(event));

    // Assess
    expect(hint.operationName).toBe('Microsoft.KeyVault/vaults/privateEndpointConnections/write');
    expect(hint.callerObjectId).toBe(LINKGATE_OBJECT_ID);
  });

  it('matches the operation name prefix without regard to case', async () => {
    // Prepare
    const event = withData(connectionWriteEvent(), 'operationName', 'MICROSOFT.KEYVAULT/vaults/privateEndpointConnections/write');

    // Act
    const hint = hintOf(await parseResourceEvent(event));

    // Assess
    expect(hint.operationName).toBe('MICROSOFT.KEYVAULT/vaults/privateEndpointConnections/write');
  });

  it('falls back to the subject when data.resourceUri is absent', async () => {
    // Prepare
    const event = withData(proxyWriteEvent(), 'resourceUri', undefined);

    // Act
    const hint = hintOf(await parseResourceEvent(event));

    // Assess
    expect(hint.resource.key).toBe(VAULT_KEY);
    expect(hint.subject).toBe(proxyWriteEvent().subject);
  });
});

describe('parseResourceEvent: the watched types', () => {
  const storageConnection = `/subscriptions/${VAULT_SUBSCRIPTION_ID}/resourcegroups/rg-data/providers/Microsoft.Storage/storageAccounts/stcontosodata/privateEndpointConnections/pe-1`;
  const storageWrite = () => armEvent('Microsoft.Resources.ResourceWriteSuccess', 'Microsoft.Storage/storageAccounts/privateEndpointConnections/write', storageConnection, 'PUT', {});

  it('makes a storage account connection write a hint about that storage account', async () => {
    // Act
    const intake = await parseResourceEvent(storageWrite());

    // Assess
    expect(intake.kind === 'hint' && [intake.hint.resource.type.key, intake.hint.resource.name]).toEqual(['storage', 'stcontosodata']);
  });

  it('calls an event about a type that is not watched unrelated, naming the setting', async () => {
    // Act
    const intake = await parseResourceEvent(storageWrite(), { types: [KEY_VAULT] });

    // Assess
    expect(intake).toMatchObject({ kind: 'unrelated' });
    expect(intake.kind === 'unrelated' && intake.reason).toContain('LINKGATE_RESOURCE_TYPES');
  });

  it('refuses an operation of one type on a resource of another', async () => {
    // Act
    const intake = await parseResourceEvent(armEvent('Microsoft.Resources.ResourceWriteSuccess', 'Microsoft.Sql/servers/privateEndpointConnections/write', storageConnection, 'PUT', {}));

    // Assess
    expect(intake).toMatchObject({ kind: 'invalid' });
    expect(intake.kind === 'invalid' && intake.error).toContain('is not under a SQL server');
  });
});

describe('parseResourceEvent: other events are unrelated', () => {
  it('calls a ResourceWriteFailure on a Key Vault connection unrelated', async () => {
    // Prepare
    const event = connectionWriteFailureEvent({ id: 'f00d0000-0000-4000-8000-000000000001' });

    // Act
    const intake = await parseResourceEvent(event);

    // Assess
    expect(intake).toMatchObject({ kind: 'unrelated', eventId: 'f00d0000-0000-4000-8000-000000000001', eventType: 'Microsoft.Resources.ResourceWriteFailure' });
  });

  it('calls a Microsoft.Storage write unrelated', async () => {
    // Prepare
    const event = unrelatedStorageWriteEvent();

    // Act
    const intake = await parseResourceEvent(event);

    // Assess
    expect(intake).toMatchObject({ kind: 'unrelated', eventType: 'Microsoft.Resources.ResourceWriteSuccess' });
    expect(intake.kind === 'unrelated' && intake.reason).toContain('Microsoft.Storage/storageAccounts/write');
  });

  it('calls the Event Grid subscription validation event unrelated', async () => {
    // Prepare
    const event = subscriptionValidationEvent('512d38b6-c7b8-40c8-89fe-f46f9e9622b6');

    // Act
    const intake = await parseResourceEvent(event);

    // Assess
    expect(intake).toMatchObject({ kind: 'unrelated', eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent' });
  });

  it('calls a write under a vault that is not about private endpoint connections unrelated', async () => {
    // Prepare
    const event = withData(proxyWriteEvent(), 'operationName', 'Microsoft.KeyVault/vaults/write');

    // Act
    const intake = await parseResourceEvent(event);

    // Assess
    expect(intake.kind).toBe('unrelated');
  });
});

describe('parseResourceEvent: malformed input is invalid and never a hint', () => {
  const otherVaultUri = `${vaultResourceId({ vaultName: 'kv-hr' })}/privateEndpointConnectionProxies/pe-hr.1-proxy`;

  it.each<{ case: string; raw: () => unknown; error: string }>([
    { case: 'null', raw: () => null, error: 'expected one event object, got null' },
    { case: 'an array (a whole batch)', raw: () => mixedBatch(), error: 'expected one event object, got an array' },
    { case: 'a string', raw: () => JSON.stringify(proxyWriteEvent()), error: 'expected one event object, got string' },
    { case: 'a number', raw: () => 42, error: 'expected one event object, got number' },
    { case: 'an Event Grid event without id', raw: () => without(proxyWriteEvent(), 'id'), error: "not a valid Event Grid schema event: event is missing required property 'id'" },
    {
      case: 'an Event Grid event without eventType',
      raw: () => without(proxyWriteEvent(), 'eventType'),
      error: "not a valid Event Grid schema event: event is missing required property 'eventType'",
    },
    {
      case: 'an Event Grid event without eventTime',
      raw: () => without(proxyWriteEvent(), 'eventTime'),
      error: "not a valid Event Grid schema event: event is missing required property 'eventTime'",
    },
    { case: 'an Event Grid event without data', raw: () => without(proxyWriteEvent(), 'data'), error: "not a valid Event Grid schema event: event is missing required property 'data'" },
    { case: 'an Event Grid event with a numeric id', raw: () => ({ ...proxyWriteEvent(), id: 7 }), error: 'not a valid Event Grid schema event' },
    { case: 'a CloudEvent without source', raw: () => without(toCloudEvent(proxyWriteEvent()), 'source'), error: "not a valid CloudEvents 1.0 event: event is missing required property 'source'" },
    { case: 'a CloudEvent without id', raw: () => without(toCloudEvent(proxyWriteEvent()), 'id'), error: "not a valid CloudEvents 1.0 event: event is missing required property 'id'" },
    { case: 'a CloudEvent without type', raw: () => without(toCloudEvent(proxyWriteEvent()), 'type'), error: "not a valid CloudEvents 1.0 event: event is missing required property 'type'" },
    { case: 'a CloudEvent of spec version 0.3', raw: () => ({ ...toCloudEvent(proxyWriteEvent()), specversion: '0.3' }), error: 'not a valid CloudEvents 1.0 event' },
    { case: 'a CloudEvent without data', raw: () => without(toCloudEvent(proxyWriteEvent()), 'data'), error: 'Microsoft.Resources.ResourceWriteSuccess event has no data object' },
    // The @azure/eventgrid deserializer reads `data` through a Dictionary mapper, so text arrives as an
    // object of single characters and the event is refused one step later, at data.operationName.
    { case: 'data given as text', raw: () => ({ ...proxyWriteEvent(), data: 'write' }), error: 'data.operationName is missing or not a string' },
    { case: 'data given as null', raw: () => ({ ...proxyWriteEvent(), data: null }), error: 'Microsoft.Resources.ResourceWriteSuccess event has no data object' },
    { case: 'data.operationName missing', raw: () => withData(proxyWriteEvent(), 'operationName', undefined), error: 'data.operationName is missing or not a string' },
    { case: 'data.operationName not a string', raw: () => withData(proxyWriteEvent(), 'operationName', ['write']), error: 'data.operationName is missing or not a string' },
    { case: 'data.operationName blank', raw: () => withData(proxyWriteEvent(), 'operationName', '  '), error: 'data.operationName is missing or not a string' },
    { case: 'data.resourceUri not a string', raw: () => withData(proxyWriteEvent(), 'resourceUri', { id: vaultResourceId() }), error: 'data.resourceUri is not a string' },
    {
      case: 'a resource that is not under a vault',
      raw: () => {
        const uri = `/subscriptions/${VAULT_SUBSCRIPTION_ID}/resourcegroups/rg-data/providers/Microsoft.Storage/storageAccounts/st1/privateEndpointConnections/pe-1`;
        return { ...withData(proxyWriteEvent(), 'resourceUri', uri), subject: uri };
      },
      error: 'is not under a Key Vault',
    },
    {
      case: 'subject and data.resourceUri naming different vaults',
      raw: () => withData(proxyWriteEvent(), 'resourceUri', otherVaultUri),
      error: 'name different resources',
    },
  ])('refuses $case', async ({ raw, error }) => {
    // Prepare
    const input = raw();

    // Act
    const intake = await parseResourceEvent(input);

    // Assess
    expect(intake.kind).toBe('invalid');
    expect(intake.kind === 'invalid' && intake.error).toContain(error);
    // What is kept for the audit: the input, with the caller's claims reduced to the object ID.
    const kept = intake.kind === 'invalid' ? intake.raw : undefined;
    const claims = (input as { data?: { claims?: Record<string, string> } } | null)?.data?.claims;
    if (claims && typeof claims === 'object') {
      expect(kept).toEqual({ ...(input as object), data: { ...(input as { data: object }).data, claims: { objectId: claims['http://schemas.microsoft.com/identity/claims/objectidentifier'] } } });
      expect(JSON.stringify(kept)).not.toContain('@contoso.example');
    } else if (typeof (input as { data?: unknown } | null)?.data === 'string') {
      expect(kept).toEqual({ ...(input as object), data: '(a string of 5 characters, not kept: it may hold token claims)' });
    } else {
      expect(kept).toEqual(input);
    }
  });

  it('keeps the event ID of an invalid event whose envelope carried one', async () => {
    // Prepare
    const input = without(proxyWriteEvent({ id: 'abad1dea-0000-4000-8000-000000000002' }), 'eventTime');

    // Act
    const intake = await parseResourceEvent(input);

    // Assess
    expect(intake).toMatchObject({ kind: 'invalid', eventId: 'abad1dea-0000-4000-8000-000000000002' });
  });
});

describe('parseResourceEvent: a mixed delivery', () => {
  it('maps each event of the batch on its own: hint, unrelated, unrelated, hint', async () => {
    // Prepare
    const batch = mixedBatch();

    // Act
    const intakes = await Promise.all(batch.map((event) => parseResourceEvent(event)));

    // Assess
    expect(intakes.map((intake) => intake.kind)).toEqual(['hint', 'unrelated', 'unrelated', 'hint']);
    expect(intakes.map((intake) => (intake.kind === 'hint' ? intake.hint.eventId : intake.kind === 'unrelated' ? intake.eventId : undefined))).toEqual(
      batch.map((event) => event.id),
    );
  });

  it('gives both hints of the batch the same vault key', async () => {
    // Prepare
    const [proxyWrite, , , connectionWrite] = mixedBatch();

    // Act
    const first = hintOf(await parseResourceEvent(proxyWrite));
    const last = hintOf(await parseResourceEvent(connectionWrite));

    // Assess
    expect([first.resource.key, last.resource.key]).toEqual([VAULT_KEY, VAULT_KEY]);
  });
});
