/**
 * What bakes and GC share: images a running bake builds or builds on (pinned,
 * so GC never deletes them) and one lane in which GC runs alone among bakes
 * choosing their parent.
 */
export interface ImagePins {
  /** Runs `work` alone among GC runs and bakes choosing their parent. */
  serially<T>(work: () => Promise<T>): Promise<T>;
  /** Counts one more use of the image; null is ignored. */
  pin(id: string | null): void;
  /** Counts one use less; the image is free at zero. */
  unpin(id: string | null): void;
  /** Images pinned now. */
  busy(): string[];
}

export function createImagePins(): ImagePins {
  /** Image ids a running bake builds or builds on, with a use count. */
  const busy = new Map<string, number>();
  let exclusive: Promise<unknown> = Promise.resolve();
  return {
    serially<T>(work: () => Promise<T>): Promise<T> {
      const run = exclusive.then(work);
      exclusive = run.catch(() => undefined);
      return run;
    },
    pin(id) {
      if (id) busy.set(id, (busy.get(id) ?? 0) + 1);
    },
    unpin(id) {
      if (!id) return;
      const n = (busy.get(id) ?? 1) - 1;
      if (n > 0) busy.set(id, n);
      else busy.delete(id);
    },
    busy: () => [...busy.keys()],
  };
}
