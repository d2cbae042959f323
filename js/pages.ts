/**
 * Pages of a server-side list: the page on screen, a few recent ones, and the next one
 * fetched ahead of time. Shared by the widgets that page through runs.
 *
 * `load` asks for what the user wants now (a newer `load` cancels an older one that is still
 * waiting, through the fetcher's `key`); `prefetch` fills the cache quietly and is adopted
 * by a `load` for the same page instead of asking twice. Pages are kept in a small LRU keyed
 * by (query, offset, limit), so going back to a page or an order already shown answers at
 * once; `age` and `revalidate` let the caller check such a page quietly afterwards.
 */

export interface PageRequest {
  offset: number;
  limit: number;
}

export type Fetcher<Q, P> = (query: Q, page: PageRequest, purpose: "load" | "prefetch") => Promise<P>;

export class PageCache<Q, P> {
  private readonly fetcher: Fetcher<Q, P>;
  private readonly capacity: number;
  private readonly done = new Map<string, P>();
  private readonly fetchedAt = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<P>>();
  private generation = 0;

  constructor(fetcher: Fetcher<Q, P>, capacity = 24) {
    this.fetcher = fetcher;
    this.capacity = capacity;
  }

  /** The page, from the cache when it is there. */
  load(query: Q, page: PageRequest): Promise<P> {
    const key = cacheKey(query, page);
    const cached = this.done.get(key);
    if (cached !== undefined) {
      this.touch(key, cached);
      return Promise.resolve(cached);
    }
    return this.inFlight.get(key) ?? this.fetch(key, query, page, "load");
  }

  /** Fetch a page in the background; errors are dropped (the later `load` reports them). */
  prefetch(query: Q, page: PageRequest): void {
    const key = cacheKey(query, page);
    if (this.done.has(key) || this.inFlight.has(key)) return;
    this.fetch(key, query, page, "prefetch").catch(() => undefined);
  }

  /** True when `load` would answer at once. */
  has(query: Q, page: PageRequest): boolean {
    return this.done.has(cacheKey(query, page));
  }

  /** Milliseconds since the cached page was fetched, or undefined when it is not cached. */
  age(query: Q, page: PageRequest): number | undefined {
    const at = this.fetchedAt.get(cacheKey(query, page));
    return at === undefined ? undefined : Date.now() - at;
  }

  /** Fetch a cached page again in the background (`prefetch` purpose: never cancels a load)
   * and store the answer; a fetch already on its way for that page is reused. */
  revalidate(query: Q, page: PageRequest): Promise<P> {
    const key = cacheKey(query, page);
    return this.inFlight.get(key) ?? this.fetch(key, query, page, "prefetch");
  }

  /** Forget everything (after a refresh); answers still on their way are not stored. */
  clear(): void {
    this.generation++;
    this.done.clear();
    this.fetchedAt.clear();
    this.inFlight.clear();
  }

  private fetch(key: string, query: Q, page: PageRequest, purpose: "load" | "prefetch"): Promise<P> {
    const generation = this.generation;
    const promise = this.fetcher(query, page, purpose).then(
      (result) => {
        if (generation === this.generation) {
          this.inFlight.delete(key);
          this.fetchedAt.set(key, Date.now());
          this.touch(key, result);
        }
        return result;
      },
      (err: unknown) => {
        if (generation === this.generation) this.inFlight.delete(key);
        throw err;
      },
    );
    this.inFlight.set(key, promise);
    return promise;
  }

  private touch(key: string, value: P): void {
    this.done.delete(key);
    this.done.set(key, value);
    while (this.done.size > this.capacity) {
      const oldest = this.done.keys().next().value as string;
      this.done.delete(oldest);
      this.fetchedAt.delete(oldest);
    }
  }
}

function cacheKey(query: unknown, page: PageRequest): string {
  return JSON.stringify([query, page.offset, page.limit]);
}
