import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AutoRefresh } from "./widget";

describe("AutoRefresh", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  function setup(state: { enabled: boolean; due: boolean; busy: boolean; interval: number }) {
    const reloads: number[] = [];
    const timer = new AutoRefresh({
      enabled: () => state.enabled,
      interval: () => state.interval,
      due: () => state.due,
      busy: () => state.busy,
      reload: async () => {
        reloads.push(Date.now());
      },
    });
    return { timer, reloads };
  }

  it("reloads every interval while due, and not while busy or not due", async () => {
    const state = { enabled: true, due: true, busy: false, interval: 5 };
    const { timer, reloads } = setup(state);
    timer.schedule();
    await vi.advanceTimersByTimeAsync(4_999);
    expect(reloads).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(reloads).toHaveLength(1);
    state.busy = true;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(reloads).toHaveLength(1);
    state.busy = false;
    state.due = false;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(reloads).toHaveLength(1);
    state.due = true;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(reloads).toHaveLength(2);
  });

  it("waits at least 2 s, 10 s when unset, and stops for good", async () => {
    const state = { enabled: true, due: true, busy: false, interval: 0.1 };
    const { timer, reloads } = setup(state);
    timer.schedule();
    await vi.advanceTimersByTimeAsync(1_999);
    expect(reloads).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(reloads).toHaveLength(1);
    state.interval = 0;
    timer.schedule();
    await vi.advanceTimersByTimeAsync(9_999);
    expect(reloads).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(reloads).toHaveLength(2);
    timer.stop();
    timer.schedule();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(reloads).toHaveLength(2);
  });

  it("does nothing while auto-refresh is off", async () => {
    const { timer, reloads } = setup({ enabled: false, due: true, busy: false, interval: 2 });
    timer.schedule();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(reloads).toHaveLength(0);
  });
});
