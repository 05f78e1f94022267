// How far back a watermark reset may reach (core/windows/watermark.ts: withSample, earliestReset), against
// a model that knows when every window's panes were first cleared: a pane is cleared once the watermark
// passes its window and expires retention.tombstones later (wall clock). A reset to any T at or after
// the floor must reach no window whose panes may have expired; resets of the watermark, long pauses and
// histories trimmed to the retention included.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  earliestReset,
  HISTORY_SAMPLE_MS,
  historySampleMs,
  type WatermarkHistory,
  withSample,
} from "../../shared/core/windows/watermark.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** windows end on this grid (the model's resolution) */
const GRID = 15 * 60_000;

type Step = { kind: "advance"; wallMs: number; eventMs: number } | { kind: "reset"; wallMs: number; backMs: number };

const steps = fc.array(
  fc.oneof(
    {
      weight: 12,
      arbitrary: fc.record({
        kind: fc.constant("advance" as const),
        wallMs: fc.integer({ min: 0, max: 6 * HOUR }),
        eventMs: fc.integer({ min: 0, max: 6 * HOUR }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("advance" as const),
        wallMs: fc.integer({ min: DAY, max: 12 * DAY }),
        eventMs: fc.integer({ min: 0, max: DAY }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("reset" as const),
        wallMs: fc.integer({ min: 0, max: HOUR }),
        backMs: fc.integer({ min: 0, max: 20 * DAY }),
      }),
    },
  ),
  { minLength: 1, maxLength: 400 },
);

/** Runs the coordinator (a sample when the interval passed, a sample of the replaced watermark at a reset) and the model. */
function play(plan: readonly Step[], retentionMs: number) {
  let now = 10 * 365 * DAY;
  let watermark = 5 * 365 * DAY;
  let history: WatermarkHistory = { samples: [] };
  const firstCleared = new Map<number, number>();
  const clear = () => {
    for (let end = Math.floor(watermark / GRID) * GRID; end > watermark - 40 * DAY && !firstCleared.has(end); end -= GRID)
      firstCleared.set(end, now);
  };
  const sample = () => {
    const last = history.samples.at(-1);
    if (last === undefined || now - last[1] >= historySampleMs(retentionMs)) history = withSample(history, watermark, now, retentionMs);
  };
  for (const step of plan) {
    now += step.wallMs;
    if (step.kind === "reset") {
      const last = history.samples.at(-1);
      history = withSample(history, watermark, Math.max(now, (last?.[1] ?? 0) + 1), retentionMs);
      watermark -= step.backMs;
      continue;
    }
    watermark += step.eventMs;
    sample(); // the run samples first, then its units clear
    clear();
  }
  return { now, watermark, history, firstCleared };
}

describe("how far back a watermark reset may reach", () => {
  it("never reaches a window whose panes may have expired", () => {
    fc.assert(
      fc.property(steps, fc.constantFrom(DAY, 7 * DAY, 60 * DAY), fc.integer({ min: 0, max: 2 * DAY }), (plan, retention, later) => {
        const { now, watermark, history, firstCleared } = play(plan, retention);
        const at = now + later;
        const floor = earliestReset(history, watermark, retention, at);
        for (const [end, cleared] of firstCleared)
          if (end > floor) expect(cleared + retention - HISTORY_SAMPLE_MS, `window ending ${end} (floor ${floor})`).toBeGreaterThan(at);
        // the history stays small whatever the retention
        expect(history.samples.length).toBeLessThanOrEqual(260);
      }),
      { numRuns: 300 },
    );
  });

  it("reaches back about the retention in a live pipeline, within a sample interval and the margin", () => {
    const retention = 7 * DAY;
    let history: WatermarkHistory = { samples: [] };
    const start = 100 * DAY;
    let now = start;
    for (; now < start + 30 * DAY; now += 60_000) {
      const last = history.samples.at(-1);
      if (last === undefined || now - last[1] >= HOUR) history = withSample(history, now - 10_000, now, retention);
    }
    const floor = earliestReset(history, now - 10_000, retention, now);
    expect(floor).toBeGreaterThanOrEqual(now - retention - 10_000);
    expect(floor).toBeLessThanOrEqual(now - retention + 3 * HOUR);
    expect(history.dropped).toBeGreaterThan(start);
    expect(history.samples.length).toBeLessThanOrEqual(7 * 24 + 3);
  });

  it("allows any reset while nothing was cleared long enough ago, and refuses before a trimmed history's start", () => {
    const whole: WatermarkHistory = { samples: [[5_000, 1_000]] };
    expect(earliestReset(whole, 6_000, DAY, 1_000 + HOUR)).toBe(Number.NEGATIVE_INFINITY);
    expect(earliestReset({ ...whole, dropped: 7_000 }, 6_000, DAY, 1_000 + HOUR)).toBe(7_000);
    // the first sample's windows were cleared a day ago; the watermark moved on since, unsampled
    expect(earliestReset(whole, 6_000, DAY, 1_000 + DAY)).toBe(6_000);
  });
});
