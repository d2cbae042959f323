/**
 * The view's side of paging through runs (mirrors `liberry_widgets/runs/paging.py`): the
 * `page` request and its reply, the pages kept and fetched ahead (`PageCache`), which pages
 * to fetch ahead after a page is shown, and where a page's time went (`data-timing`, read by
 * benchmarks/bench_widget.py).
 */
import { PageCache, type PageRequest } from "../pages";
import type { Rpc } from "../rpc";
import type { Row } from "./columns";
import type { Filter } from "./query";

/** What a page is of: the filters, the order and the columns asked for. */
export interface PageQuery {
  filters: Filter;
  order: string;
  columns: string[];
}

/** A `page` reply (`Runs._page` in liberry_widgets/runs/widget.py). */
export interface PageReply {
  rows: Row[];
  total: number;
  offset: number;
  limit: number;
  columns: string[];
  /** The kernel's own time for it: waiting for a handler thread, the Api's request to the
   * server, and the whole handler; when the request arrived and the reply left (epoch ms). */
  timing?: { api_ms: number; kernel_ms: number; queued_ms?: number; received_at?: number; sent_at?: number };
}

/** The first page the kernel last served (the `_snapshot` trait). */
export interface Snapshot extends PageReply {
  filters: Filter;
  order: string;
  taken_at: string;
}

/** A cached page older than this is painted at once, then fetched again quietly. */
export const REVALIDATE_AFTER_MS = 10_000;

/** Pages of runs through the kernel, kept and fetched ahead. */
export class RunPages extends PageCache<PageQuery, PageReply> {
  private fresh = false;

  constructor(rpc: Rpc) {
    super((query, page, purpose) => {
      const params = { ...query, offset: page.offset, limit: page.limit, ...(this.fresh ? { fresh: true } : {}) };
      this.fresh = false;
      // A newer page the user asked for cancels an older one still waiting; prefetches wait.
      return rpc.request<PageReply>("page", params, purpose === "load" ? { key: "page" } : { timeout: 60_000 });
    });
  }

  /** Forget every page, and tell the kernel with the next request to drop its kept paging
   * cursors, which point into the listing as it was (a new run would shift every page). */
  refresh(): void {
    this.clear();
    this.fresh = true;
  }
}

/** Which pages to fetch ahead once `reply` is shown: `now`, before drawing it (while paging
 * a click on "next" may follow as soon as the rows show), and `afterPaint` (after a new order
 * or filter, the kernel and the server would otherwise compete with the first paint for the
 * CPU; one page ahead is enough until the user turns a page, and going back after a jump is
 * never cached). */
export function pagesAhead(reply: PageReply): { now: PageRequest[]; afterPaint: PageRequest[] } {
  const ahead = (n: number): PageRequest => ({ offset: reply.offset + n * reply.limit, limit: reply.limit });
  const paging = reply.offset > 0;
  const next = ahead(1).offset < reply.total && reply.rows.length > 0 ? [ahead(1)] : [];
  const afterPaint: PageRequest[] = paging ? [] : next;
  if (paging && ahead(2).offset < reply.total) afterPaint.push(ahead(2));
  if (paging) afterPaint.push({ offset: Math.max(0, reply.offset - reply.limit), limit: reply.limit });
  return { now: paging ? next : [], afterPaint };
}

/** True when two replies show the same rows (a quiet revalidation changed nothing). */
export function samePage(a: PageReply, b: PageReply): boolean {
  return a.total === b.total && JSON.stringify(a.rows) === JSON.stringify(b.rows);
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** Where a page's time went, for `data-timing`: from the cache or the kernel, the wait for
 * the reply, drawing it, and (from the kernel) the kernel's own figures and the round trip's
 * two legs through Jupyter (benchmarks run the kernel and the browser on one clock). Times
 * are `performance.now()` of this page; `timeOrigin` turns them into epoch ms. */
export function pageTiming(
  reply: PageReply,
  instant: boolean,
  asked: number,
  answered: number,
  drawn: number,
  timeOrigin: number = performance.timeOrigin,
): Record<string, string | number> {
  const record: Record<string, string | number> = {
    source: instant ? "cache" : "kernel",
    asked_at: round(asked), // performance.now() in this page, as the bench's click time
    wait_ms: round(answered - asked),
    draw_ms: round(drawn - answered),
  };
  if (instant) return record;
  const timing = reply.timing;
  Object.assign(record, timing);
  if (timing?.received_at !== undefined && timing.sent_at !== undefined) {
    record.to_kernel_ms = round(timing.received_at - (timeOrigin + asked));
    record.from_kernel_ms = round(timeOrigin + answered - timing.sent_at);
  }
  return record;
}
