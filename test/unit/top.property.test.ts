// Window Top-N's state (the first N rows of a window by an order) merges like every other aggregate:
// whatever the split into panes and layers, the order of merging, and a trip through the stored form
// (the shard log's compact rows), the rows it gives are the first N of all rows sorted — NULL lowest,
// ties broken by the rows' columns — as a brute-force sort of them has them.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { layerRow, Names, rowLayer } from "../../shared/aws/dynamodb/compact.ts";
import { type AggregateSpec, addEvent, emptyState, finalValues, mergeStates } from "../../shared/core/aggregates/state.ts";
import type { TopRow } from "../../shared/core/aggregates/top.ts";

const value = fc.oneof(fc.constantFrom(null, 0, 1, 2, 2.5, -1), fc.constantFrom("a", "b", "ab", ""));
const rowArb = fc.tuple(fc.option(fc.integer({ min: -3, max: 3 }), { nil: null }), value, fc.constantFrom("x", "y"));

/** SQL's order of one column's values: NULL lowest, numbers before text (never mixed in one column by SQL). */
function sqlCompare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

describe("a top aggregate's state", () => {
  it("gives the first N rows of a brute-force sort, whatever the split, the merge order and the stored form", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(rowArb, { maxLength: 12 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 6 }),
        fc.boolean(),
        (parts, n, desc) => {
          const spec: AggregateSpec = { name: "top", op: "top", n, fields: ["a", "b", "c"], order: [{ field: "a", desc }] };
          // Act: each part a layer, stored and read back as the shard log stores it, then merged
          const names = new Names();
          const states = parts.map((rows) => {
            const state = emptyState();
            for (const row of rows) addEvent(state, 0, {}, [spec], {}, { top: row as TopRow });
            return rowLayer(layerRow({ from: 0, state }, 0, names), 0, names.list).state;
          });
          const merged = mergeStates([...states].reverse().filter((s) => s.n > 0));
          const got = merged.n === 0 ? [] : (finalValues([spec], merged).top as unknown[]);

          // Assess: a sort of all rows, by a, then every column
          const all = parts.flat().sort((x, y) => {
            const first = (desc ? -1 : 1) * sqlCompare(x[0], y[0]);
            return first !== 0 ? first : sqlCompare(x[0], y[0]) || sqlCompare(x[1], y[1]) || sqlCompare(x[2], y[2]);
          });
          const expected = all.slice(0, n).map(([a, b, c], i) => ({ a, b, c, rownum: i + 1 }));
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
  });
});
