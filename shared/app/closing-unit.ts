// A closing unit: one fixed-window pipeline's range of key groups, brought to an epoch. For each group
// whose mark is behind, in the phases of Flink's WindowProcessor: fold the log's portions since the
// group's epoch into its panes, fire the windows the epoch's watermark passed (and those late events
// reached, and early results), clear the panes no later event can reach, publish, and move the mark.
// A group that fails is parked with the reason and the others go on; its mark stays, and the next unit
// takes it from there. Two units of the same group at once change nothing the other relies on: panes
// are written on the epoch read, results on the item's version, marks on theirs. Every rule comes from
// core/windows/key-group.ts and core/windows/fates.ts.
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import pLimit from "p-limit";
import type { Item } from "../aws/dynamodb/attributes.ts";
import { writeCascadePartial } from "../aws/dynamodb/cascade.ts";
import { putDeadLetters } from "../aws/dynamodb/dead-letters.ts";
import { type Epoch, readEpochs } from "../aws/dynamodb/epochs.ts";
import {
  clearGroupPane,
  decodeGroupPane,
  type GroupMark,
  groupPaneItemOf,
  readGroupMarks,
  readGroupPaneItems,
  readGroupPaneItemsAt,
  readGroupPanesAt,
  writeGroupMark,
  writeGroupPane,
} from "../aws/dynamodb/groups.ts";
import { readLogBetween } from "../aws/dynamodb/log.ts";
import { approximateItemBytes, MAX_PANE_ITEM_BYTES } from "../aws/dynamodb/panes.ts";
import { parkKey, readParkedKeys, unparkKey } from "../aws/dynamodb/parked.ts";
import { notePendingRankEnds, writeRankCandidates } from "../aws/dynamodb/ranks.ts";
import { commitGroupResults, type ResultIntent, type ResultsItem, readResultsItems, type StoredResult } from "../aws/dynamodb/results.ts";
import { retryOnConflict } from "../aws/retry.ts";
import type { AggregateState } from "../core/aggregates/state.ts";
import { keyGroupOf } from "../core/keygroups.ts";
import { cascadeEventOf, cascadePartialsOf, type SourceRow } from "../core/pipelines/cascade.ts";
import { passesHaving, retractsRows, windowValues } from "../core/pipelines/project.ts";
import { candidatesOf, keyResultsNameOf } from "../core/pipelines/rank.ts";
import type { Pipeline } from "../core/pipelines/schema.ts";
import type { DeadLetter, ResultSink, WindowResult } from "../core/types.ts";
import type { WindowSpec } from "../core/windows/assigners.ts";
import { earlyDueOf } from "../core/windows/fates.ts";
import {
  type Cut,
  firedThroughAfter,
  foldGroup,
  type GroupPane,
  type GroupPortion,
  isInCut,
  keyWindowState,
  panesToClear,
  panesToRead,
  type WindowToFire,
  windowsToFire,
} from "../core/windows/key-group.ts";

export interface UnitDependencies {
  dynamodb: DynamoDBClient;
  stateTable: string;
  resultsTable: string;
  /** where groups that cannot be closed are parked with the reason, and unstorable events described */
  deadLetterTable?: string;
  /** where results go after the ledger; at least once */
  sink?: ResultSink;
  /** concurrent groups within a unit */
  concurrency: number;
  /** how long results are kept (TTL), seconds; undefined keeps them */
  resultRetentionSeconds?: number;
  /** how long cleared panes are kept (TTL), ms */
  tombstoneRetentionMs: number;
  /** the largest pane item written (default MAX_PANE_ITEM_BYTES: DynamoDB's limit, less room) */
  maxPaneItemBytes?: number;
  /** the container's pane cache (default: one per process, as a Lambda container has; the bench gives each simulated closer its own) */
  paneCache?: PaneCache;
  now?: () => number;
}

/** The work of one unit: a pipeline's groups `first` … `last`, to be brought to `epoch`. */
export interface ClosingUnit {
  pipeline: Pipeline;
  first: number;
  last: number;
  epoch: Epoch;
  /** an operator's latest watermark reset: groups that have not taken it move their fired mark back to `to` */
  reset?: { generation: number; to: number };
  /**
   * The unit's portions of the log entries after `after` up to the epoch's cut, as the coordinator read
   * them: a unit whose groups all stand at or after `after` reads no log (closer.ts).
   */
  shipped?: { after: Cut; portions: readonly GroupPortion[] };
  /** the pipelines reading this one's rows (cascades): each window end's rows give them partials */
  readers?: readonly Pipeline[];
}

export interface UnitReport {
  pipeline: string;
  /** groups brought to the epoch */
  groups: number;
  fired: number;
  refired: number;
  early: number;
  conflicts: number;
  panesWritten: number;
  /** panes cleared, or sessions dropped once their lateness passed */
  cleared: number;
  /** panes that could not store all their events (a dead letter describes the rest) */
  unstorable: number;
  /** log entries read */
  entries: number;
  /** results written whose publishing failed (a later unit publishes them again) */
  unpublished: number;
  /** results a unit that stopped had written, published again */
  republished: number;
  /** groups (or, for sessions, keys) that could not be closed: parked with the reason, taken up again by the next unit */
  parked: { group: number; key?: string; reason: string }[];
  /** ranked pipelines: the window ends whose candidates the unit wrote (ranked again once every unit is done) */
  rankEnds: Set<number>;
}

/** A unit's report before it has done anything. */
export function emptyUnitReport(pipeline: string): UnitReport {
  return {
    pipeline,
    groups: 0,
    fired: 0,
    refired: 0,
    early: 0,
    conflicts: 0,
    panesWritten: 0,
    cleared: 0,
    unstorable: 0,
    entries: 0,
    unpublished: 0,
    republished: 0,
    parked: [],
    rankEnds: new Set(),
  };
}

/**
 * What this container last knew of each key group's panes from some start on — all of them, later ones
 * included — as their stored items, valid while the group's mark is at the version this container
 * wrote: then no other unit has committed since. A unit that stopped (or still runs) may have put
 * panes ahead of the mark meanwhile; the portions a unit reads from the mark cover what they added, and
 * its writes, conditional on the epoch it knew, meet them and fold again from what is stored. It saves
 * reading a sliding window's every pane at every firing, as Flink keeps state in the operator; a miss
 * (another container committed, or the group is new here) reads them.
 */
export class PaneCache {
  private readonly groups = new Map<string, { version: number; from: number; items: Map<number, Item>; bytes: number }>();
  private bytes = 0;

  constructor(private readonly limitBytes = 64 * 1024 * 1024) {}

  /** A copy of the group's items from `from` on, if the cache holds them at this mark version; else undefined. */
  take(id: string, version: number, from: number): Map<number, Item> | undefined {
    const entry = this.groups.get(id);
    if (entry === undefined) return undefined;
    if (entry.version !== version || from < entry.from) {
      this.drop(id);
      return undefined;
    }
    this.groups.delete(id); // most recently used last
    this.groups.set(id, entry);
    return new Map(entry.items);
  }

  put(id: string, version: number, from: number, items: Map<number, Item>): void {
    this.drop(id);
    let bytes = 0;
    for (const item of items.values()) bytes += item.d?.B?.byteLength ?? 0;
    if (bytes > this.limitBytes / 4) return;
    this.groups.set(id, { version, from, items, bytes });
    this.bytes += bytes;
    for (const [oldest, entry] of this.groups) {
      if (this.bytes <= this.limitBytes) break;
      this.groups.delete(oldest);
      this.bytes -= entry.bytes;
    }
  }

  drop(id: string): void {
    const entry = this.groups.get(id);
    if (entry === undefined) return;
    this.groups.delete(id);
    this.bytes -= entry.bytes;
  }
}

const containerCache = new PaneCache();

const reasonOf = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));
const parkedName = (group: number) => `key group ${group}`;
const MAX_ATTEMPTS = 6;

/** Brings every group of the unit whose mark is behind to the unit's epoch. */
export async function runClosingUnit(deps: UnitDependencies, unit: ClosingUnit): Promise<UnitReport> {
  const { pipeline, epoch } = unit;
  const report = emptyUnitReport(pipeline.name);
  const groups = Array.from({ length: unit.last - unit.first + 1 }, (_, i) => unit.first + i);
  const marks = await readGroupMarks(deps.dynamodb, deps.stateTable, pipeline.name, groups);
  const behind = [...marks.values()].filter((m) => m.epoch < epoch.epoch);
  if (behind.length === 0) return report;
  const epochs = new EpochCache(deps, epoch);
  await epochs.load(behind.map((m) => m.epoch));
  // One read of the logs for the whole unit: from the lowest mark's cut to the epoch's.
  const portions = await readPortions(deps, unit, behind, epochs, report);
  // Groups parked before are taken up like the others; their record goes once they close.
  const parked = deps.deadLetterTable ? await readParkedKeys(deps.dynamodb, deps.deadLetterTable, pipeline.name) : new Map();
  const limit = pLimit(deps.concurrency);
  await Promise.all(
    behind.map((mark) =>
      limit(async () => {
        try {
          await closeGroup(deps, unit, mark, portions.get(mark.group) ?? [], epochs, report);
          report.groups++;
          if (deps.deadLetterTable && parked.has(parkedName(mark.group)))
            await unparkKey(deps.dynamodb, deps.deadLetterTable, pipeline.name, parkedName(mark.group));
        } catch (error) {
          report.parked.push({ group: mark.group, reason: reasonOf(error) });
          if (deps.deadLetterTable)
            await parkKey(deps.dynamodb, deps.deadLetterTable, pipeline.name, parkedName(mark.group), reasonOf(error), now(deps));
        }
      }),
    ),
  );
  return report;
}

const now = (deps: UnitDependencies) => deps.now?.() ?? Date.now();

/** The cuts of the epochs a unit meets (the marks', and panes' a stopped unit left ahead of their mark). */
class EpochCache {
  private readonly known = new Map<number, Epoch>();
  constructor(
    private readonly deps: UnitDependencies,
    target: Epoch,
  ) {
    this.known.set(target.epoch, target);
  }

  async load(numbers: Iterable<number>): Promise<void> {
    const missing = [...new Set(numbers)].filter((n) => !this.known.has(n));
    if (missing.length === 0) return;
    for (const [n, epoch] of await readEpochs(this.deps.dynamodb, this.deps.stateTable, missing)) this.known.set(n, epoch);
    const gone = missing.filter((n) => !this.known.has(n));
    if (gone.length > 0) throw new Error(`epoch ${gone.join(", ")} is no longer stored (kept as long as the shard logs: retention.log)`);
  }

  cut(epoch: number): Cut {
    const found = this.known.get(epoch);
    if (found === undefined) throw new Error(`epoch ${epoch} was not read`);
    return found.cut;
  }
}

/** The unit's portions of the log entries above the lowest mark's cut, up to the epoch's, by group. */
async function readPortions(
  deps: UnitDependencies,
  unit: ClosingUnit,
  behind: readonly GroupMark[],
  epochs: EpochCache,
  report: UnitReport,
): Promise<Map<number, GroupPortion[]>> {
  const { pipeline, epoch } = unit;
  const lowest = new Map<string, number>();
  for (const mark of behind)
    for (const [shardId] of epoch.cut) {
      const at = epochs.cut(mark.epoch).get(shardId) ?? 0;
      lowest.set(shardId, Math.min(at, lowest.get(shardId) ?? at));
    }
  // What the coordinator shipped covers every entry the groups lack: no log to read.
  const { shipped } = unit;
  if (shipped !== undefined && [...epoch.cut.keys()].every((shardId) => (lowest.get(shardId) ?? 0) >= (shipped.after.get(shardId) ?? 0))) {
    const byGroup = new Map<number, GroupPortion[]>();
    for (const portion of shipped.portions) {
      if (portion.ordinal <= (lowest.get(portion.shardId) ?? 0)) continue;
      const group = keyGroupOf(portion.key, pipeline.keyGroups);
      if (group < unit.first || group > unit.last) continue;
      const list = byGroup.get(group) ?? [];
      list.push(portion);
      byGroup.set(group, list);
    }
    return byGroup;
  }
  const limit = pLimit(deps.concurrency);
  const logs = await Promise.all(
    [...epoch.cut].map(([shardId, upTo]) =>
      limit(async () => ({
        shardId,
        entries: await readLogBetween(deps.dynamodb, deps.stateTable, shardId, lowest.get(shardId) ?? 0, upTo),
      })),
    ),
  );
  const byGroup = new Map<number, GroupPortion[]>();
  for (const { shardId, entries } of logs) {
    report.entries += entries.length;
    for (const entry of entries)
      for (const pane of entry.panes) {
        if (pane.pipeline !== pipeline.name) continue;
        const group = keyGroupOf(pane.key, pipeline.keyGroups);
        if (group < unit.first || group > unit.last) continue;
        const list = byGroup.get(group) ?? [];
        list.push({ shardId, ordinal: entry.ordinal, key: pane.key, paneStart: pane.paneStart, layers: pane.layers });
        byGroup.set(group, list);
      }
  }
  return byGroup;
}

/** One group: fold → fire → publish → clear → mark. */
async function closeGroup(
  deps: UnitDependencies,
  unit: ClosingUnit,
  firstMark: GroupMark,
  allPortions: readonly GroupPortion[],
  epochs: EpochCache,
  report: UnitReport,
): Promise<void> {
  let mark = firstMark;
  for (let attempt = 1; ; attempt++) {
    const moved = await closeGroupOnce(deps, unit, mark, allPortions, epochs, report);
    if (moved === "done") break;
    // Another unit moved the mark first: done if it reached the epoch, else take the group from there.
    mark = moved;
    if (mark.epoch >= unit.epoch.epoch) break;
    if (attempt >= MAX_ATTEMPTS) throw new Error(`the mark of group ${mark.group} kept moving under ${MAX_ATTEMPTS} attempts`);
    await epochs.load([mark.epoch]);
  }
}

async function closeGroupOnce(
  deps: UnitDependencies,
  unit: ClosingUnit,
  markRead: GroupMark,
  allPortions: readonly GroupPortion[],
  epochs: EpochCache,
  report: UnitReport,
): Promise<"done" | GroupMark> {
  const { pipeline, epoch } = unit;
  const spec = pipeline.window;
  let mark = markRead;
  // An operator's reset the group has not taken: windows after it fire again as the watermark passes them.
  if (unit.reset && mark.resetGeneration < unit.reset.generation) {
    const to = unit.reset.to;
    mark = {
      ...mark,
      resetGeneration: unit.reset.generation,
      ...(mark.firedThrough === undefined ? {} : { firedThrough: Math.min(mark.firedThrough, to) }),
      ...(mark.clearedThrough === undefined ? {} : { clearedThrough: Math.min(mark.clearedThrough, to) }),
    };
  }
  const watermark = epoch.watermarks.get(pipeline.name);
  const from = epochs.cut(mark.epoch);
  const portions = allPortions.filter((p) => !isInCut(p, from));
  // Read what the group needs: the panes of the windows it may fire, and those the portions reach.
  const withOpen = pipeline.early !== undefined;
  let lowestRefire: number | undefined;
  if (mark.firedThrough !== undefined)
    for (const p of portions)
      for (const layer of p.layers)
        if (layer.from <= mark.firedThrough && (lowestRefire === undefined || layer.from < lowestRefire)) lowestRefire = layer.from;
  const firing =
    watermark === undefined
      ? undefined
      : panesToRead(spec, {
          firedThrough: mark.firedThrough,
          watermark,
          withOpen,
          ...(lowestRefire === undefined ? {} : { lowestRefire }),
        });
  // Panes not cleared yet are read too (clearing follows the safe watermark, a run behind firing).
  const range = firing && { ...firing, from: Math.min(firing.from, clearFromOf(spec, pipeline.allowedLateness, mark.clearedThrough)) };
  // Every pane from the range's start on (later ones too, so that what the cache keeps is complete), or
  // — when no other unit committed since this container did — what the cache kept.
  const cacheId = `${deps.stateTable}/${pipeline.name}/${mark.group}`;
  const paneCache = deps.paneCache ?? containerCache;
  const cached = range === undefined ? undefined : paneCache.take(cacheId, markRead.version, range.from);
  const items =
    range === undefined
      ? new Map<number, Item>()
      : (cached ??
        (await readGroupPaneItems(deps.dynamodb, deps.stateTable, pipeline.name, mark.group, {
          from: range.from,
          to: Number.POSITIVE_INFINITY,
        })));
  const outside = [...new Set(portions.map((p) => p.paneStart))].filter((s) => !items.has(s) && (range === undefined || s < range.from));
  for (const [start, item] of await readGroupPaneItemsAt(deps.dynamodb, deps.stateTable, pipeline.name, mark.group, outside))
    items.set(start, item);
  const panes = new Map([...items].map(([start, item]) => [start, decodeGroupPane(item)]));
  // A pane ahead of the mark (a unit that stopped) holds the entries up to its own epoch's cut.
  await epochs.load([...panes.values()].map((p) => p.epoch).filter((e) => e > mark.epoch && e < epoch.epoch));
  const cutOf = (e: number) => (e <= mark.epoch ? from : epochs.cut(e));
  const fold = foldGroup(panes, portions, { epoch: epoch.epoch, cutOf, firedThrough: mark.firedThrough });
  const written = await writePanes(deps, unit, mark, panes, portions, fold.changed, { cutOf, load: (e) => epochs.load(e) }, report);
  const after = new Map(panes);
  for (const pane of written) {
    after.set(pane.paneStart, pane);
    items.set(pane.paneStart, groupPaneItemOf(pipeline.name, mark.group, pane));
  }

  let firedThrough = mark.firedThrough;
  let clearedThrough = mark.clearedThrough;
  if (watermark !== undefined && range !== undefined) {
    const inRange = new Map([...after].filter(([s]) => s >= (firing as { from: number }).from && s < range.to));
    const toFire = windowsToFire(spec, inRange, { firedThrough: mark.firedThrough, watermark, refire: fold.refire, withOpen });
    await fireWindows(deps, unit, mark, inRange, toFire, report);
    firedThrough = firedThroughAfter(mark.firedThrough, watermark);
    const clearing = await clearPanes(deps, unit, mark, after, firedThrough, report);
    clearedThrough = clearing.clearedThrough;
    for (const start of clearing.cleared) items.set(start, { ...(items.get(start) as Item), c: { N: "1" } });
  }
  const next: GroupMark = {
    group: mark.group,
    epoch: epoch.epoch,
    ...(firedThrough === undefined ? {} : { firedThrough }),
    ...(clearedThrough === undefined ? {} : { clearedThrough }),
    resetGeneration: mark.resetGeneration,
    version: markRead.version + 1,
  };
  if (await writeGroupMark(deps.dynamodb, deps.stateTable, pipeline.name, next, markRead.version)) {
    // What the next unit of this group reads, if no other commits first: the panes from where it starts.
    if (range !== undefined && watermark !== undefined) {
      const keepFrom = Math.min(
        panesToRead(spec, { firedThrough: next.firedThrough, watermark, withOpen }).from,
        clearFromOf(spec, pipeline.allowedLateness, next.clearedThrough),
      );
      paneCache.put(cacheId, next.version, Math.max(keepFrom, range.from), new Map([...items].filter(([start]) => start >= keepFrom)));
    }
    return "done";
  }
  paneCache.drop(cacheId);
  report.conflicts++;
  const reread = (await readGroupMarks(deps.dynamodb, deps.stateTable, pipeline.name, [mark.group])).get(mark.group);
  return reread ?? mark;
}

/**
 * Writes the panes the fold changed, each on the epoch it was read at. A pane another unit wrote first
 * is read again and folded again alone (it may already be at the epoch). A pane whose state would not
 * fit in an item keeps what fits, in order; a dead letter describes the rest.
 */
async function writePanes(
  deps: UnitDependencies,
  unit: ClosingUnit,
  mark: GroupMark,
  known: ReadonlyMap<number, GroupPane>,
  portions: readonly GroupPortion[],
  changed: readonly GroupPane[],
  cuts: { cutOf: (epoch: number) => Cut; load: (epochs: number[]) => Promise<void> },
  report: UnitReport,
): Promise<GroupPane[]> {
  const { pipeline, epoch } = unit;
  const { cutOf } = cuts;
  const limit = pLimit(deps.concurrency);
  return Promise.all(
    changed.map((first) =>
      limit(async () => {
        let pane = first;
        let stored = known.get(first.paneStart);
        const mine = portions.filter((p) => p.paneStart === first.paneStart);
        const outcome = await retryOnConflict(MAX_ATTEMPTS, async () => {
          const counter = { count: 0 };
          pane = await fitted(counter, deps, unit, mark, stored, mine, pane, cutOf);
          report.unstorable += counter.count;
          if (pane === stored) return { done: pane };
          if (await writeGroupPane(deps.dynamodb, deps.stateTable, groupPaneItemOf(pipeline.name, mark.group, pane), stored?.epoch)) {
            report.panesWritten++;
            return { done: pane };
          }
          report.conflicts++;
          stored = (await readGroupPanesAt(deps.dynamodb, deps.stateTable, pipeline.name, mark.group, [first.paneStart])).get(
            first.paneStart,
          );
          // The unit that wrote it first may have been at an epoch this one has not met yet: its cut is needed.
          if (stored !== undefined && stored.epoch > mark.epoch && stored.epoch < epoch.epoch) await cuts.load([stored.epoch]);
          const again = foldGroup(new Map(stored ? [[stored.paneStart, stored]] : []), mine, {
            epoch: epoch.epoch,
            cutOf,
            firedThrough: mark.firedThrough,
          }).changed[0];
          // Nothing left to add: the other unit took the pane to (or past) this epoch.
          pane = again ?? (stored as GroupPane);
          if (again === undefined) return { done: pane };
          return "conflict";
        });
        if (outcome === undefined)
          throw new Error(`pane ${first.paneStart} of group ${mark.group} kept changing under ${MAX_ATTEMPTS} attempts`);
        return outcome.done;
      }),
    ),
  );
}

/** The pane as folded, or — when its item would outgrow DynamoDB's — with the portions that fit, in order, and a letter for the rest. */
async function fitted(
  unstorable: { count: number },
  deps: UnitDependencies,
  unit: ClosingUnit,
  mark: GroupMark,
  stored: GroupPane | undefined,
  mine: readonly GroupPortion[],
  pane: GroupPane,
  cutOf: (epoch: number) => Cut,
): Promise<GroupPane> {
  const { pipeline, epoch } = unit;
  const limit = deps.maxPaneItemBytes ?? MAX_PANE_ITEM_BYTES;
  const fits = (p: GroupPane) => approximateItemBytes(groupPaneItemOf(pipeline.name, mark.group, p)) <= limit;
  if (fits(pane)) return pane;
  const base = new Map(stored ? [[stored.paneStart, stored]] : []);
  const pending = mine.filter((p) => stored === undefined || (stored.epoch < epoch.epoch && !isInCut(p, cutOf(stored.epoch))));
  // The longest prefix of the portions that fits (a binary search: each trial encodes the item once).
  const trial = (n: number) => foldGroup(base, pending.slice(0, n), { epoch: epoch.epoch, cutOf, firedThrough: undefined }).changed[0];
  let kept = 0;
  let best: GroupPane = stored ?? { paneStart: pane.paneStart, epoch: epoch.epoch, keys: new Map(), cleared: false };
  let high = pending.length - 1;
  while (kept < high) {
    const middle = Math.ceil((kept + high) / 2);
    const candidate = trial(middle);
    if (candidate !== undefined && fits(candidate)) {
      best = candidate;
      kept = middle;
    } else high = middle - 1;
  }
  // The pane moves to the epoch even with nothing added: the rest is accounted for by the letter.
  best = { ...best, epoch: epoch.epoch };
  const rest = pending.slice(kept);
  const events = rest.reduce((n, p) => n + p.layers.reduce((m, l) => m + l.state.n, 0), 0);
  if (deps.deadLetterTable)
    await putDeadLetters(deps.dynamodb, deps.deadLetterTable, [
      unstoredLetter(unit, mark.group, pane.paneStart, rest, events, now(deps), limit),
    ]);
  unstorable.count++;
  return best;
}

/** The dead letter for accepted events a pane could not store: a description (the log holds them pre-aggregated), with the reason. */
function unstoredLetter(
  unit: ClosingUnit,
  group: number,
  paneStart: number,
  rest: readonly GroupPortion[],
  events: number,
  at: number,
  limit: number,
): DeadLetter {
  const pane = new Date(paneStart).toISOString();
  const keys = [...new Set(rest.map((p) => p.key))];
  const last = rest[rest.length - 1];
  return {
    kind: "invalid",
    pipeline: unit.pipeline.name,
    reason: `the state of pane ${pane} of key group ${group} would exceed DynamoDB's item size limit (${limit} bytes kept for state); ${events} accepted events of ${keys.length} keys were not added to it: raise keyGroups (fewer keys a group), lower a distinct count's precision or a sketch's accuracy, or shorten the window`,
    shardId: last?.shardId ?? "",
    sequenceNumber: `${unit.epoch.epoch}${String(group).padStart(6, "0")}${String(paneStart)}`,
    partitionKey: (keys[0] ?? "").slice(0, 256),
    data: new TextEncoder().encode(
      JSON.stringify({ unstoredState: { pipeline: unit.pipeline.name, group, pane, events, keys: keys.slice(0, 100) } }),
    ),
    arrivedAt: at,
    recordedAt: at,
    acceptedBy: [],
    origin: "state",
  };
}

const windowKey = (key: string, w: { start: number; end: number }) => `${key}\u0000${w.start}/${w.end}`;

/** Evaluates the windows, decides each against the ledger, writes the versions it lacks, and publishes them. */
async function fireWindows(
  deps: UnitDependencies,
  unit: ClosingUnit,
  mark: GroupMark,
  panes: ReadonlyMap<number, GroupPane>,
  toFire: readonly WindowToFire[],
  report: UnitReport,
): Promise<void> {
  const evaluated = toFire.flatMap((w) => {
    const state = keyWindowState(w.key, w.window, panes);
    return state === undefined ? [] : [{ ...w, state }];
  });
  await fireEvaluated(deps, unit, mark, evaluated, report);
}

/** A window of a key to give a result for, with its contents. */
export interface EvaluatedWindow extends WindowToFire {
  state: AggregateState;
}

/**
 * Decides each evaluated window against the ledger, writes the versions it lacks, gives what reads
 * them (a ranking's candidates, the partials of the pipelines reading this one), and publishes them.
 */
export async function fireEvaluated(
  deps: UnitDependencies,
  unit: Pick<ClosingUnit, "pipeline" | "epoch" | "readers">,
  mark: Pick<GroupMark, "group" | "epoch">,
  evaluated: readonly EvaluatedWindow[],
  report: UnitReport,
): Promise<void> {
  const { pipeline, epoch } = unit;
  const at = now(deps);
  const endInKey = pipeline.window.type === "cumulate";
  // a ranked pipeline's per-key results are internal: its rankings are its results
  const resultsName = keyResultsNameOf(pipeline);
  // Early results need what the ledger holds (at most one per `early` interval, only when contents grew).
  let known: Map<number, ResultsItem> | undefined;
  if (pipeline.early !== undefined) {
    const ends = [...new Set(evaluated.filter((e) => !e.final).map((e) => e.window.end))];
    known = await readResultsItems(deps.dynamodb, deps.resultsTable, resultsName, mark.group, ends);
  }
  const intents: ResultIntent[] = [];
  const kinds = new Map<string, boolean>();
  for (const e of evaluated) {
    if (!e.final) {
      const stored = known?.get(e.window.end)?.results.get(`${e.key}\u0000${e.window.start}`);
      if (!earlyDueOf(stored, e.state.n, at, pipeline.early ?? 0)) continue;
    }
    // HAVING: a window whose row it does not keep gives no result; where an earlier version (early, or
    // before a late event re-fired the window) gave a row, that row is retracted (the ledger decides)
    const passes = passesHaving(pipeline, e.key, e.window, e.state);
    if (!passes && !retractsRows(pipeline)) continue;
    kinds.set(windowKey(e.key, e.window), e.final);
    intents.push({
      result: {
        pipeline: resultsName,
        key: e.key,
        start: e.window.start,
        end: e.window.end,
        values: windowValues(pipeline, e.key, e.window, e.state),
        count: e.state.n,
        firedAt: at,
        final: e.final,
        ...(endInKey ? { endInKey: true } : {}),
        ...(passes ? {} : { retracted: true as const }),
      },
    });
  }
  const outcome = await commitGroupResults(
    deps.dynamodb,
    deps.resultsTable,
    { pipeline: resultsName, group: mark.group, epoch: epoch.epoch, markEpoch: mark.epoch },
    intents,
    { ttlSeconds: deps.resultRetentionSeconds, now: at, ...(known ? { known } : {}) },
  );
  report.conflicts += outcome.conflicts;
  if (pipeline.rank !== undefined) {
    // the ends to rank, noted before the group's mark moves: a unit that stops after the move still has them ranked
    await notePending(deps, pipeline.name, [...outcome.items.keys()], report);
    // the group's best rows of each window it fired, for the ranking once every group is closed
    for (const [end, item] of outcome.items) {
      await writeRankCandidates(
        deps.dynamodb,
        deps.resultsTable,
        { pipeline: pipeline.name, end, group: mark.group, version: item.version },
        candidatesOf(pipeline.rank, item.results.values()),
        { ttlSeconds: deps.resultRetentionSeconds, now: at },
      );
      report.rankEnds.add(end);
    }
  }
  // the pipelines reading this one's rows (a cascade): their partials, before the group's mark moves
  for (const reader of unit.readers ?? []) await feedReader(deps, pipeline, reader, mark.group, outcome.items, at, report);
  for (const r of outcome.written) {
    if (!r.final) report.early++;
    else if (r.version === 1 || kinds.get(windowKey(r.key, r)) === false) report.fired++;
    else report.refired++;
  }
  if (pipeline.rank !== undefined || pipeline.internal) return;
  const written = new Set(outcome.written.map((r) => windowKey(r.key, r)));
  const again = outcome.unconfirmed.filter((r) => !written.has(windowKey(r.key, r)));
  await publish(deps, [...outcome.written, ...again], report);
  report.republished += again.length;
}

/** The window ends each unit has noted pending, and the write noting them: once a unit, not once a group. */
const notedByUnit = new WeakMap<UnitReport, Map<number, Promise<void>>>();

/** Notes a group's ranked ends pending (those its unit has not noted yet), and waits until every one is. */
async function notePending(deps: UnitDependencies, pipeline: string, ends: readonly number[], report: UnitReport): Promise<void> {
  let noted = notedByUnit.get(report);
  if (noted === undefined) {
    noted = new Map();
    notedByUnit.set(report, noted);
  }
  const fresh = ends.filter((end) => !noted.has(end));
  if (fresh.length > 0) {
    const writing = notePendingRankEnds(deps.dynamodb, deps.resultsTable, pipeline, fresh);
    for (const end of fresh) noted.set(end, writing);
    // a write that failed is tried again by the next group that needs it
    writing.catch(() => {
      for (const end of fresh) if (noted.get(end) === writing) noted.delete(end);
    });
  }
  await Promise.all(ends.map((end) => noted.get(end)));
}

/** How long a cascade's partials are kept without a result retention: far longer than any source stalls between its windows. */
const PARTIAL_RETENTION_SECONDS = 30 * 86_400;

/**
 * A reader's partials from the results items this group just committed (each a source window end):
 * written under the items' versions, so writing them again changes nothing. A row the reader cannot
 * read is described in a dead letter, with the reason.
 */
async function feedReader(
  deps: UnitDependencies,
  source: Pipeline,
  reader: Pipeline,
  group: number,
  items: ReadonlyMap<number, ResultsItem>,
  at: number,
  report: UnitReport,
): Promise<void> {
  const size = reader.window.type === "session" ? 0 : reader.window.size;
  const ttlSeconds = Math.floor((at + size) / 1000) + (deps.resultRetentionSeconds ?? PARTIAL_RETENTION_SECONDS);
  const limit = pLimit(deps.concurrency);
  const letters: DeadLetter[] = [];
  const writes: Promise<boolean>[] = [];
  for (const [end, item] of items) {
    const rows = [...item.results.values()].filter((r) => r.final && !r.retracted && r.supersededBy === undefined);
    const { byGroup, invalid } = cascadePartialsOf(reader, source, rows);
    for (const [readerGroup, buckets] of byGroup)
      for (const [bucket, keys] of buckets)
        writes.push(
          limit(() =>
            writeCascadePartial(
              deps.dynamodb,
              deps.stateTable,
              { reader: reader.name, group: readerGroup, bucket, source: { group, end, version: item.version } },
              keys,
              { ttlSeconds },
            ),
          ),
        );
    for (const { row, reason } of invalid) letters.push(unreadRowLetter(source, reader, group, row, reason, at));
  }
  await Promise.all(writes);
  if (letters.length > 0 && deps.deadLetterTable) await putDeadLetters(deps.dynamodb, deps.deadLetterTable, letters);
  report.unstorable += letters.length;
}

/** The dead letter of a source row a reading pipeline cannot read (its data: the row as the reader sees it). */
function unreadRowLetter(source: Pipeline, reader: Pipeline, group: number, row: SourceRow, reason: string, at: number): DeadLetter {
  return {
    kind: "invalid",
    pipeline: reader.name,
    reason: `the row of ${source.name} for key ${JSON.stringify(row.key)}, window ${new Date(row.start).toISOString()}/${new Date(row.end).toISOString()}: ${reason}`,
    shardId: "",
    sequenceNumber: `${row.end}${String(group).padStart(6, "0")}`,
    partitionKey: row.key.slice(0, 256),
    data: new TextEncoder().encode(JSON.stringify(cascadeEventOf(source, row))),
    arrivedAt: at,
    recordedAt: at,
    acceptedBy: [],
    origin: "state",
  };
}

/** Publishes what the ledger holds downstream (at least once); a failure is counted and thrown: the group (or session key) is taken up again. */
export async function publish(deps: UnitDependencies, results: readonly StoredResult[], report: UnitReport): Promise<void> {
  if (!deps.sink || results.length === 0) return;
  const plain: WindowResult[] = results.map(({ epoch: _epoch, ...r }) => r);
  try {
    await deps.sink.publish(plain);
  } catch (error) {
    // The mark is not moved: the next unit finds these versions above it and publishes them again.
    report.unpublished += plain.length;
    throw error;
  }
}

/** Clear (Flink's clearWindow): panes every window of which fired and no later event can reach expire after the tombstone retention. */
async function clearPanes(
  deps: UnitDependencies,
  unit: ClosingUnit,
  mark: GroupMark,
  panes: ReadonlyMap<number, GroupPane>,
  firedThrough: number,
  report: UnitReport,
): Promise<{ clearedThrough: number | undefined; cleared: number[] }> {
  const { pipeline, epoch } = unit;
  const safeWatermark = epoch.safe.get(pipeline.name);
  const starts = panesToClear(pipeline.window, pipeline.allowedLateness, panes, { safeWatermark, firedThrough });
  const ttl = Math.floor((now(deps) + deps.tombstoneRetentionMs) / 1000);
  const limit = pLimit(deps.concurrency);
  const cleared: number[] = [];
  let failed = false;
  await Promise.all(
    starts.map((paneStart) =>
      limit(async () => {
        const pane = panes.get(paneStart) as GroupPane;
        // A pane another unit rewrote meanwhile is left for the next unit to look at again.
        if (
          await clearGroupPane(
            deps.dynamodb,
            deps.stateTable,
            { pipeline: pipeline.name, group: mark.group, paneStart, epoch: pane.epoch },
            ttl,
          )
        )
          report.cleared++;
        else failed = true;
      }),
    ),
  );
  // Panes whose cleanup time is at or below this are cleared: later units need not read them again.
  if (failed || safeWatermark === undefined) return { clearedThrough: mark.clearedThrough, cleared };
  return { clearedThrough: Math.max(mark.clearedThrough ?? Number.NEGATIVE_INFINITY, Math.min(safeWatermark, firedThrough)), cleared };
}

/** The first pane start a unit must read to clear what is not cleared yet: panes whose last window's cleanup time is after `clearedThrough`. */
function clearFromOf(spec: WindowSpec, allowedLateness: number, clearedThrough: number | undefined): number {
  if (clearedThrough === undefined) return 0;
  const size = spec.type === "session" ? 0 : spec.size;
  return Math.max(0, clearedThrough - allowedLateness - size);
}
