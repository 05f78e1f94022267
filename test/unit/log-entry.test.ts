// A shard-log entry is what every batch costs (its size is its write cost), so its encoding is compact;
// here it is held to losing nothing a fixed window reads: every state kind round-trips, for random panes.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeLogItem, decodePortions, encodePortions, type LogEntry, logItemOf } from "../../shared/aws/dynamodb/log.ts";
import { type AggregateSpec, addEvent, emptyState, stateToJson } from "../../shared/core/aggregates/state.ts";

const specs: AggregateSpec[] = [
  { name: "p", op: "quantiles", field: "v", q: [0.5], accuracy: 0.01 },
  { name: "d", op: "distinct", field: "u", precision: 8 },
];

// JSON has no -0 (nor has DynamoDB): it reads back as 0, which is the same number to every aggregate.
const event = fc.record({
  ts: fc.integer({ min: 0, max: 59_999 }),
  v: fc.double({ min: -1e9, max: 1e9, noNaN: true }).map((v) => v + 0),
  u: fc.string(),
});

const pane = fc.record({
  pipeline: fc.constantFrom("cpu", "mem"),
  key: fc.string({ maxLength: 20 }),
  paneStart: fc.integer({ min: 0, max: 1000 }).map((m) => 1_700_000_000_000 + m * 60_000),
  layers: fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.array(event, { minLength: 1, maxLength: 8 }), fc.boolean()), {
    minLength: 1,
    maxLength: 3,
  }),
});

type Draft = typeof pane extends fc.Arbitrary<infer T> ? T : never;
const panesOf = (drafts: readonly Draft[]) =>
  drafts.map((d) => ({
    pipeline: d.pipeline,
    key: d.key,
    paneStart: d.paneStart,
    layers: d.layers.map(([k, events, sketched]) => {
      const state = emptyState();
      for (const e of events) addEvent(state, d.paneStart + e.ts, { v: e.v }, sketched ? specs : [], { u: e.u });
      return { from: d.paneStart + (k + 1) * 60_000, state };
    }),
  }));

describe("a shard-log entry", () => {
  it("gives back every pane, layer and state it was written with", () => {
    fc.assert(
      fc.property(fc.array(pane, { maxLength: 8 }), (drafts) => {
        const panes = panesOf(drafts);
        const entry: LogEntry = {
          ordinal: 7,
          kind: "batch",
          first: 1n << 40n,
          last: (1n << 40n) + 99n,
          at: 1_700_000_000_000,
          watermarks: { cpu: 5 },
          maxEventTimes: { mem: 9 },
          panes,
        };
        const decoded = decodeLogItem(logItemOf("shardId-000000000001", entry));
        // Fixed-window panes keep no event-time bounds (only sessions use them, and they are not logged).
        const plain = (e: LogEntry) => ({
          ...e,
          panes: e.panes.map((p) => ({
            ...p,
            layers: p.layers.map((l) => ({ from: l.from, state: { ...stateToJson(l.state), tmin: 0, tmax: 0 } })),
          })),
        });
        expect(plain(decoded)).toEqual(plain(entry));
      }),
      { numRuns: 100 },
    );
  });

  it("ships to a closing unit exactly the portions a unit reading the log finds", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom("shardId-1", "shardId-2"), fc.nat({ max: 99 }), pane), { maxLength: 12 }), (drafts) => {
        const read = drafts.flatMap(([shardId, ordinal, d]) => {
          const entry: LogEntry = { ordinal, kind: "batch", at: 0, watermarks: {}, maxEventTimes: {}, panes: panesOf([d]) };
          return decodeLogItem(logItemOf(shardId, entry)).panes.map((p) => ({
            shardId,
            ordinal,
            key: p.key,
            paneStart: p.paneStart,
            layers: p.layers,
          }));
        });
        expect(decodePortions(encodePortions(read))).toEqual(read);
      }),
      { numRuns: 40 },
    );
  });
});
