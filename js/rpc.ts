/**
 * The one request/response channel between a widget view and its kernel-side model.
 *
 * Every liberry widget talks to Python through this module (mirrored by
 * `liberry_widgets/_rpc.py`). Messages ride on anywidget's custom-message channel:
 *
 *   view → kernel   {type: "request", id, kind, params}
 *                   {type: "cancel", id}
 *   kernel → view   {type: "reply", id, ok: true, result}
 *                   {type: "reply", id, ok: false, error: {type, message}}
 *                   {type: "event", name, data}
 *
 * Replies reach every view of a model, so ids carry a per-channel prefix and a view
 * ignores ids it did not issue. A request never waits forever: it settles with its
 * reply, its timeout, or its cancellation (a newer request with the same `key`, an
 * AbortSignal, or `dispose()`).
 */

/** The part of anywidget's model that the channel needs (kept small so tests can fake it). */
export interface MessageModel {
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): void;
  on(eventName: "msg:custom", callback: (msg: unknown, buffers?: DataView[]) => void): void;
  off(eventName: "msg:custom", callback: (msg: unknown, buffers?: DataView[]) => void): void;
}

/** Why a request failed: the kernel said so, it did not answer in time, or it was dropped. */
export type RpcErrorCode = "remote" | "timeout" | "cancelled" | "closed" | "send";

export class RpcError extends Error {
  readonly code: RpcErrorCode;
  /** For `remote` errors: the Python exception's type name. */
  readonly remoteType: string | undefined;

  constructor(code: RpcErrorCode, message: string, remoteType?: string) {
    super(message);
    this.name = "RpcError";
    this.code = code;
    this.remoteType = remoteType;
  }
}

/** True when the error only means "a newer request superseded this one": not worth showing. */
export function isCancelled(err: unknown): boolean {
  return err instanceof RpcError && (err.code === "cancelled" || err.code === "closed");
}

export interface RequestOptions {
  /** Milliseconds before the request fails with code `timeout`; 0 disables the timer. */
  timeout?: number;
  /** A newer request with the same key cancels this one (e.g. "page" while paging fast). */
  key?: string;
  /** Aborting cancels the request. */
  signal?: AbortSignal;
}

export interface RpcOptions {
  /** Default timeout in milliseconds. */
  timeout?: number;
  /** Prefix for request ids; random by default so several views never collide. */
  prefix?: string;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: RpcError) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  key: string | undefined;
  cleanup: () => void;
}

type EventListener = (data: unknown) => void;
type ActivityListener = (pending: number) => void;

export const DEFAULT_TIMEOUT_MS = 30_000;

export class Rpc {
  private readonly model: MessageModel;
  private readonly prefix: string;
  private readonly defaultTimeout: number;
  private readonly pending = new Map<string, Pending>();
  private readonly byKey = new Map<string, string>();
  private readonly eventListeners = new Map<string, Set<EventListener>>();
  private readonly activityListeners = new Set<ActivityListener>();
  private counter = 0;
  private closed = false;
  private readonly onMessage = (msg: unknown): void => this.receive(msg);

  constructor(model: MessageModel, options: RpcOptions = {}) {
    this.model = model;
    this.prefix = options.prefix ?? Math.random().toString(36).slice(2, 10);
    this.defaultTimeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
    model.on("msg:custom", this.onMessage);
  }

  /** Number of requests still waiting for an answer. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Ask the kernel to run handler `kind` with `params`; resolves with its result. */
  request<T = unknown>(kind: string, params: object = {}, options: RequestOptions = {}): Promise<T> {
    if (this.closed) return Promise.reject(new RpcError("closed", "The widget view was closed."));
    if (options.signal?.aborted) return Promise.reject(new RpcError("cancelled", "Request aborted."));
    if (options.key !== undefined) this.cancelKey(options.key);

    const id = `${this.prefix}-${++this.counter}`;
    return new Promise<T>((resolve, reject) => {
      const timeout = options.timeout ?? this.defaultTimeout;
      const onAbort = (): void => this.settleCancelled(id, "Request aborted.");
      const entry: Pending = {
        resolve: resolve as (value: unknown) => void,
        reject,
        key: options.key,
        timer:
          timeout > 0
            ? setTimeout(() => this.timeOut(id, kind, timeout), timeout)
            : undefined,
        cleanup: () => options.signal?.removeEventListener("abort", onAbort),
      };
      this.pending.set(id, entry);
      if (options.key !== undefined) this.byKey.set(options.key, id);
      options.signal?.addEventListener("abort", onAbort, { once: true });
      this.notifyActivity();
      try {
        this.model.send({ type: "request", id, kind, params });
      } catch (err) {
        this.settle(id);
        reject(new RpcError("send", `Could not send to the kernel: ${String(err)}`));
      }
    });
  }

  /** Cancel the in-flight request registered under `key`, if any. */
  cancelKey(key: string): void {
    const id = this.byKey.get(key);
    if (id !== undefined) this.settleCancelled(id, `Superseded by a newer "${key}" request.`);
  }

  /** Listen to `{type: "event", name}` pushes from the kernel; returns an unsubscribe function. */
  onEvent(name: string, listener: EventListener): () => void {
    let set = this.eventListeners.get(name);
    if (!set) {
      set = new Set();
      this.eventListeners.set(name, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Called with the number of pending requests whenever it changes (for busy indicators). */
  onActivity(listener: ActivityListener): () => void {
    this.activityListeners.add(listener);
    return () => this.activityListeners.delete(listener);
  }

  /** Stop listening and reject everything still pending; safe to call twice. */
  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.model.off("msg:custom", this.onMessage);
    for (const [id, entry] of [...this.pending]) {
      this.settle(id);
      entry.reject(new RpcError("closed", "The widget view was closed."));
    }
    this.eventListeners.clear();
    this.activityListeners.clear();
  }

  private receive(msg: unknown): void {
    if (!isObject(msg)) return;
    if (msg.type === "event" && typeof msg.name === "string") {
      for (const listener of this.eventListeners.get(msg.name) ?? []) listener(msg.data);
      return;
    }
    if (msg.type !== "reply" || typeof msg.id !== "string") return;
    const entry = this.settle(msg.id);
    if (!entry) return; // another view's reply, or one we stopped waiting for
    if (msg.ok === true) {
      entry.resolve(msg.result);
    } else {
      const error = isObject(msg.error) ? msg.error : {};
      const message = typeof error.message === "string" ? error.message : "The kernel reported an error.";
      const type = typeof error.type === "string" ? error.type : undefined;
      entry.reject(new RpcError("remote", message, type));
    }
  }

  private timeOut(id: string, kind: string, timeout: number): void {
    const entry = this.settle(id);
    if (!entry) return;
    this.trySend({ type: "cancel", id });
    const seconds = Math.round(timeout / 100) / 10;
    entry.reject(
      new RpcError(
        "timeout",
        `The kernel did not answer "${kind}" within ${seconds} s: it may be busy running a cell, or disconnected.`,
      ),
    );
  }

  private settleCancelled(id: string, message: string): void {
    const entry = this.settle(id);
    if (!entry) return;
    this.trySend({ type: "cancel", id });
    entry.reject(new RpcError("cancelled", message));
  }

  /** Forget a pending request (timer, key, abort listener) and hand it back, once. */
  private settle(id: string): Pending | undefined {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    if (entry.key !== undefined && this.byKey.get(entry.key) === id) this.byKey.delete(entry.key);
    entry.cleanup();
    this.notifyActivity();
    return entry;
  }

  private trySend(content: unknown): void {
    if (this.closed) return;
    try {
      this.model.send(content);
    } catch {
      // A cancel that cannot be delivered is harmless: the kernel's reply is ignored.
    }
  }

  private notifyActivity(): void {
    for (const listener of this.activityListeners) listener(this.pending.size);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
