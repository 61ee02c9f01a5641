import { describe, expect, it } from 'vitest';
import { HintCoalescer } from '../../src/app/hint-coalescer.js';
import type { Hint } from '../../src/app/ports.js';
import { resourceRef } from '../../src/domain/resource-id.js';
import { KEY_VAULT } from '../../src/domain/resource-types.js';

const SUB = '11111111-1111-4111-8111-111111111111';
const vault = (name: string) => resourceRef(KEY_VAULT, SUB, 'rg', name);
const hint = (name: string, eventId: string): Hint => ({ resource: vault(name), source: 'event', eventId });

/** A look that can be held open, recording the hints of each look. */
function looks() {
  const seen: string[][] = [];
  const gates: Array<() => void> = [];
  let failNext = false;
  const look = async (hints: readonly Hint[]) => {
    seen.push(hints.map((h) => h.eventId ?? ''));
    await new Promise<void>((resolve) => gates.push(resolve));
    if (failNext) {
      failNext = false;
      throw new Error('ARM answered 500');
    }
    return seen.length;
  };
  return {
    seen,
    look,
    open: () => gates.splice(0).forEach((g) => g()),
    failNext: () => void (failNext = true),
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('hint coalescer', () => {
  it('gives concurrent hints for one resource one look, and each of them its result', async () => {
    const l = looks();
    const c = new HintCoalescer(l.look, { debounceMs: 0, sleep: async () => {} });
    const results = Promise.all([c.submit(hint('kv-a', '1')), c.submit(hint('kv-a', '2')), c.submit(hint('kv-a', '3'))]);
    await tick();
    l.open();
    expect(await results).toEqual([1, 1, 1]);
    expect(l.seen).toEqual([['1', '2', '3']]);
    expect(c.active).toBe(0);
  });

  it('looks at different resources apart and at the same time', async () => {
    const l = looks();
    const c = new HintCoalescer(l.look, { debounceMs: 0, sleep: async () => {} });
    const a = c.submit(hint('kv-a', 'a'));
    const b = c.submit(hint('kv-b', 'b'));
    await tick();
    expect(l.seen).toEqual([['a'], ['b']]);
    l.open();
    await Promise.all([a, b]);
  });

  it('a hint that arrives during a look causes exactly one more look after it, shared by all that arrived meanwhile', async () => {
    const l = looks();
    const c = new HintCoalescer(l.look, { debounceMs: 0, sleep: async () => {} });
    const first = c.submit(hint('kv-a', '1'));
    await tick();
    expect(l.seen).toHaveLength(1);
    // The first look is under way: these must not be answered by it, and must not start their own at once.
    const late = [c.submit(hint('kv-a', '2')), c.submit(hint('kv-a', '3'))];
    await tick();
    expect(l.seen).toHaveLength(1);
    l.open();
    expect(await first).toBe(1);
    await tick();
    expect(l.seen).toEqual([['1'], ['2', '3']]);
    l.open();
    expect(await Promise.all(late)).toEqual([2, 2]);
    expect(c.active).toBe(0);
  });

  it('waits the debounce for the rest of a burst, then closes the group when the look starts', async () => {
    const l = looks();
    const waits: number[] = [];
    let release: () => void = () => {};
    const c = new HintCoalescer(l.look, { debounceMs: 50, sleep: (ms) => new Promise<void>((resolve) => { waits.push(ms); release = resolve; }) });
    const first = c.submit(hint('kv-a', '1'));
    const second = c.submit(hint('kv-a', '2'));
    await tick();
    expect(l.seen).toHaveLength(0);
    expect(waits).toEqual([50]);
    release();
    await tick();
    expect(l.seen).toEqual([['1', '2']]);
    l.open();
    expect(await Promise.all([first, second])).toEqual([1, 1]);
  });

  it('fails every hint of a look that fails, and the next look still happens', async () => {
    const l = looks();
    const c = new HintCoalescer(l.look, { debounceMs: 0, sleep: async () => {} });
    l.failNext();
    const failed = [c.submit(hint('kv-a', '1')), c.submit(hint('kv-a', '2'))];
    await tick();
    const next = c.submit(hint('kv-a', '3'));
    l.open();
    await expect(failed[0]).rejects.toThrow('ARM answered 500');
    await expect(failed[1]).rejects.toThrow('ARM answered 500');
    await tick();
    l.open();
    expect(await next).toBe(2);
    expect(l.seen).toEqual([['1', '2'], ['3']]);
  });
});

describe("events about Linkgate's own writes", () => {
  const SELF = '4c1d9a7e-2b3f-4e5a-9c8d-7f6e5d4c3b2a';
  async function setUp() {
    const { createWorkflow } = await import('../../src/app/workflow.js');
    const { harness, VAULT, OTHER_SUB } = await import('./fakes.js');
    const h = harness();
    let lists = 0;
    const list = h.connections.list.bind(h.connections);
    h.connections.list = async (resource) => {
      lists += 1;
      return list(resource);
    };
    const ref = h.connections.add('pe-own.1', OTHER_SUB);
    const workflow = createWorkflow({ ...h, hooks: { awaitingReview: async () => {}, cardStale: async () => {} }, self: async () => SELF });
    const write = (caller: string, operationName = 'Microsoft.KeyVault/vaults/privateEndpointConnections/write', subject = ref.id): Hint => ({
      resource: VAULT,
      source: 'event',
      eventId: `evt-${caller}-${operationName.length}`,
      operationName,
      subject,
      callerObjectId: caller,
    });
    return { h, workflow, write, lists: () => lists, vault: VAULT };
  }

  it('audits an event whose caller is Linkgate itself and reads nothing for it', async () => {
    const { h, workflow, write, lists } = await setUp();
    const result = await workflow.handleHint(write(SELF.toUpperCase()));
    expect(result.outcomes).toEqual([]);
    expect(lists()).toBe(0);
    expect(h.audit.entries).toEqual([expect.objectContaining({ kind: 'hint', outcome: 'received', detail: expect.objectContaining({ ownWrite: true }) })]);
  });

  it('looks at the same event from anyone else, at a proxy write from Linkgate, and at any event when Linkgate cannot tell who it is', async () => {
    const { h, workflow, write, lists, vault } = await setUp();
    await workflow.handleHint(write('0d0d0d0d-0000-4000-8000-000000000009'));
    await workflow.handleHint(write(SELF, 'Microsoft.KeyVault/vaults/privateEndpointConnectionProxies/write', `${vault.id}/privateEndpointConnectionProxies/pe-own.1`));
    expect(lists()).toBe(2);
    const { createWorkflow } = await import('../../src/app/workflow.js');
    const unknown = createWorkflow({ ...h, hooks: { awaitingReview: async () => {}, cardStale: async () => {} }, self: async () => undefined });
    await unknown.handleHint(write(SELF));
    expect(lists()).toBe(3);
  });
});

