import { describe, expect, it } from "vitest";
import { type TraitModel, TraitWriter } from "./traits";

interface Traits {
  offset: number;
  order: string;
}

/** A model that records what was sent, with a hand-run scheduler standing in for a paint. */
function setup() {
  const state: Traits = { offset: 0, order: "-created_at" };
  const sent: Partial<Traits>[] = [];
  let dirty: Partial<Traits> = {};
  const model: TraitModel<Traits> = {
    get: (name) => state[name],
    set: (name, value) => {
      state[name] = value;
      dirty = { ...dirty, [name]: value };
    },
    save_changes: () => {
      sent.push(dirty);
      dirty = {};
    },
  };
  let pending: (() => void) | null = null;
  const timeouts = new Set<() => void>();
  const writer = new TraitWriter(
    model,
    (a, b) => JSON.stringify(a) === JSON.stringify(b),
    (fn) => {
      pending = fn;
      return () => {
        pending = null;
      };
    },
    (fn) => {
      timeouts.add(fn);
      return () => timeouts.delete(fn);
    },
  );
  const paint = (): void => {
    const fn = pending;
    pending = null;
    fn?.();
  };
  /** `MAX_HOLD_MS` passing. */
  const expire = (): void => {
    for (const fn of [...timeouts]) fn();
  };
  /** The kernel's echo of an earlier sync, applied the way ipywidgets does (a plain set). */
  const echo = (name: keyof Traits, value: number | string): void => {
    (state as unknown as Record<string, unknown>)[name] = value;
  };
  return { state, sent, writer, paint, expire, echo };
}

describe("TraitWriter", () => {
  it("sends the changes of one frame together, after the paint", () => {
    const { sent, writer, paint } = setup();
    writer.set("order", "+summary_metrics.loss");
    writer.set("offset", 0);
    expect(sent).toEqual([]);
    paint();
    expect(sent).toEqual([{ order: "+summary_metrics.loss", offset: 0 }]);
    paint();
    expect(sent).toHaveLength(1);
  });

  it("puts back an unsent value that an older sync's echo overwrote", () => {
    const { state, writer, paint, echo } = setup();
    writer.set("offset", 100);
    paint(); // 100 sent
    writer.set("offset", 150); // not sent yet
    echo("offset", 100); // the kernel's echo of 100 arrives
    expect(writer.restored("offset")).toBe(true);
    expect(state.offset).toBe(150);
    expect(writer.restored("offset")).toBe(false); // the handler's second run goes ahead
  });

  it("leaves changes alone once everything was sent, and for traits it never set", () => {
    const { state, writer, paint, echo } = setup();
    writer.set("offset", 100);
    paint();
    echo("offset", 0); // Python set it (widget.offset = 0)
    expect(writer.restored("offset")).toBe(false);
    expect(state.offset).toBe(0);
    writer.set("offset", 50);
    echo("order", "-name");
    expect(writer.restored("order")).toBe(false);
  });

  it("flushes what is unsent when asked (a view closing)", () => {
    const { sent, writer } = setup();
    writer.set("offset", 50);
    writer.flush();
    expect(sent).toEqual([{ offset: 50 }]);
    writer.flush();
    expect(sent).toHaveLength(1);
  });

  it("holds changes back while the page they asked for is on its way", () => {
    const { sent, writer, paint } = setup();
    writer.set("order", "-summary_metrics.loss");
    const release = writer.hold();
    paint(); // the header's sort arrow: the rows are not there yet
    expect(sent).toEqual([]);
    writer.set("offset", 0);
    paint();
    expect(sent).toEqual([]);
    release(); // the rows are drawn
    expect(sent).toEqual([]);
    paint(); // ... and painted
    expect(sent).toEqual([{ order: "-summary_metrics.loss", offset: 0 }]);
    release(); // a second release changes nothing
    paint();
    expect(sent).toHaveLength(1);
  });

  it("waits for every hold, and for at most MAX_HOLD_MS", () => {
    const { sent, writer, paint, expire } = setup();
    writer.set("offset", 50);
    const first = writer.hold();
    const second = writer.hold();
    first();
    paint();
    expect(sent).toEqual([]);
    expire(); // the second page is taking long: the traits go anyway
    paint();
    expect(sent).toEqual([{ offset: 50 }]);
    second(); // released late: nothing left to send
    paint();
    expect(sent).toHaveLength(1);
  });

  it("flushes held changes when the view closes", () => {
    const { sent, writer } = setup();
    writer.hold();
    writer.set("order", "+name");
    writer.flush();
    expect(sent).toEqual([{ order: "+name" }]);
  });
});
