import { describe, expect, it } from "vitest";
import { type PageReply, pageTiming, pagesAhead, samePage } from "./paging";

function reply(offset: number, total: number, rows = 50, limit = 50): PageReply {
  const list = Array.from({ length: rows }, (_, i) => ({ id: `r${offset + i}` })) as unknown as PageReply["rows"];
  return { rows: list, total, offset, limit, columns: ["name"] };
}

describe("pagesAhead", () => {
  it("after a new order or filter: the next page once painted", () => {
    expect(pagesAhead(reply(0, 1000))).toEqual({ now: [], afterPaint: [{ offset: 50, limit: 50 }] });
  });

  it("while paging: the next page now, the one after and the previous once painted", () => {
    expect(pagesAhead(reply(100, 1000))).toEqual({
      now: [{ offset: 150, limit: 50 }],
      afterPaint: [{ offset: 200, limit: 50 }, { offset: 50, limit: 50 }],
    });
  });

  it("nothing past the end", () => {
    expect(pagesAhead(reply(0, 30, 30))).toEqual({ now: [], afterPaint: [] });
    expect(pagesAhead(reply(950, 1000))).toEqual({ now: [], afterPaint: [{ offset: 900, limit: 50 }] });
  });
});

describe("pageTiming", () => {
  it("splits a kernel round trip into its legs on one clock", () => {
    const page = { ...reply(0, 10), timing: { api_ms: 5, kernel_ms: 8, received_at: 1_000_020, sent_at: 1_000_030 } };
    const record = pageTiming(page, false, 10, 50, 53, 1_000_000);
    expect(record).toMatchObject({ source: "kernel", asked_at: 10, wait_ms: 40, draw_ms: 3, api_ms: 5, kernel_ms: 8 });
    expect(record.to_kernel_ms).toBe(10);
    expect(record.from_kernel_ms).toBe(20);
  });

  it("says when the page came from the cache", () => {
    expect(pageTiming(reply(0, 10), true, 1, 1.04, 2)).toEqual({ source: "cache", asked_at: 1, wait_ms: 0, draw_ms: 1 });
  });
});

describe("samePage", () => {
  it("compares rows and totals", () => {
    expect(samePage(reply(0, 100), reply(0, 100))).toBe(true);
    expect(samePage(reply(0, 100), reply(0, 101))).toBe(false);
    expect(samePage(reply(0, 100), reply(1, 100))).toBe(false);
  });
});
