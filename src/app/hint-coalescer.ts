import type { Hint } from './ports.js';

/**
 * Hints for one resource that arrive together share one look at it. A deployment that creates
 * fifty endpoints raises a hundred or more events for a handful of resources, and Event Grid
 * delivers each at least once; every look costs an ARM list from the same read bucket Linkgate's
 * approvals need.
 *
 * Per resource, within this instance:
 *   - the first hint opens a group and waits `debounceMs` (a short, fixed wait: never longer,
 *     however many hints follow), so the rest of a burst and the other events of an Event Grid
 *     batch join it;
 *   - the group closes when its look starts; every hint that joined it gets that look's result;
 *   - a hint that arrives while a look is under way opens the next group, which starts once the
 *     current look has finished: exactly one more look, shared by all hints that arrived in the
 *     meantime, so nothing that happened after the current read began is missed;
 *   - a look that fails fails every hint of its group (each delivery is then redelivered).
 * Across instances nothing is shared: the approval records' ETags keep decisions exactly once.
 */
export interface HintCoalescerOptions {
  readonly debounceMs: number;
  readonly sleep: (ms: number) => Promise<void>;
}

interface Group<R> {
  readonly hints: Hint[];
  readonly result: Promise<R>;
}

interface Lane<R> {
  /** The group still taking hints (waiting out the debounce or the look before it). */
  open?: Group<R>;
  /** The look under way, if any. */
  running?: Promise<unknown>;
}

export class HintCoalescer<R> {
  private readonly lanes = new Map<string, Lane<R>>();

  constructor(
    private readonly look: (hints: readonly Hint[]) => Promise<R>,
    private readonly options: HintCoalescerOptions,
  ) {}

  submit(hint: Hint): Promise<R> {
    const key = hint.resource.key;
    let lane = this.lanes.get(key);
    if (!lane) this.lanes.set(key, (lane = {}));
    if (lane.open) {
      lane.open.hints.push(hint);
      return lane.open.result;
    }
    const hints = [hint];
    const before = lane.running;
    const current = lane;
    const result = (async () => {
      // Without a debounce, hints submitted in the same turn still join (the group starts a microtask later).
      if (this.options.debounceMs > 0) await this.options.sleep(this.options.debounceMs);
      else await Promise.resolve();
      if (before) await before.catch(() => undefined);
      // From here on, a hint belongs to the next group: this look may already have read past it.
      current.open = undefined;
      const run = this.look(hints);
      current.running = run;
      try {
        return await run;
      } finally {
        if (current.running === run) current.running = undefined;
        if (!current.open && !current.running) this.lanes.delete(key);
      }
    })();
    lane.open = { hints, result };
    return result;
  }

  /** Resources with a group waiting or a look under way (for tests and diagnostics). */
  get active(): number {
    return this.lanes.size;
  }
}
