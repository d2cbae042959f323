import { describe, expect, it } from "vitest";
import { MAGIC, SEPARATOR, decode, extent } from "./data";

/** Pack columns the way `liberry_widgets/sweep_data.py` does (the layout in its docstring). */
function pack(header: Record<string, unknown>, blocks: Uint8Array[], misalign = 0): Uint8Array {
  let head = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - ((8 + head.length) % 8)) % 8;
  head = new Uint8Array([...head, ...new Array(pad).fill(32)]);
  const body = blocks.flatMap((b) => [...b, ...new Array((8 - (b.length % 8)) % 8).fill(0)]);
  const out = new Uint8Array(misalign + 8 + head.length + body.length);
  const view = out.subarray(misalign);
  view.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(view.buffer, view.byteOffset).setUint32(4, head.length, true);
  view.set(head, 8);
  view.set(body, 8 + head.length);
  return view;
}

function sample(misalign = 0): Uint8Array {
  const f64 = (xs: number[]): Uint8Array => new Uint8Array(new Float64Array(xs).buffer);
  const text = (xs: string[]): Uint8Array => new TextEncoder().encode(xs.join(SEPARATOR));
  const ids = text(["a1", "b2", "c3"]);
  const names = text(["run-ä", "run b", "run-c"]);
  const blocks = [ids, names, new Uint8Array([1, 0, 3]), f64([1e12, 2e12, 3e12]), f64([0.5, NaN, 0.1]),
    f64([1e-3, 1e-2, 1e-1]), f64([0, 1, NaN])];
  let offset = 0;
  const at = blocks.map((b) => {
    const block = { offset, length: b.length };
    offset += b.length + ((8 - (b.length % 8)) % 8);
    return block;
  });
  const header = {
    version: 1, data_version: 4, n: 3, ids: at[0], names: at[1],
    states: ["running", "finished", "crashed", "failed"], state: at[2], created: at[3],
    metric: { name: "loss", goal: "minimize", logged: 2, ...at[4] },
    axes: [
      { key: "lr", kind: "number", log: true, domain: [1e-4, 1], ...at[5] },
      { key: "opt", kind: "category", log: false, categories: ["adam", "sgd"], ...at[6] },
    ],
  };
  return pack(header, blocks, misalign);
}

describe("decode", () => {
  it("reads every column of the packed buffer", () => {
    const data = decode(sample());
    expect(data).not.toBeNull();
    if (!data) return;
    expect(data.version).toBe(4);
    expect(data.ids).toEqual(["a1", "b2", "c3"]);
    expect(data.names).toEqual(["run-ä", "run b", "run-c"]);
    expect([...data.states].map((s) => data.stateNames[s])).toEqual(["finished", "running", "failed"]);
    expect([...data.created]).toEqual([1e12, 2e12, 3e12]);
    expect(data.metric.name).toBe("loss");
    expect(data.metric.goal).toBe("minimize");
    expect([...data.metric.values]).toEqual([0.5, NaN, 0.1]);
    expect(data.axes.map((a) => [a.key, a.kind, a.log])).toEqual([["lr", "number", true], ["opt", "category", false]]);
    expect(data.axes[0]?.domain).toEqual([1e-4, 1]);
    expect(data.axes[1]?.categories).toEqual(["adam", "sgd"]);
    expect([...(data.axes[1]?.values ?? [])]).toEqual([0, 1, NaN]);
  });

  it("copies a buffer whose start is not 8-byte aligned (a DataView into a message)", () => {
    const bytes = sample(3);
    const data = decode(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    expect([...(data?.axes[0]?.values ?? [])]).toEqual([1e-3, 1e-2, 1e-1]);
  });

  it("is null without data and refuses a foreign buffer", () => {
    expect(decode(null)).toBeNull();
    expect(decode(new ArrayBuffer(0))).toBeNull();
    expect(() => decode(new TextEncoder().encode("PK\x03\x04 not ours"))).toThrow(/not in liberry's format/);
  });
});

describe("extent", () => {
  it("skips missing values, and non-positive ones on a log axis", () => {
    expect(extent(new Float64Array([3, NaN, -1, 2]))).toEqual([-1, 3]);
    expect(extent(new Float64Array([3, NaN, -1, 0, 2]), true)).toEqual([2, 3]);
    expect(extent(new Float64Array([NaN]))).toBeNull();
  });
});
