import { describe, expect, it } from "vitest";
import { watermarkOf } from "../../shared/core/windows/watermark.ts";

const now = 1_000_000;
const idle = 60_000;

describe("watermark of a pipeline", () => {
  it("is the slowest active shard's max event time minus the out-of-orderness", () => {
    expect(
      watermarkOf(
        [
          { maxEventTime: 500, updatedAt: now },
          { maxEventTime: 300, updatedAt: now - 1 },
        ],
        100,
        idle,
        now,
      ),
    ).toBe(200);
  });

  it("ignores a shard idle for the idle timeout", () => {
    expect(
      watermarkOf(
        [
          { maxEventTime: 500, updatedAt: now },
          { maxEventTime: 300, updatedAt: now - idle },
        ],
        0,
        idle,
        now,
      ),
    ).toBe(500);
  });

  it("is held back by an active shard that has delivered nothing yet", () => {
    expect(watermarkOf([{ maxEventTime: 500, updatedAt: now }, { updatedAt: now }], 0, idle, now)).toBeUndefined();
  });

  it("follows the most advanced shard once every shard is idle", () => {
    expect(
      watermarkOf(
        [
          { maxEventTime: 500, updatedAt: 0 },
          { maxEventTime: 900, updatedAt: 0 },
        ],
        100,
        idle,
        now,
      ),
    ).toBe(800);
    expect(watermarkOf([], 0, idle, now)).toBeUndefined();
  });
});
