/**
 * A value built once, on first use, by an asynchronous step such as a dynamic import. Callers at
 * the same time share one build. A failed build is not remembered: the next call tries again, so
 * a passing fault does not disable the feature for the life of the instance.
 */
export function loadOnFirstUse<T>(build: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= build().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
