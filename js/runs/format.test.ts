import { describe, expect, it } from "vitest";
import { formatDuration, formatNumber, formatRange, formatRelative, formatValue, parseTime, truncate } from "./format";

describe("format", () => {
  it("formats numbers for reading", () => {
    expect(formatNumber(12345)).toBe("12,345");
    expect(formatNumber(0)).toBe("0");
    expect(formatNumber(0.0123456)).toBe("0.01235");
    expect(formatNumber(123.456)).toBe("123.5");
    expect(formatNumber(123456.7)).toBe("123,457");
    expect(formatNumber(1.234e-7)).toBe("1.23e-7");
    expect(formatNumber(1e-5)).toBe("1e-5");
    expect(formatNumber(4.5e12 + 0.5)).toBe("4.5e+12");
    expect(formatNumber(4.5e12)).toBe("4,500,000,000,000");
    expect(formatNumber(Number.NaN)).toBe("NaN");
    expect(formatNumber(-Infinity)).toBe("-∞");
  });

  it("cuts long text with an ellipsis, never inside a surrogate pair", () => {
    expect(truncate("short", 10)).toBe("short");
    expect(truncate("0123456789", 10)).toBe("0123456789");
    expect(truncate("0123456789a", 10)).toBe("012345678…");
    expect(truncate("01234567😀9", 10)).toBe("01234567…");
    expect(truncate("0123456😀89", 10)).toBe("0123456😀…");
  });

  it("formats any value", () => {
    expect(formatValue(null)).toBe("");
    expect(formatValue(true)).toBe("true");
    expect(formatValue("adam")).toBe("adam");
    expect(formatValue("Infinity")).toBe("∞");
    expect(formatValue([1, 2.5])).toBe("1, 2.5");
    expect(formatValue({ _type: "histogram", bins: [] })).toBe("[histogram]");
    expect(formatValue({ a: 1 })).toBe('{"a":1}');
    expect(formatValue(3725, "_runtime")).toBe("1 h 2 min");
  });

  it("formats durations and times", () => {
    expect(formatDuration(45)).toBe("45 s");
    expect(formatDuration(200)).toBe("3 min 20 s");
    expect(formatDuration(2 * 86400 + 3 * 3600)).toBe("2 d 3 h");
    const now = new Date("2024-05-01T12:00:00Z");
    expect(formatRelative("2024-05-01T11:59:50", now)).toBe("just now");
    expect(formatRelative("2024-05-01T11:00:00Z", now)).toBe("1 h ago");
    expect(formatRelative("2024-04-29T12:00:00+00:00", now)).toBe("2 d ago");
    expect(formatRelative("not a time", now)).toBe("not a time");
    expect(parseTime("2024-05-01T12:00:00")?.toISOString()).toBe("2024-05-01T12:00:00.000Z");
  });

  it("says which rows are shown", () => {
    expect(formatRange(50, 50, 12345)).toBe("showing 51–100 of 12,345 runs");
    expect(formatRange(0, 1, 1)).toBe("showing 1–1 of 1 run");
    expect(formatRange(0, 0, 0)).toBe("no matching runs");
  });
});
