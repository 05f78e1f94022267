// Distinct counts: exact while small, HyperLogLog beyond, within its error bound, also after the values
// were split over panes, stored, read back and merged.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EXACT_LIMIT } from "../../shared/core/aggregates/distinct.ts";
import {
  type AggregateSpec,
  addEvent,
  decodeState,
  emptyState,
  encodeState,
  finalValues,
  mergeStates,
} from "../../shared/core/aggregates/state.ts";

function distinctOf(ids: string[], parts: number, precision: number): number {
  const spec: AggregateSpec = { name: "users", op: "distinct", field: "user", precision };
  const states = Array.from({ length: parts }, () => emptyState());
  for (const [i, id] of ids.entries()) addEvent(states[i % parts] as (typeof states)[number], i, {}, [spec], { user: id });
  const merged = mergeStates(states.filter((s) => s.n > 0).map((s) => decodeState(encodeState(s))));
  return finalValues([spec], merged).users as number;
}

describe("distinct counts (property)", () => {
  it("are exact up to the exact limit, whatever the repeats and the split", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 8 }), { minLength: 1, maxLength: 600 }), fc.integer({ min: 1, max: 6 }), (ids, parts) => {
        const exact = new Set(ids).size;
        fc.pre(exact <= EXACT_LIMIT);
        expect(distinctOf(ids, parts, 12)).toBe(exact);
      }),
      { numRuns: 300 },
    );
  });

  it("stay within three standard errors (3 × 1.04/√2^p) beyond it", () => {
    for (const [n, precision] of [
      [1_000, 12],
      [20_000, 12],
      [20_000, 14],
      [5_000, 10],
    ] as const) {
      const ids = Array.from({ length: n * 2 }, (_, i) => `user-${i % n}`);
      const estimate = distinctOf(ids, 4, precision);
      const bound = 3 * (1.04 / Math.sqrt(2 ** precision));
      expect(Math.abs(estimate - n) / n).toBeLessThanOrEqual(bound);
    }
  });
});
