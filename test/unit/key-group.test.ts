// The pure closing of one key group (core/windows/key-group.ts): folding by epoch cut exactly once,
// re-fires found from the portions themselves, the windows a watermark fires, the panes a unit must
// read, and the panes it may clear — each against what it must hold by construction.
import { describe, expect, it } from "vitest";
import { type AggregateState, addEvent, emptyState } from "../../shared/core/aggregates/state.ts";
import {
  type Cut,
  foldGroup,
  type GroupPane,
  type GroupPortion,
  keyWindowState,
  panesAfter,
  panesToClear,
  panesToRead,
  windowsToFire,
} from "../../shared/core/windows/key-group.ts";

const MIN = 60_000;
const tumbling = { type: "tumbling", size: MIN } as const;

function stateOf(...values: number[]): AggregateState {
  const state = emptyState();
  for (const v of values) addEvent(state, v, { v }, []);
  return state;
}

const portion = (shardId: string, ordinal: number, key: string, paneStart: number, from: number, ...values: number[]): GroupPortion => ({
  shardId,
  ordinal,
  key,
  paneStart,
  layers: [{ from, state: stateOf(...values) }],
});

const sumOf = (pane: GroupPane | undefined, key: string) =>
  (pane?.keys.get(key) ?? []).reduce((n, l) => n + (l.state.fields.v?.sum ?? 0), 0);

describe("folding a key group's portions", () => {
  const cuts: Cut[] = [new Map(), new Map([["a", 2]]), new Map([["a", 4]])];
  const cutOf = (e: number) => cuts[e] as Cut;
  const portions = [
    portion("a", 1, "k", 0, MIN, 1),
    portion("a", 2, "k", 0, MIN, 2),
    portion("a", 3, "k", 0, MIN, 4),
    portion("a", 4, "j", 0, MIN, 8),
  ];

  it("adds every portion above a pane's own epoch's cut, once: a pane a stopped unit left ahead of its mark takes only what it lacks", () => {
    // a unit that stopped after bringing the pane to epoch 1 (entries 1 and 2)
    const first = foldGroup(new Map(), portions.slice(0, 2), { epoch: 1, cutOf, firedThrough: undefined }).changed[0];
    expect(sumOf(first, "k")).toBe(3);
    // the next unit folds from the group's mark (epoch 0: every entry) to epoch 2
    const stored = new Map([[0, first as GroupPane]]);
    const next = foldGroup(stored, portions, { epoch: 2, cutOf, firedThrough: undefined }).changed[0];
    expect(next?.epoch).toBe(2);
    expect(sumOf(next, "k")).toBe(7);
    expect(sumOf(next, "j")).toBe(8);
    // folding to an epoch the pane has reached adds nothing, and leaves the input as it was
    expect(foldGroup(new Map([[0, next as GroupPane]]), portions, { epoch: 2, cutOf, firedThrough: undefined }).changed).toEqual([]);
    expect(sumOf(first, "k")).toBe(3);
  });

  it("keeps layers apart by `from` and merges equal ones", () => {
    const fold = foldGroup(
      new Map(),
      [portion("a", 1, "k", 0, MIN, 1), portion("a", 1, "k", 0, 2 * MIN, 10), portion("a", 2, "k", 0, MIN, 100)],
      {
        epoch: 2,
        cutOf,
        firedThrough: undefined,
      },
    );
    expect(fold.changed[0]?.keys.get("k")?.map((l) => [l.from, l.state.fields.v?.sum])).toEqual([
      [MIN, 101],
      [2 * MIN, 10],
    ]);
  });

  it("finds re-fires from every portion that reached a fired window, applied before or not", () => {
    const applied: GroupPane = { paneStart: 0, epoch: 2, keys: new Map(), cleared: false };
    const fold = foldGroup(new Map([[0, applied]]), [portion("a", 3, "k", 0, MIN, 1), portion("a", 4, "j", 0, 3 * MIN, 1)], {
      epoch: 2,
      cutOf,
      firedThrough: 2 * MIN,
    });
    expect(fold.changed).toEqual([]);
    expect(fold.refire).toEqual(new Map([["k", MIN]]));
  });
});

describe("firing a key group's windows", () => {
  const pane = (paneStart: number, keys: Record<string, number[]>): GroupPane => ({
    paneStart,
    epoch: 1,
    keys: new Map(Object.entries(keys).map(([k, vs]) => [k, [{ from: paneStart + MIN, state: stateOf(...vs) }]])),
    cleared: false,
  });
  const panes = new Map([
    [0, pane(0, { a: [1], b: [2] })],
    [MIN, pane(MIN, { a: [3] })],
    [2 * MIN, pane(2 * MIN, { b: [4] })],
  ]);

  it("fires every key's windows ending after firedThrough up to the watermark, and the re-fired ones", () => {
    const fire = (firedThrough: number | undefined, watermark: number, refire: Map<string, number> = new Map()) =>
      windowsToFire(tumbling, panes, { firedThrough, watermark, refire, withOpen: false }).map((w) => [w.key, w.window.end]);
    expect(fire(undefined, 2 * MIN)).toEqual([
      ["a", MIN],
      ["a", 2 * MIN],
      ["b", MIN],
    ]);
    expect(fire(MIN, 2 * MIN)).toEqual([["a", 2 * MIN]]);
    expect(fire(MIN, 2 * MIN, new Map([["b", MIN]]))).toEqual([
      ["a", 2 * MIN],
      ["b", MIN],
    ]);
    expect(fire(3 * MIN, 3 * MIN)).toEqual([]);
  });

  it("gives a key's window its own layers only, and open windows as early results when asked", () => {
    expect(keyWindowState("a", { start: 0, end: MIN }, panes)?.fields.v?.sum).toBe(1);
    expect(keyWindowState("c", { start: 0, end: MIN }, panes)).toBeUndefined();
    const open = windowsToFire(tumbling, panes, { firedThrough: MIN, watermark: 2 * MIN, refire: new Map(), withOpen: true });
    expect(open.map((w) => [w.key, w.window.end, w.final])).toEqual([
      ["a", 2 * MIN, true],
      ["b", 3 * MIN, false],
    ]);
  });

  it("reads the panes of every window ending after firedThrough (or the lowest re-fire), up to the watermark", () => {
    const sliding = { type: "sliding", size: 10 * MIN, slide: MIN } as const;
    expect(panesToRead(sliding, { firedThrough: 60 * MIN, watermark: 61 * MIN, withOpen: false })).toEqual({
      from: 50 * MIN + 1,
      to: 62 * MIN,
    });
    expect(panesToRead(sliding, { firedThrough: 60 * MIN, watermark: 61 * MIN, withOpen: false, lowestRefire: 55 * MIN })).toEqual({
      from: 45 * MIN,
      to: 62 * MIN,
    });
    expect(panesToRead(sliding, { firedThrough: undefined, watermark: 61 * MIN, withOpen: true }).to).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("clearing a key group's panes", () => {
  const sliding = { type: "sliding", size: 3 * MIN, slide: MIN } as const;
  const panes = new Map(
    [0, MIN, 2 * MIN, 3 * MIN].map((start): [number, GroupPane] => [
      start,
      { paneStart: start, epoch: 1, keys: new Map(), cleared: start === 0 },
    ]),
  );

  it("clears a pane once its last window fired and its lateness passed at the safe watermark, never before", () => {
    // pane MIN's last window ends at 4 min; with 1 min of lateness it may go at 5 min
    expect(panesToClear(sliding, MIN, panes, { safeWatermark: 5 * MIN - 1, firedThrough: 10 * MIN })).toEqual([]);
    expect(panesToClear(sliding, MIN, panes, { safeWatermark: 5 * MIN, firedThrough: 10 * MIN })).toEqual([MIN]);
    // not beyond what fired, nor without a safe watermark; an already cleared pane is left alone
    expect(panesToClear(sliding, MIN, panes, { safeWatermark: 10 * MIN, firedThrough: 5 * MIN })).toEqual([MIN]);
    expect(panesToClear(sliding, MIN, panes, { safeWatermark: undefined, firedThrough: 10 * MIN })).toEqual([]);
    expect(panesToClear(sliding, 0, panes, { safeWatermark: 6 * MIN, firedThrough: 6 * MIN })).toEqual([MIN, 2 * MIN, 3 * MIN]);
  });

  it("keeps the panes a fold did not touch, and takes the changed ones in their place", () => {
    const changed: GroupPane = { paneStart: MIN, epoch: 2, keys: new Map(), cleared: false };
    const after = panesAfter(panes, { changed: [changed], refire: new Map() });
    expect([...after.keys()]).toEqual([0, MIN, 2 * MIN, 3 * MIN]);
    expect(after.get(MIN)).toBe(changed);
  });
});
