import { describe, expect, it } from "vitest";
import { PageCache, type PageRequest } from "./pages";

/** A fetcher whose answers the test releases by hand. */
function manualFetcher() {
  const calls: { query: string; page: PageRequest; purpose: string; resolve: (v: string) => void; reject: (e: unknown) => void }[] = [];
  const fetcher = (query: string, page: PageRequest, purpose: "load" | "prefetch") =>
    new Promise<string>((resolve, reject) => calls.push({ query, page, purpose, resolve, reject }));
  return { calls, fetcher };
}

describe("PageCache", () => {
  it("caches loaded pages and answers again without fetching", async () => {
    const { calls, fetcher } = manualFetcher();
    const cache = new PageCache(fetcher);
    const first = cache.load("q", { offset: 0, limit: 10 });
    calls[0]?.resolve("page0");
    expect(await first).toBe("page0");
    expect(cache.has("q", { offset: 0, limit: 10 })).toBe(true);
    expect(await cache.load("q", { offset: 0, limit: 10 })).toBe("page0");
    expect(calls).toHaveLength(1);
    expect(cache.has("other", { offset: 0, limit: 10 })).toBe(false);
  });

  it("adopts a prefetch in flight instead of asking twice", async () => {
    const { calls, fetcher } = manualFetcher();
    const cache = new PageCache(fetcher);
    cache.prefetch("q", { offset: 10, limit: 10 });
    cache.prefetch("q", { offset: 10, limit: 10 }); // already on its way: no second fetch
    const load = cache.load("q", { offset: 10, limit: 10 });
    expect(calls.map((c) => c.purpose)).toEqual(["prefetch"]);
    calls[0]?.resolve("page1");
    expect(await load).toBe("page1");
  });

  it("drops prefetch errors but lets a load report and retry", async () => {
    const { calls, fetcher } = manualFetcher();
    const cache = new PageCache(fetcher);
    cache.prefetch("q", { offset: 0, limit: 5 });
    calls[0]?.reject(new Error("kernel busy"));
    await Promise.resolve();
    const load = cache.load("q", { offset: 0, limit: 5 });
    await Promise.resolve();
    expect(calls).toHaveLength(2);
    calls[1]?.reject(new Error("still busy"));
    await expect(load).rejects.toThrow("still busy");
    const retry = cache.load("q", { offset: 0, limit: 5 });
    calls[2]?.resolve("ok");
    expect(await retry).toBe("ok");
  });

  it("forgets everything on clear, including answers still on their way", async () => {
    const { calls, fetcher } = manualFetcher();
    const cache = new PageCache(fetcher);
    const stale = cache.load("q", { offset: 0, limit: 5 });
    cache.clear();
    calls[0]?.resolve("stale");
    expect(await stale).toBe("stale");
    expect(cache.has("q", { offset: 0, limit: 5 })).toBe(false);
    const fresh = cache.load("q", { offset: 0, limit: 5 });
    calls[1]?.resolve("fresh");
    expect(await fresh).toBe("fresh");
  });

  it("keeps only the most recently used pages", async () => {
    let n = 0;
    const cache = new PageCache((_q: string, page: PageRequest) => Promise.resolve(`p${page.offset}-${n++}`), 2);
    await cache.load("q", { offset: 0, limit: 1 });
    await cache.load("q", { offset: 1, limit: 1 });
    await cache.load("q", { offset: 0, limit: 1 }); // touch 0: 1 is now the oldest
    await cache.load("q", { offset: 2, limit: 1 });
    expect(cache.has("q", { offset: 0, limit: 1 })).toBe(true);
    expect(cache.has("q", { offset: 1, limit: 1 })).toBe(false);
    expect(cache.has("q", { offset: 2, limit: 1 })).toBe(true);
  });

  it("keeps pages of several orders, and revalidates a cached page quietly", async () => {
    const { calls, fetcher } = manualFetcher();
    const cache = new PageCache(fetcher);
    for (const order of ["a", "b", "c", "d", "e"]) {
      const load = cache.load(order, { offset: 0, limit: 5 });
      cache.prefetch(order, { offset: 5, limit: 5 });
      for (const call of calls.splice(0)) call.resolve(`${call.query}${call.page.offset}`);
      await load;
    }
    await Promise.resolve();
    expect(cache.has("a", { offset: 0, limit: 5 })).toBe(true); // an order shown before
    expect(cache.has("a", { offset: 5, limit: 5 })).toBe(true);
    expect(cache.age("a", { offset: 0, limit: 5 })).toBeGreaterThanOrEqual(0);
    expect(cache.age("z", { offset: 0, limit: 5 })).toBeUndefined();
    const again = cache.revalidate("a", { offset: 0, limit: 5 });
    expect(calls.map((c) => c.purpose)).toEqual(["prefetch"]);
    calls[0]?.resolve("a0-new");
    expect(await again).toBe("a0-new");
    expect(await cache.load("a", { offset: 0, limit: 5 })).toBe("a0-new");
  });
});
