import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acceptedOperations } from '../../src/adapters/eventgrid/resource-event.js';
import approverRole from '../../src/domain/definitions/approver-role.json';
import { RESOURCE_TYPES } from '../../src/domain/resource-types.js';

/**
 * One registry, three consumers that must agree: the Event Grid filter the deployment creates
 * (as `bicep snapshot` predicts it for the sample that watches every type), the operations
 * resourceEvents accepts, and the approver role's actions. A new registry entry that one of them
 * does not pick up fails here.
 */
interface Predicted {
  readonly type: string;
  readonly name: string;
  readonly properties?: any;
}

function snapshot(name: string): Predicted[] {
  const text = readFileSync(join(__dirname, '..', '..', 'infra', 'samples', `${name}.snapshot.json`), 'utf8');
  return (JSON.parse(text) as { predictedResources: Predicted[] }).predictedResources;
}

const filtered = snapshot('events-all-types')
  .filter((r) => r.type === 'Microsoft.EventGrid/systemTopics/eventSubscriptions')
  .flatMap((r) => r.properties.filter.advancedFilters[0].values as string[]);
const roleActions = snapshot('defaults').find((r) => r.type === 'Microsoft.Authorization/roleDefinitions' && r.properties.roleName.startsWith(approverRole.roleName))!
  .properties.permissions[0].actions as string[];
const accepted = acceptedOperations();

describe('the registry, the event filter, resourceEvents and the role agree', () => {
  it.each(RESOURCE_TYPES.map((t) => [t.key, t] as const))('for %s', (_key, type) => {
    for (const operation of type.events) {
      // Event Grid delivers it ...
      expect(filtered, operation).toContain(operation);
      // ... resourceEvents takes it as a hint about this type ...
      expect(accepted.get(operation.toLowerCase()), operation).toBe(type);
    }
    // ... and the role lets Linkgate read and decide what the hint is about.
    for (const action of [...type.permissions.read, ...type.permissions.approve]) expect(roleActions, action).toContain(action);
  });

  it('has nothing in the filter, the accepted list or the role that the registry does not name', () => {
    const events = RESOURCE_TYPES.flatMap((t) => t.events);
    const actions = [...RESOURCE_TYPES.flatMap((t) => [...t.permissions.read, ...t.permissions.approve]), ...approverRole.sweepActions];
    expect([...filtered].sort()).toEqual([...events].sort());
    expect([...accepted.keys()].sort()).toEqual(events.map((e) => e.toLowerCase()).sort());
    expect([...roleActions].sort()).toEqual([...actions].sort());
  });
});
