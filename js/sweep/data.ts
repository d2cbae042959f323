/**
 * The sweep's runs as columns, read from the binary buffer the kernel packs
 * (`liberry_widgets/sweep_data.py` describes the layout): a JSON header, then 8-byte aligned
 * blocks viewed as typed arrays in place (no copy, no JSON per run).
 */

export const MAGIC = "LBSW";
export const SEPARATOR = "\x1f";

export interface Block {
  offset: number;
  length: number;
}

export interface AxisHeader extends Block {
  key: string;
  kind: "number" | "category";
  log: boolean;
  categories?: string[];
  domain?: [number, number] | null;
}

export interface Header {
  version: number;
  data_version: number;
  n: number;
  ids: Block;
  names: Block;
  states: string[];
  state: Block;
  created: Block;
  metric: Block & { name: string | null; goal: string | null; logged: number };
  axes: AxisHeader[];
}

export interface Axis {
  key: string;
  kind: "number" | "category";
  log: boolean;
  categories: string[];
  /** [min, max] of the search space and the values seen; null when nothing is known. */
  domain: [number, number] | null;
  /** Numbers, or category codes; NaN where a run has no value. */
  values: Float64Array;
}

export interface SweepData {
  version: number;
  n: number;
  ids: string[];
  names: string[];
  stateNames: string[];
  states: Uint8Array;
  created: Float64Array;
  metric: { name: string | null; goal: "minimize" | "maximize"; logged: number; values: Float64Array };
  axes: Axis[];
}

/** An empty sweep (before the kernel sent anything). */
export function emptyData(): SweepData {
  return {
    version: 0,
    n: 0,
    ids: [],
    names: [],
    stateNames: [],
    states: new Uint8Array(0),
    created: new Float64Array(0),
    metric: { name: null, goal: "minimize", logged: 0, values: new Float64Array(0) },
    axes: [],
  };
}

/** anywidget hands a `Bytes` trait over as a DataView (Jupyter) or an ArrayBuffer/typed array. */
export type BinaryLike = DataView | ArrayBuffer | ArrayBufferView | null | undefined;

function bytesOf(value: BinaryLike): Uint8Array | null {
  if (!value) return null;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return null;
}

/** Decode the packed buffer; null when there is none (no data yet); throws on a bad one. */
export function decode(value: BinaryLike): SweepData | null {
  let bytes = bytesOf(value);
  if (!bytes || bytes.byteLength === 0) return null;
  if (bytes.byteLength < 8 || String.fromCharCode(...bytes.subarray(0, 4)) !== MAGIC) {
    throw new Error("The sweep data is not in liberry's format (a newer or older kernel?).");
  }
  // Typed arrays need aligned offsets: copy once if the buffer we were given is not aligned.
  if (bytes.byteOffset % 8 !== 0) bytes = bytes.slice();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Header;
  if (header.version !== 1) throw new Error(`Unknown sweep data version ${header.version}.`);
  const base = bytes.byteOffset + 8 + headerLength;
  const f64 = (b: Block): Float64Array => new Float64Array(bytes.buffer, base + b.offset, b.length / 8);
  const text = (b: Block): string[] => {
    if (header.n === 0) return [];
    return new TextDecoder().decode(new Uint8Array(bytes.buffer, base + b.offset, b.length)).split(SEPARATOR);
  };
  return {
    version: header.data_version,
    n: header.n,
    ids: text(header.ids),
    names: text(header.names),
    stateNames: header.states,
    states: new Uint8Array(bytes.buffer, base + header.state.offset, header.state.length),
    created: f64(header.created),
    metric: {
      name: header.metric.name,
      goal: header.metric.goal === "maximize" ? "maximize" : "minimize",
      logged: header.metric.logged,
      values: f64(header.metric),
    },
    axes: header.axes.map((a) => ({
      key: a.key,
      kind: a.kind,
      log: a.log,
      categories: a.categories ?? [],
      domain: a.domain ?? null,
      values: f64(a),
    })),
  };
}

/** The extent of the finite (for log axes, positive) values; null when there are none. */
export function extent(values: Float64Array, log = false): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (!Number.isFinite(v) || (log && v <= 0)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : null;
}
