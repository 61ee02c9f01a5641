import { withOverrides } from '../shared/delegate.js';
import type { RulesPort } from './ports.js';

type ForDecision = Awaited<ReturnType<RulesPort['forDecision']>>;

/**
 * The rules and the hold as one decision reads them, held for `ttlMs` and shared by every
 * decision in that time (concurrent reads share one query). A write through this instance (a
 * rule, a deletion, a hold placed or lifted) drops what is held at once, so it applies to the
 * next decision here; other instances see it within `ttlMs`. A failed read is not held. With
 * `ttlMs` 0 every decision reads the table, as without the cache.
 */
export function cachedRules(rules: RulesPort, options: { readonly ttlMs: number; readonly now: () => number }): RulesPort {
  if (options.ttlMs <= 0) return rules;
  let held: { readonly at: number; readonly value: Promise<ForDecision> } | undefined;
  const invalidate = () => {
    held = undefined;
  };
  const writing =
    <A extends unknown[], R>(write: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      // Dropped before and after: a decision that read while the write was under way must not keep what it read.
      invalidate();
      try {
        return await write(...args);
      } finally {
        invalidate();
      }
    };
  return withOverrides(rules, {
    forDecision: () => {
      const now = options.now();
      if (held && now - held.at < options.ttlMs) return held.value;
      const value = rules.forDecision();
      const entry = { at: now, value };
      held = entry;
      // A failed read is not held. (One that a write overtook is dropped by the write's end.)
      value.catch(() => {
        if (held === entry) held = undefined;
      });
      return value;
    },
    put: writing(rules.put.bind(rules)),
    putIf: writing(rules.putIf.bind(rules)),
    delete: writing(rules.delete.bind(rules)),
    deleteIf: writing(rules.deleteIf.bind(rules)),
    setHold: writing(rules.setHold.bind(rules)),
  });
}
