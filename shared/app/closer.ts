// What the closer does with one unit message: the coordinator (closing.ts) sends each due pipeline's
// key groups, split into ranges, as messages naming (pipeline, range, epoch); a closer brings the range
// to the epoch (closing-unit.ts; session-unit.ts for sessions) and records that its unit finished. When every unit of the dispatch
// has, the pipeline is closed at that epoch. A message delivered twice, or a unit that a later epoch's
// unit overtook, changes nothing: the groups' marks, panes and results are each written under a
// condition, and the finished units are a set. The same path runs units in the coordinator's process.
import { noteClosed, type PipelineMarks } from "../aws/dynamodb/checkpoints.ts";
import { type Epoch, noteUnitFinished, readEpochs } from "../aws/dynamodb/epochs.ts";
import { decodePortions, encodePortions, type LogEntry } from "../aws/dynamodb/log.ts";
import { keyGroupOf, keyGroupRanges } from "../core/keygroups.ts";
import type { Pipeline } from "../core/pipelines/schema.ts";
import type { GroupPortion } from "../core/windows/key-group.ts";
import { runCascadeUnit } from "./cascade-unit.ts";
import { runClosingUnit, type UnitDependencies, type UnitReport } from "./closing-unit.ts";
import { rankWindows } from "./rank.ts";
import { runSessionUnit } from "./session-unit.ts";

/** One closing unit, as the coordinator sends it. */
export interface UnitMessage {
  pipeline: string;
  epoch: number;
  /** this unit's index among the `units` of the dispatch */
  unit: number;
  units: number;
  /** the key groups of the unit: Flink's range for operator index `unit` of `units` */
  first: number;
  last: number;
  /** the operator's latest watermark reset when the epoch was taken (a later one is the next epoch's) */
  reset?: { generation: number; to: number };
  /**
   * The unit's portions of the log entries the coordinator read, per shard after `after` up to the
   * epoch's cut (encodePortions): each unit would otherwise read every new entry whole for its groups'
   * part. Left out when they would make the message too large; a unit whose groups lag reads the log.
   */
  shipped?: { after: [string, number][]; portions: string };
}

export interface CloserDependencies extends UnitDependencies {
  pipelines: readonly Pipeline[];
  /** how long the record of finished units is kept (TTL), seconds; undefined keeps it */
  logRetentionSeconds?: number;
}

/** A message no closer can act on (a range that is not a unit's, an epoch that is gone): it is not retried into success. */
export class UnitMessageError extends Error {
  override name = "UnitMessageError";
}

/** What a closing-unit message may carry of the log (SQS takes 256 KB; each 64 KB is billed as one request). */
export const MAX_SHIPPED_CHARS = 192 * 1024;

/**
 * Each unit's portions of the entries the coordinator read, per shard after `after` (the entries must
 * run without a gap from there to the epoch's cut), encoded; undefined for a unit whose portions would
 * not fit in a message.
 */
export function shippedPortions(
  pipeline: Pipeline,
  messages: readonly UnitMessage[],
  after: ReadonlyMap<string, number>,
  entries: readonly { shardId: string; entry: Pick<LogEntry, "ordinal" | "panes"> }[],
): (UnitMessage["shipped"] | undefined)[] {
  const unitOf = new Map<number, number>();
  for (const [i, m] of messages.entries()) for (let g = m.first; g <= m.last; g++) unitOf.set(g, i);
  const portions: GroupPortion[][] = messages.map(() => []);
  for (const { shardId, entry } of entries)
    for (const pane of entry.panes) {
      if (pane.pipeline !== pipeline.name) continue;
      const unit = unitOf.get(keyGroupOf(pane.key, pipeline.keyGroups));
      if (unit === undefined) continue;
      portions[unit]?.push({ shardId, ordinal: entry.ordinal, key: pane.key, paneStart: pane.paneStart, layers: pane.layers });
    }
  return portions.map((mine) => {
    const encoded = encodePortions(mine);
    return encoded.length > MAX_SHIPPED_CHARS ? undefined : { after: [...after], portions: encoded };
  });
}

function decodeShipped(portions: string) {
  try {
    return decodePortions(portions);
  } catch (error) {
    throw new UnitMessageError(`the shipped portions cannot be decoded: ${(error as Error).message}`);
  }
}

/** The messages for a pipeline's key groups split into `units` ranges at `epoch`, with the reset the marks hold. */
export function unitMessages(pipeline: Pipeline, epoch: number, units: number, marks: PipelineMarks): UnitMessage[] {
  const n = Math.min(pipeline.keyGroups, Math.max(1, units));
  const reset =
    marks.resetGeneration !== undefined && marks.resetTo !== undefined
      ? { generation: marks.resetGeneration, to: marks.resetTo }
      : undefined;
  return keyGroupRanges(pipeline.keyGroups, n).map((range, unit) => ({
    pipeline: pipeline.name,
    epoch,
    unit,
    units: n,
    first: range.first,
    last: range.last,
    ...(reset ? { reset } : {}),
  }));
}

/**
 * Runs one unit message. `known` is the epoch when the coordinator runs the unit in its own process; a
 * closer reads it. Returns undefined for a pipeline that is no longer deployed (nothing to close).
 */
export async function closeUnitMessage(deps: CloserDependencies, message: UnitMessage, known?: Epoch): Promise<UnitReport | undefined> {
  const pipeline = deps.pipelines.find((p) => p.name === message.pipeline);
  if (pipeline === undefined) return undefined;
  const range = keyGroupRanges(pipeline.keyGroups, Math.min(pipeline.keyGroups, message.units))[message.unit];
  if (message.units > pipeline.keyGroups || range?.first !== message.first || range.last !== message.last)
    throw new UnitMessageError(
      `key groups ${message.first}–${message.last} are not unit ${message.unit} of ${message.units} of pipeline ${pipeline.name} (${pipeline.keyGroups} key groups)`,
    );
  const epoch = known ?? (await readEpochs(deps.dynamodb, deps.stateTable, [message.epoch])).get(message.epoch);
  if (epoch === undefined) throw new UnitMessageError(`epoch ${message.epoch} is not stored (older than the log retention?)`);
  const { first, last, reset, shipped } = message;
  // the pipelines reading this one's rows (cascades) take partials from the windows it fires
  const readers = deps.pipelines.filter((p) => p.from?.pipeline === pipeline.name);
  const report =
    pipeline.window.type === "session"
      ? await runSessionUnit(deps, { pipeline, first, last, epoch })
      : pipeline.from !== undefined
        ? await runCascadeUnit(deps, { pipeline, first, last, epoch, readers })
        : await runClosingUnit(deps, {
            pipeline,
            first,
            last,
            epoch,
            readers,
            ...(reset ? { reset } : {}),
            ...(shipped ? { shipped: { after: new Map(shipped.after), portions: decodeShipped(shipped.portions) } } : {}),
          });
  // A unit with parked groups has not finished: the coordinator sends the range again later.
  if (report.parked.length > 0) return report;
  const now = deps.now?.() ?? Date.now();
  const { all, ends } = await noteUnitFinished(
    deps.dynamodb,
    deps.stateTable,
    { pipeline: pipeline.name, epoch: message.epoch, unit: message.unit, units: message.units, at: now, ends: [...report.rankEnds] },
    deps.logRetentionSeconds,
  );
  // every key group is closed at this epoch: the windows whose candidates changed are ranked again
  if (all && pipeline.rank !== undefined) await rankWindows(deps, pipeline, message.epoch, ends, report);
  if (all)
    await noteClosed(deps.dynamodb, deps.stateTable, pipeline.name, {
      epoch: message.epoch,
      at: now,
      watermark: epoch.watermarks.get(pipeline.name),
    });
  return report;
}
