// The pure parts of the shard-log design: folding logged layers into a pane exactly once, and the key
// index that says which keys have windows to fire — each against what it must hold by construction.
import { describe, expect, it } from "vitest";
import { type AggregateState, addEvent, emptyState } from "../../shared/core/aggregates/state.ts";
import { foldIntoPane, type PanePortion, type StoredPane } from "../../shared/core/ingest/deltas.ts";
import { addFolded, type KeyEntry, needsClosing, settleEntries, windowsToClose } from "../../shared/core/windows/key-index.ts";

const MIN = 60_000;

function stateOf(...values: number[]): AggregateState {
  const state = emptyState();
  for (const v of values) addEvent(state, v, { v }, []);
  return state;
}

const portion = (shardId: string, through: bigint, from: number, ...values: number[]): PanePortion => ({
  shardId,
  through,
  layers: [{ from, state: stateOf(...values) }],
});

const totalOf = (pane: StoredPane) => pane.layers.reduce((n, l) => n + (l.state.fields.v?.sum ?? 0), 0);

describe("folding logged layers into a pane", () => {
  it("adds each shard's portion once: a repeated fold (a run that stopped before its checkpoints) adds nothing", () => {
    const first = foldIntoPane(null, [portion("a", 10n, MIN, 1, 2), portion("b", 5n, MIN, 4)]);
    if (first.kind !== "write") throw new Error("expected a write");
    expect(totalOf(first.next)).toBe(7);
    expect(first.next.fences).toEqual(
      new Map([
        ["a", 10n],
        ["b", 5n],
      ]),
    );
    expect(foldIntoPane(first.next, [portion("a", 10n, MIN, 1, 2), portion("b", 5n, MIN, 4)])).toEqual({ kind: "applied-before" });
    const later = foldIntoPane(first.next, [portion("a", 10n, MIN, 1, 2), portion("a", 20n, MIN, 8)]);
    if (later.kind !== "write") throw new Error("expected a write");
    expect(totalOf(later.next)).toBe(15);
    expect(later.next.version).toBe(2);
  });

  it("keeps layers apart by `from` and merges equal ones", () => {
    const fold = foldIntoPane(null, [portion("a", 1n, MIN, 1), portion("a", 2n, 2 * MIN, 10), portion("a", 3n, MIN, 100)]);
    if (fold.kind !== "write") throw new Error("expected a write");
    expect(fold.next.layers.map((l) => [l.from, l.state.fields.v?.sum])).toEqual([
      [MIN, 101],
      [2 * MIN, 10],
    ]);
  });

  it("takes events into a purged pane (accepted before its purge) and says so; parked portions only move fences", () => {
    const purged: StoredPane = { version: 4, layers: [{ from: MIN, state: stateOf(5) }], fences: new Map([["a", 1n]]), tombstone: true };
    const fold = foldIntoPane(purged, [portion("a", 2n, MIN, 1)], [portion("b", 9n, MIN, 1000)]);
    if (fold.kind !== "write") throw new Error("expected a write");
    expect(fold.resurrected).toBe(true);
    expect(fold.next.tombstone).toBe(false);
    expect(totalOf(fold.next)).toBe(6);
    expect(fold.next.fences.get("b")).toBe(9n);
  });
});

describe("the key index", () => {
  const sliding = { type: "sliding", size: 60 * MIN, slide: MIN } as const;
  const tumbling = { type: "tumbling", size: 5 * MIN } as const;

  it("remembers each key's newest pane and the smallest end that must fire again", () => {
    const entries = new Map<string, KeyEntry>();
    expect(addFolded(entries, [{ key: "k", newest: 10 * MIN }])).toBe(true);
    expect(addFolded(entries, [{ key: "k", newest: 5 * MIN, lateFrom: 7 * MIN }])).toBe(true);
    expect(addFolded(entries, [{ key: "k", newest: 9 * MIN, lateFrom: 8 * MIN }])).toBe(false);
    expect(entries.get("k")).toEqual({ key: "k", last: 10 * MIN, refireFrom: 7 * MIN });
  });

  it("closes a key whose older pane's window ended although its newest pane's has not (tumbling)", () => {
    // events in [0, 5m) and [5m, 10m): the first window ends at 5m, the newest pane's at 10m
    expect(needsClosing(tumbling, { key: "k", last: 5 * MIN }, undefined, 5 * MIN, false)).toBe(true);
    expect(needsClosing(tumbling, { key: "k", last: 5 * MIN }, 5 * MIN, 9 * MIN, false)).toBe(false);
    expect(needsClosing(tumbling, { key: "k", last: 5 * MIN, refireFrom: 5 * MIN }, 5 * MIN, 9 * MIN, false)).toBe(true);
  });

  it("evaluates the windows ending after what was fired, those to fire again, and (early) the open ones", () => {
    const panes = [0, MIN, 2 * MIN];
    const ends = (windows: { end: number }[]) => windows.map((w) => w.end / MIN);
    const { due, open } = windowsToClose(sliding, panes, { firedThrough: 2 * MIN, watermark: 4 * MIN, withOpen: true });
    expect(ends(due)).toEqual([3, 4]);
    expect(open).toHaveLength(60 - 2);
    const refire = windowsToClose(sliding, panes, { firedThrough: 2 * MIN, refireFrom: MIN, watermark: 4 * MIN, withOpen: false });
    expect(ends(refire.due)).toEqual([1, 2, 3, 4]);
    expect(refire.open).toEqual([]);
  });

  it("forgets a key once its newest pane's last window fired, clears refires, and keeps what a fold changed meanwhile", () => {
    const entries = new Map<string, KeyEntry>([
      ["done", { key: "done", last: 0 }],
      ["open", { key: "open", last: 50 * MIN, refireFrom: MIN }],
      ["moved", { key: "moved", last: 0 }],
    ]);
    const seen = new Map<string, KeyEntry>([
      ["done", { key: "done", last: 0 }],
      ["open", { key: "open", last: 50 * MIN, refireFrom: MIN }],
      ["moved", { key: "moved", last: -MIN }],
    ]);
    expect(settleEntries(sliding, entries, seen, 60 * MIN)).toBe(true);
    expect([...entries.values()]).toEqual([
      { key: "open", last: 50 * MIN },
      { key: "moved", last: 0 },
    ]);
  });
});
