import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "../../shared/core/windows/duration.ts";

describe("durations", () => {
  it("reads every unit and combinations of them", () => {
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("5m")).toBe(300_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("2d")).toBe(172_800_000);
    expect(parseDuration("0s")).toBe(0);
  });

  it("refuses text that is not a duration", () => {
    for (const text of ["", "5", "5x", "m5", "1.5h", "-1s", "5 m", "1h 30m"]) expect(parseDuration(text)).toBeUndefined();
  });

  it("formats and parses back to the same milliseconds", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 365 * 86_400_000 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toBe(ms);
      }),
    );
  });
});
