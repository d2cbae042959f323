/**
 * Load a bundle the Python package ships (e.g. vega for charts) only when it is needed.
 *
 * anywidget gives a view no URL for the package's files, and hosts differ in how they serve
 * them, so the bytes come through the kernel (`asset` request, `_base.py`), gzipped, and are
 * imported from a blob URL, as anywidget itself imports the widget's module. Each asset is
 * fetched once per page, whatever the number of views.
 */
import type { Rpc } from "./rpc";

interface AssetReply {
  encoding: "gzip+base64" | "base64";
  data: string;
}

const loaded = new Map<string, Promise<unknown>>();

export function loadAsset<T>(rpc: Rpc, name: string): Promise<T> {
  let promise = loaded.get(name) as Promise<T> | undefined;
  if (!promise) {
    promise = fetchAsset<T>(rpc, name);
    loaded.set(name, promise);
    promise.catch(() => loaded.delete(name)); // let a retry ask again
  }
  return promise;
}

async function fetchAsset<T>(rpc: Rpc, name: string): Promise<T> {
  const gzip = typeof DecompressionStream !== "undefined";
  const reply = await rpc.request<AssetReply>("asset", { name, gzip }, { timeout: 120_000 });
  const bytes = base64ToBytes(reply.data);
  const text = reply.encoding === "gzip+base64" ? await gunzip(bytes) : new TextDecoder().decode(bytes);
  const url = URL.createObjectURL(new Blob([text], { type: "text/javascript" }));
  try {
    return (await import(/* @vite-ignore */ url)) as T;
  } finally {
    URL.revokeObjectURL(url);
  }
}

export function base64ToBytes(data: string): Uint8Array<ArrayBuffer> {
  const binary = atob(data);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

async function gunzip(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return await new Response(stream).text();
}
