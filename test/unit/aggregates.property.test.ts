// Aggregates are mergeable: any split of the events into parts, aggregated and merged, gives the
// values a direct computation gives.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AggregateSpec,
  addEvent,
  decodeState,
  emptyState,
  encodeState,
  finalValues,
  mergeStates,
} from "../../shared/core/aggregates/state.ts";

const specs: AggregateSpec[] = [
  { name: "n", op: "count" },
  { name: "sum", op: "sum", field: "v" },
  { name: "min", op: "min", field: "v" },
  { name: "max", op: "max", field: "v" },
  { name: "avg", op: "avg", field: "v" },
];

const events = fc.array(fc.record({ ts: fc.integer({ min: 0, max: 1e12 }), v: fc.integer({ min: -1e6, max: 1e6 }) }), {
  minLength: 1,
  maxLength: 80,
});

describe("aggregate states (property)", () => {
  it("merging parts equals aggregating everything at once", () => {
    fc.assert(
      fc.property(events, fc.array(fc.nat(), { maxLength: 10 }), (all, cuts) => {
        const bounds = [...new Set(cuts.map((c) => c % all.length))].sort((a, b) => a - b);
        const parts = [0, ...bounds, all.length].slice(1).map((end, i, ends) => all.slice(i === 0 ? 0 : ends[i - 1], end));
        const states = parts.map((part) => {
          const s = emptyState();
          for (const e of part) addEvent(s, e.ts, { v: e.v });
          return decodeState(encodeState(s));
        });
        const merged = finalValues(specs, mergeStates(states.filter((s) => s.n > 0)));
        const vs = all.map((e) => e.v);
        expect(merged).toEqual({
          n: all.length,
          sum: vs.reduce((a, b) => a + b, 0),
          min: Math.min(...vs),
          max: Math.max(...vs),
          avg: vs.reduce((a, b) => a + b, 0) / all.length,
        });
      }),
      { numRuns: 1000 },
    );
  });
});
