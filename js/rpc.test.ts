import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type MessageModel, Rpc, RpcError, isCancelled } from "./rpc";

type Listener = (msg: unknown) => void;

/** A stand-in for anywidget's model: records what the view sends, lets the test reply. */
class FakeModel implements MessageModel {
  sent: Record<string, unknown>[] = [];
  listeners = new Set<Listener>();
  failSend = false;

  send(content: unknown): void {
    if (this.failSend) throw new Error("comm closed");
    this.sent.push(content as Record<string, unknown>);
  }
  on(_event: "msg:custom", callback: Listener): void {
    this.listeners.add(callback);
  }
  off(_event: "msg:custom", callback: Listener): void {
    this.listeners.delete(callback);
  }
  emit(msg: unknown): void {
    for (const listener of [...this.listeners]) listener(msg);
  }
  requests(): Record<string, unknown>[] {
    return this.sent.filter((m) => m.type === "request");
  }
  reply(index: number, result: unknown): void {
    this.emit({ type: "reply", id: this.requests()[index]?.id, ok: true, result });
  }
}

describe("Rpc", () => {
  let model: FakeModel;
  let rpc: Rpc;

  beforeEach(() => {
    vi.useFakeTimers();
    model = new FakeModel();
    rpc = new Rpc(model, { timeout: 1000, prefix: "v1" });
  });
  afterEach(() => {
    rpc.dispose();
    vi.useRealTimers();
  });

  it("sends a request with a fresh id and resolves with the matching reply", async () => {
    const a = rpc.request("page", { offset: 0 });
    const b = rpc.request("keys");
    expect(model.requests()).toEqual([
      { type: "request", id: "v1-1", kind: "page", params: { offset: 0 } },
      { type: "request", id: "v1-2", kind: "keys", params: {} },
    ]);
    expect(rpc.inFlight).toBe(2);
    model.reply(1, { config: ["lr"] });
    model.reply(0, { rows: [] });
    await expect(a).resolves.toEqual({ rows: [] });
    await expect(b).resolves.toEqual({ config: ["lr"] });
    expect(rpc.inFlight).toBe(0);
  });

  it("turns an error reply into a remote RpcError with the kernel's message", async () => {
    const p = rpc.request("page");
    model.emit({ type: "reply", id: "v1-1", ok: false, error: { type: "ValueError", message: "bad filter" } });
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: "remote", message: "bad filter", remoteType: "ValueError" });
  });

  it("ignores replies it did not ask for, and malformed messages", async () => {
    const p = rpc.request("page");
    model.emit({ type: "reply", id: "other-view-1", ok: true, result: "not mine" });
    model.emit("garbage");
    model.emit(null);
    model.emit({ type: "reply" });
    model.reply(0, "mine");
    model.reply(0, "duplicate"); // a second reply for the same id is dropped
    await expect(p).resolves.toBe("mine");
  });

  it("times out, tells the kernel to cancel, and ignores a late reply", async () => {
    const p = rpc.request("page", {}, { timeout: 500 });
    const caught = p.catch((e: unknown) => e);
    vi.advanceTimersByTime(499);
    expect(rpc.inFlight).toBe(1);
    vi.advanceTimersByTime(1);
    const err = await caught;
    expect(err).toMatchObject({ code: "timeout" });
    expect((err as Error).message).toMatch(/busy/);
    expect(model.sent.at(-1)).toEqual({ type: "cancel", id: "v1-1" });
    model.reply(0, "late");
    expect(rpc.inFlight).toBe(0);
  });

  it("uses the default timeout, and timeout 0 waits for ever", async () => {
    const a = rpc.request("a").catch((e: unknown) => e);
    const b = rpc.request("b", {}, { timeout: 0 });
    vi.advanceTimersByTime(1000);
    expect(await a).toMatchObject({ code: "timeout" });
    vi.advanceTimersByTime(10 ** 7);
    model.reply(1, "done");
    await expect(b).resolves.toBe("done");
  });

  it("cancels a stale request when a newer one with the same key starts", async () => {
    const first = rpc.request("page", { offset: 0 }, { key: "page" }).catch((e: unknown) => e);
    const other = rpc.request("keys", {}, { key: "keys" });
    const second = rpc.request("page", { offset: 50 }, { key: "page" });
    const err = await first;
    expect(isCancelled(err)).toBe(true);
    expect(model.sent).toContainEqual({ type: "cancel", id: "v1-1" });
    model.reply(0, "stale"); // ignored: already cancelled
    model.reply(2, "fresh");
    model.reply(1, "keys");
    await expect(second).resolves.toBe("fresh");
    await expect(other).resolves.toBe("keys");
    rpc.cancelKey("page"); // nothing pending under the key: a no-op
    expect(rpc.inFlight).toBe(0);
  });

  it("cancels on an AbortSignal, before or during the request", async () => {
    const controller = new AbortController();
    const p = rpc.request("page", {}, { signal: controller.signal }).catch((e: unknown) => e);
    controller.abort();
    expect(await p).toMatchObject({ code: "cancelled" });
    const again = await rpc.request("page", {}, { signal: controller.signal }).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: "cancelled" });
    expect(model.requests()).toHaveLength(1); // the pre-aborted one was never sent
  });

  it("rejects at once when the model cannot send", async () => {
    model.failSend = true;
    const err = await rpc.request("page").catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "send" });
    expect(rpc.inFlight).toBe(0);
  });

  it("reports activity and dispatches kernel events", async () => {
    const counts: number[] = [];
    const stop = rpc.onActivity((n) => counts.push(n));
    const seen: unknown[] = [];
    const unsubscribe = rpc.onEvent("refresh", (data) => seen.push(data));
    const p = rpc.request("page");
    model.emit({ type: "event", name: "refresh", data: { reason: "python" } });
    model.emit({ type: "event", name: "other", data: 1 });
    model.reply(0, 1);
    await p;
    expect(counts).toEqual([1, 0]);
    expect(seen).toEqual([{ reason: "python" }]);
    unsubscribe();
    stop();
    model.emit({ type: "event", name: "refresh", data: 2 });
    expect(seen).toHaveLength(1);
  });

  it("dispose rejects pending requests, unsubscribes, and refuses new ones", async () => {
    const p = rpc.request("page").catch((e: unknown) => e);
    rpc.dispose();
    expect(await p).toMatchObject({ code: "closed" });
    expect(model.listeners.size).toBe(0);
    await expect(rpc.request("page")).rejects.toMatchObject({ code: "closed" });
    rpc.dispose();
  });

  it("gives every channel its own id prefix so views of one model never collide", async () => {
    const other = new Rpc(model, { timeout: 1000 });
    const mine = rpc.request("x");
    const theirs = other.request("x");
    const [a, b] = model.requests();
    expect(a?.id).not.toBe(b?.id);
    model.emit({ type: "reply", id: b?.id, ok: true, result: "theirs" });
    model.emit({ type: "reply", id: a?.id, ok: true, result: "mine" });
    await expect(mine).resolves.toBe("mine");
    await expect(theirs).resolves.toBe("theirs");
    other.dispose();
  });
});
