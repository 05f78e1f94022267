// Window assignment against brute force: every event is in exactly the windows that contain its time,
// and a window is exactly the union of its panes.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { firstWindowEndOfPane, paneOf, panesOfWindow, windowsOf, windowsOfPane } from "../../shared/core/windows/assigners.ts";
import { applySessionElements, sessionWindowOf } from "../../shared/core/windows/sessions.ts";

const fixedSpec = fc.oneof(
  fc.integer({ min: 1, max: 500 }).map((size) => ({ type: "tumbling" as const, size })),
  fc
    .tuple(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 300 }))
    .map(([size, slide]) => ({ type: "sliding" as const, size, slide })),
);

describe("fixed windows (property)", () => {
  it("an event is in exactly the windows whose [start, end) contains it", () => {
    fc.assert(
      fc.property(fixedSpec, fc.integer({ min: 0, max: 100_000 }), (spec, ts) => {
        const slide = spec.type === "sliding" ? spec.slide : spec.size;
        const expected: number[] = [];
        for (let start = Math.floor(-spec.size / slide) * slide; start <= ts; start += slide)
          if (ts < start + spec.size) expected.push(start);
        expect(windowsOf(spec, ts).map((w) => w.start)).toEqual(expected);
      }),
      { numRuns: 2000 },
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
    const cumulate = fc
      .tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 10 }))
      .map(([steps, step]) => ({ type: "cumulate" as const, size: steps * step, step }));
    fc.assert(
      fc.property(fc.oneof(fixedSpec, cumulate), fc.integer({ min: 0, max: 100_000 }), (spec, ts) => {
        const pane = paneOf(spec, ts);
        expect(firstWindowEndOfPane(spec, pane)).toBe(windowsOfPane(spec, pane)[0]?.end);
      }),
      { numRuns: 3000 },
    );
  });

  it("a window's panes tile it and each pane lists the window", () => {
    const small = fc
      .tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 60 }))
      .map(([size, slide]) => ({ type: "sliding" as const, size, slide }));
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
