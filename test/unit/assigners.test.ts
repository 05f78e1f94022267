import { describe, expect, it } from "vitest";
import { lastWindowEndOf, paneOf, paneSizeOf, panesOfWindow, windowsOf, windowsOfPane } from "../../shared/core/windows/assigners.ts";
import { type GroupPane, lastWindowEndOfPane, windowsToFire } from "../../shared/core/windows/key-group.ts";
import { applySessionElements, sessionWindowOf } from "../../shared/core/windows/sessions.ts";

const MIN = 60_000;

describe("tumbling windows", () => {
  const spec = { type: "tumbling", size: 5 * MIN } as const;

  it("are half-open: an event at the end belongs to the next window", () => {
    expect(windowsOf(spec, 5 * MIN - 1)).toEqual([{ start: 0, end: 5 * MIN }]);
    expect(windowsOf(spec, 5 * MIN)).toEqual([{ start: 5 * MIN, end: 10 * MIN }]);
  });

  it("use one pane per window", () => {
    expect(paneSizeOf(spec)).toBe(5 * MIN);
    expect(panesOfWindow(spec, { start: 5 * MIN, end: 10 * MIN })).toEqual([5 * MIN]);
  });
});

describe("sliding windows", () => {
  const spec = { type: "sliding", size: 60 * MIN, slide: MIN } as const;

  it("put an event in size/slide windows, oldest first", () => {
    const windows = windowsOf(spec, 90 * MIN + 5);
    expect(windows).toHaveLength(60);
    expect(windows[0]).toEqual({ start: 31 * MIN, end: 91 * MIN });
    expect(windows[59]).toEqual({ start: 90 * MIN, end: 150 * MIN });
  });

  it("slice into panes of gcd(size, slide) and a window is its panes", () => {
    const odd = { type: "sliding", size: 10 * MIN, slide: 4 * MIN } as const;
    expect(paneSizeOf(odd)).toBe(2 * MIN);
    expect(panesOfWindow(odd, { start: 8 * MIN, end: 18 * MIN })).toEqual([8, 10, 12, 14, 16].map((m) => m * MIN));
    expect(windowsOfPane(odd, 10 * MIN)).toEqual([
      { start: 4 * MIN, end: 14 * MIN },
      { start: 8 * MIN, end: 18 * MIN },
    ]);
  });

  it("leave events between windows unassigned when the slide exceeds the size", () => {
    const gappy = { type: "sliding", size: MIN, slide: 3 * MIN } as const;
    expect(windowsOf(gappy, 90_000)).toEqual([]);
    expect(lastWindowEndOf(gappy, 90_000)).toBeUndefined();
    expect(lastWindowEndOf(gappy, 30_000)).toBe(MIN);
  });

  it("fire a key's windows from its newest pane's first window end to its last", () => {
    const pane: GroupPane = { paneStart: 90 * MIN, epoch: 1, keys: new Map([["k", []]]), cleared: false };
    const panes = new Map([[pane.paneStart, pane]]);
    const fire = (firedThrough: number, watermark: number) =>
      windowsToFire(spec, panes, { firedThrough, watermark, refire: new Map(), withOpen: false }).length;
    expect(paneOf(spec, 90 * MIN + 59_999)).toBe(90 * MIN);
    expect(lastWindowEndOfPane(spec, 90 * MIN)).toBe(150 * MIN);
    expect(fire(90 * MIN, 91 * MIN - 1)).toBe(0);
    expect(fire(90 * MIN, 91 * MIN)).toBe(1);
    expect(fire(149 * MIN, 200 * MIN)).toBe(1);
    expect(fire(150 * MIN, 200 * MIN)).toBe(0);
  });
});

describe("sessions", () => {
  const gap = 30_000;
  const sessionsOf = (times: number[]) =>
    applySessionElements(
      [],
      times.map((ts) => ({ ts, values: {} })),
      { gap, allowedLateness: 0, watermark: undefined, aggregates: [] },
    ).entries.map((e) => sessionWindowOf(e, gap));

  it("merge events at most a gap apart (touching windows merge)", () => {
    expect(sessionsOf([10_000, 20_000, 50_000, 55_000])).toEqual([{ start: 10_000, end: 85_000 }]);
  });

  it("split where events are more than a gap apart", () => {
    expect(sessionsOf([10_000, 20_000, 50_001, 55_000])).toEqual([
      { start: 10_000, end: 50_000 },
      { start: 50_001, end: 85_000 },
    ]);
  });

  it("bridge two sessions when an event touches both", () => {
    expect(sessionsOf([0, 60_000, 30_000])).toEqual([{ start: 0, end: 90_000 }]);
  });
});
