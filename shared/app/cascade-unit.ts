// The closing of a cascade's key groups (a pipeline `from` another: core/pipelines/cascade.ts), one
// unit's range. A cascade reads no log: its source's closing units wrote each group's partials as they
// committed the source's rows, and its watermark is the one its source was closed at — every source
// window ending at or before it has fired, and given its partials, before that watermark was recorded.
// For each group whose mark is behind the epoch: read the partials of the windows the watermark passed
// since the mark, merge them into panes, fire those windows (closing-unit.ts: the ledger, a ranking's
// candidates, the partials of the pipelines reading this one, publishing), and move the mark. A group
// taken up again (a unit that stopped, a message delivered twice) reads the same partials and finds
// its versions in the ledger: nothing is given twice.
import pLimit from "p-limit";
import { readCascadePartials } from "../aws/dynamodb/cascade.ts";
import type { Epoch } from "../aws/dynamodb/epochs.ts";
import { type GroupMark, readGroupMarks, writeGroupMark } from "../aws/dynamodb/groups.ts";
import { parkKey, readParkedKeys, unparkKey } from "../aws/dynamodb/parked.ts";
import { cascadePanesOf, sameWindowOf } from "../core/pipelines/cascade.ts";
import type { Pipeline } from "../core/pipelines/schema.ts";
import { isWindowDue } from "../core/windows/fates.ts";
import { firedThroughAfter, keyWindowState, windowsToFire } from "../core/windows/key-group.ts";
import { type EvaluatedWindow, emptyUnitReport, fireEvaluated, type UnitDependencies, type UnitReport } from "./closing-unit.ts";

export interface CascadeUnit {
  pipeline: Pipeline;
  first: number;
  last: number;
  epoch: Epoch;
  /** the pipelines reading this one's rows */
  readers?: readonly Pipeline[];
}

const reasonOf = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));
const parkedName = (group: number) => `key group ${group}`;
const MAX_ATTEMPTS = 6;

/** Brings every group of the unit whose mark is behind to the unit's epoch; a group that fails is parked, the others go on. */
export async function runCascadeUnit(deps: UnitDependencies, unit: CascadeUnit): Promise<UnitReport> {
  const { pipeline, epoch } = unit;
  const report = emptyUnitReport(pipeline.name);
  const groups = Array.from({ length: unit.last - unit.first + 1 }, (_, i) => unit.first + i);
  const marks = await readGroupMarks(deps.dynamodb, deps.stateTable, pipeline.name, groups);
  const behind = [...marks.values()].filter((m) => m.epoch < epoch.epoch);
  if (behind.length === 0) return report;
  const parked = deps.deadLetterTable ? await readParkedKeys(deps.dynamodb, deps.deadLetterTable, pipeline.name) : new Map();
  const limit = pLimit(deps.concurrency);
  await Promise.all(
    behind.map((first) =>
      limit(async () => {
        try {
          let mark = first;
          for (let attempt = 1; ; attempt++) {
            const moved = await closeCascadeGroup(deps, unit, mark, report);
            if (moved === "done" || moved.epoch >= epoch.epoch) break;
            if (attempt >= MAX_ATTEMPTS) throw new Error(`the mark of group ${mark.group} kept moving under ${MAX_ATTEMPTS} attempts`);
            mark = moved;
          }
          report.groups++;
          if (deps.deadLetterTable && parked.has(parkedName(first.group)))
            await unparkKey(deps.dynamodb, deps.deadLetterTable, pipeline.name, parkedName(first.group));
        } catch (error) {
          report.parked.push({ group: first.group, reason: reasonOf(error) });
          if (deps.deadLetterTable)
            await parkKey(
              deps.dynamodb,
              deps.deadLetterTable,
              pipeline.name,
              parkedName(first.group),
              reasonOf(error),
              deps.now?.() ?? Date.now(),
            );
        }
      }),
    ),
  );
  return report;
}

/** One group: the windows its source's watermark passed since the mark fire; the mark moves. */
async function closeCascadeGroup(
  deps: UnitDependencies,
  unit: CascadeUnit,
  mark: GroupMark,
  report: UnitReport,
): Promise<"done" | GroupMark> {
  const { pipeline, epoch } = unit;
  const spec = pipeline.window;
  const watermark = epoch.watermarks.get(pipeline.name);
  let firedThrough = mark.firedThrough;
  if (watermark !== undefined && spec.type !== "session" && (firedThrough === undefined || watermark > firedThrough)) {
    const fired = firedThrough ?? Number.NEGATIVE_INFINITY;
    const same = pipeline.from?.sameWindow === true;
    // the buckets of the windows ending after the mark and at or before the watermark
    const from = firedThrough === undefined ? 0 : firedThrough + 1 - (same ? 0 : spec.size);
    const partials = await readCascadePartials(deps.dynamodb, deps.stateTable, pipeline.name, mark.group, { from, to: watermark });
    const panes = cascadePanesOf(partials);
    const evaluated: EvaluatedWindow[] = [];
    if (same) {
      // each bucket is a source window (by its end): it fires as that window, with the rows it gave
      for (const pane of [...panes.values()].sort((a, b) => a.paneStart - b.paneStart)) {
        if (pane.paneStart <= fired || !isWindowDue(pane.paneStart, watermark)) continue;
        const window = sameWindowOf(spec, pane.paneStart);
        for (const [key, layers] of [...pane.keys].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
          evaluated.push({ key, window, final: true, state: (layers[0] as { state: EvaluatedWindow["state"] }).state });
      }
    } else {
      const toFire = windowsToFire(spec, panes, { firedThrough, watermark, refire: new Map(), withOpen: false });
      for (const w of toFire) {
        const state = keyWindowState(w.key, w.window, panes);
        if (state !== undefined) evaluated.push({ ...w, state });
      }
    }
    await fireEvaluated(deps, unit, mark, evaluated, report);
    firedThrough = firedThroughAfter(firedThrough, watermark);
  }
  const next: GroupMark = {
    ...mark,
    epoch: epoch.epoch,
    ...(firedThrough === undefined ? {} : { firedThrough }),
    version: mark.version + 1,
  };
  if (await writeGroupMark(deps.dynamodb, deps.stateTable, pipeline.name, next, mark.version)) return "done";
  report.conflicts++;
  return (await readGroupMarks(deps.dynamodb, deps.stateTable, pipeline.name, [mark.group])).get(mark.group) ?? mark;
}
