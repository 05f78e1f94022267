// Window assignment against brute force: every event is in exactly the windows that contain its time,
// and a window is exactly the union of its panes; with offsets (Flink's window TVF offset), as Flink's
// TimeWindow.getWindowStartWithOffset aligns them.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  closesWindows,
  firstWindowEndOfPane,
  lastWindowEndOf,
  paneOf,
  panesOfWindow,
  type WindowSpec,
  windowsEndingIn,
  windowsOf,
  windowsOfPane,
} from "../../shared/core/windows/assigners.ts";
import { applySessionElements, sessionWindowOf } from "../../shared/core/windows/sessions.ts";

/** An offset, or none: Flink takes any for HOP and CUMULATE, and less than the size (either sign) for TUMBLE. */
const offset = (bound: number) => fc.option(fc.integer({ min: -bound, max: bound }), { nil: undefined });
const withOffset = <T extends object>(spec: T, o: number | undefined) => (o === undefined ? spec : { ...spec, offset: o });

const fixedSpec = fc.oneof(
  fc.integer({ min: 1, max: 500 }).chain((size) => offset(size - 1).map((o) => withOffset({ type: "tumbling" as const, size }, o))),
  fc
    .tuple(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 300 }), offset(1000))
    .map(([size, slide, o]) => withOffset({ type: "sliding" as const, size, slide }, o)),
);

const cumulateSpec = fc
  .tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 10 }), offset(300))
  .map(([steps, step, o]) => withOffset({ type: "cumulate" as const, size: steps * step, step }, o));

/** Flink's TimeWindow.getWindowStartWithOffset (the remainder taken non-negative, as it is for the epoch times Flink sees). */
function flinkStart(ts: number, offset: number, size: number): number {
  return ts - ((((ts - offset + size) % size) + size) % size);
}

/** Every window holding `ts`, by brute force: Flink's last start, then every slide back while the window still holds ts. */
function bruteForce(spec: WindowSpec, ts: number): { start: number; end: number }[] {
  const o = spec.type === "session" ? 0 : (spec.offset ?? 0);
  if (spec.type === "cumulate") {
    const start = flinkStart(ts, o, spec.size);
    const windows = [];
    for (let end = start + spec.step; end <= start + spec.size; end += spec.step) if (ts < end) windows.push({ start, end });
    return windows;
  }
  if (spec.type === "session") throw new TypeError("fixed windows only");
  const slide = spec.type === "sliding" ? spec.slide : spec.size;
  const windows = [];
  for (let start = flinkStart(ts, o, slide); start > ts - spec.size; start -= slide) windows.unshift({ start, end: start + spec.size });
  return windows;
}

describe("fixed windows (property)", () => {
  it("an event is in exactly the windows whose [start, end) contains it, aligned to the offset as Flink aligns them", () => {
    fc.assert(
      fc.property(fc.oneof(fixedSpec, cumulateSpec), fc.integer({ min: 0, max: 100_000 }), (spec, ts) => {
        expect(windowsOf(spec, ts)).toEqual(bruteForce(spec, ts));
        expect(lastWindowEndOf(spec, ts)).toBe(bruteForce(spec, ts).at(-1)?.end);
      }),
      { numRuns: 3000 },
    );
  });

  it("a watermark moving from `from` to `to` passes exactly the window ends in (from, to]", () => {
    fc.assert(
      fc.property(
        fc.oneof(fixedSpec, cumulateSpec),
        fc.integer({ min: 0, max: 20_000 }),
        fc.integer({ min: 0, max: 2_000 }),
        (spec, from, advance) => {
          const to = from + advance;
          // every window holding some time up to `to`, by brute force, keeping those ending in (from, to]
          const seen = new Map<string, { start: number; end: number }>();
          for (let t = from - 1200; t <= to; t++)
            for (const w of bruteForce(spec, t)) if (w.end > from && w.end <= to) seen.set(`${w.start}/${w.end}`, w);
          const expected = [...seen.values()].sort((a, b) => a.end - b.end || a.start - b.start);
          expect(windowsEndingIn(spec, from, to)).toEqual(expected);
          expect(closesWindows(spec, from, to)).toBe(expected.length > 0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("the windows of an event's pane are the event's windows", () => {
    fc.assert(
      fc.property(fixedSpec, fc.integer({ min: 0, max: 100_000 }), (spec, ts) => {
        expect(windowsOfPane(spec, paneOf(spec, ts))).toEqual(windowsOf(spec, ts));
      }),
      { numRuns: 2000 },
    );
  });

  it("a pane's first window end is the end of the first of its windows (none when it has none)", () => {
    fc.assert(
      fc.property(fc.oneof(fixedSpec, cumulateSpec), fc.integer({ min: 0, max: 100_000 }), (spec, ts) => {
        const pane = paneOf(spec, ts);
        expect(firstWindowEndOfPane(spec, pane)).toBe(windowsOfPane(spec, pane)[0]?.end);
      }),
      { numRuns: 3000 },
    );
  });

  it("a window's panes tile it and each pane lists the window", () => {
    const small = fc
      .tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 60 }), offset(100))
      .map(([size, slide, o]) => withOffset({ type: "sliding" as const, size, slide }, o));
    fc.assert(
      fc.property(small, fc.integer({ min: 0, max: 100_000 }), (spec, ts) => {
        for (const window of windowsOf(spec, ts)) {
          const panes = panesOfWindow(spec, window);
          expect(panes[0]).toBe(window.start);
          for (const pane of panes) expect(windowsOfPane(spec, pane)).toContainEqual(window);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe("sessions (property)", () => {
  it("sessions merged in any arrival order equal sessions from sorted events (nothing late)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.integer({ min: 0, max: 2_000 }), { minLength: 1, maxLength: 60 }),
        (gap, times) => {
          // brute force: sort events, cut where the next one is more than gap after the previous one
          const sorted = [...times].sort((a, b) => a - b);
          const expected: { start: number; end: number }[] = [];
          let start = sorted[0] as number;
          let last = start;
          for (const t of sorted.slice(1)) {
            if (t - last > gap) {
              expected.push({ start, end: last + gap });
              start = t;
            }
            last = t;
          }
          expected.push({ start, end: last + gap });

          const { entries, late } = applySessionElements(
            [],
            times.map((ts) => ({ ts, values: {} })),
            { gap, allowedLateness: 0, watermark: undefined, aggregates: [] },
          );
          expect(late).toEqual([]);
          expect(entries.map((e) => sessionWindowOf(e, gap))).toEqual(expected);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("cumulating windows (property)", () => {
  const cumulate = fc
    .tuple(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 12 }))
    .map(([step, steps]) => ({ type: "cumulate" as const, size: step * steps, step }));

  it("an event is in [period start, end) for every step end after it within its period", () => {
    fc.assert(
      fc.property(cumulate, fc.integer({ min: 0, max: 100_000 }), (spec, ts) => {
        const period = ts - (ts % spec.size);
        const expected: { start: number; end: number }[] = [];
        for (let end = period + spec.step; end <= period + spec.size; end += spec.step) if (ts < end) expected.push({ start: period, end });
        expect(windowsOf(spec, ts)).toEqual(expected);
        expect(windowsOfPane(spec, paneOf(spec, ts))).toEqual(expected);
      }),
      { numRuns: 2000 },
    );
  });
});
