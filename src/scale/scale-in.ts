/**
 * Scale-in: the stabilisation window (as the HPA's scale-down stabilisation: the group
 * keeps the highest recommendation of the window) and which servers go first.
 */

/**
 * Remembers recommendations and answers the highest of the last `windowMs`. A monotonic
 * queue, so each recommendation costs O(1) amortised whatever the window.
 * Not safe for concurrent use; one per group.
 */
export class Stabiliser {
  readonly #windowMs: number;
  readonly #times: number[] = [];
  readonly #values: number[] = [];
  #head = 0;

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** Records the recommendation at `now` (non-decreasing times) and returns the window's highest. */
  record(now: number, recommendation: number): number {
    while (this.#values.length > this.#head && (this.#values.at(-1) as number) <= recommendation) {
      this.#values.pop();
      this.#times.pop();
    }
    this.#values.push(recommendation);
    this.#times.push(now);
    while ((this.#times[this.#head] as number) < now - this.#windowMs) this.#head++;
    if (this.#head > 1024) {
      this.#times.splice(0, this.#head);
      this.#values.splice(0, this.#head);
      this.#head = 0;
    }
    return this.#values[this.#head] as number;
  }
}

/** What scale-in needs to know of a server to rank it. */
export interface RetireCandidate {
  name: string;
  inService: boolean;
  /** Image the server booted from; null = the provider's base image. */
  image: string | null;
  launchedAt: number | null;
}

/**
 * Picks `count` servers to retire: servers not in service first (they carry nothing), then
 * those not on the group's current image (older images), then the oldest launches.
 */
export function chooseRetirees(
  servers: readonly RetireCandidate[],
  count: number,
  currentImage: string | null,
): RetireCandidate[] {
  const rank = (s: RetireCandidate) => [
    s.inService ? 1 : 0,
    currentImage !== null && s.image === currentImage ? 1 : 0,
    s.launchedAt ?? 0,
  ];
  return [...servers]
    .sort((a, b) => {
      const ra = rank(a);
      const rb = rank(b);
      for (let i = 0; i < ra.length; i++)
        if (ra[i] !== rb[i]) return (ra[i] as number) - (rb[i] as number);
      return a.name.localeCompare(b.name, "en", { numeric: true });
    })
    .slice(0, Math.max(0, count));
}
