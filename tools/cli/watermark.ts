// `panes watermark`: shows a pipeline's watermark and shard checkpoints, and — with --reset-to T and
// --yes — sets it back (an operator's repair; see resetWatermark for what it does and does not undo).
import { announceWatermarksEverywhere } from "../../shared/app/shard-logs.ts";
import { readCheckpoints, readPipelineMarks, readWatermarks, resetFloorOf, resetWatermark } from "../../shared/aws/dynamodb/checkpoints.ts";
import { formatDuration } from "../../shared/core/windows/duration.ts";
import { counted } from "../local/plural.ts";
import { CliError, checkPipelineName, connect, required, resolveTarget, runCommand, type TargetFlags } from "./connection.ts";

const iso = (ms: number | undefined) => (ms === undefined ? "—" : new Date(ms).toISOString());

export function runWatermark(options: TargetFlags & { pipeline: string; resetTo?: number; yes?: boolean }) {
  return runCommand(async () => {
    const connection = await connect(options);
    const target = await resolveTarget(connection, options);
    checkPipelineName(options.pipeline, target);
    const stateTable = required(target.stateTable, "the state table (--state-table)");
    const out = (line: string) => process.stdout.write(`${line}\n`);
    const show = async () => {
      const watermark = (await readWatermarks(connection.dynamodb, stateTable, [options.pipeline])).get(options.pipeline);
      out(`${options.pipeline}: watermark ${iso(watermark)} (${connection.describe})`);
      for (const c of await readCheckpoints(connection.dynamodb, stateTable, options.pipeline))
        out(`  ${c.shardId}: max event time ${iso(c.maxEventTime)}, last applied ${c.sequenceNumber ?? "—"}`);
    };
    await show();
    if (options.resetTo === undefined) return;
    // Windows whose panes may have expired (retention.tombstones after the watermark passed them) would
    // keep the results they had: a reset never reaches them.
    const marks = (await readPipelineMarks(connection.dynamodb, stateTable, [options.pipeline])).get(options.pipeline) ?? {};
    const floor = resetFloorOf(marks, Date.now());
    if (options.resetTo < floor.earliest)
      throw new CliError(
        floor.earliest === Number.POSITIVE_INFINITY
          ? `refused: ${options.pipeline} has no watermark history (its windows closed before this version kept one), so which panes expired is unknown; the history starts at the next closing run, and a reset reaches back only as far as it goes`
          : `refused: the watermark passed ${iso(options.resetTo)} more than retention.tombstones (${formatDuration(floor.retentionMs ?? 0)}) ago, so some of the panes of the windows after it may have expired; the earliest reset now is --reset-to ${iso(floor.earliest)}`,
        2,
      );
    if (!options.yes)
      throw new CliError(
        `this would set the watermark of ${options.pipeline} back to ${iso(options.resetTo)} and clamp its shards' max event times to it; windows already fired stay fired. Add --yes to do it.`,
        2,
      );
    const clamped = await resetWatermark(connection.dynamodb, stateTable, options.pipeline, options.resetTo, Date.now());
    // Ingest functions plan at the watermarks their shard's log announces: announce this one.
    const generation =
      (await readPipelineMarks(connection.dynamodb, stateTable, [options.pipeline])).get(options.pipeline)?.resetGeneration ?? 0;
    await announceWatermarksEverywhere(
      { dynamodb: connection.dynamodb, stateTable, pipelines: [], concurrency: 8 },
      new Map([[options.pipeline, options.resetTo]]),
      new Map([[options.pipeline, generation]]),
      Date.now(),
    );
    out(`reset: watermark set to ${iso(options.resetTo)}; ${counted(clamped, "shard checkpoint")} clamped`);
    await show();
  });
}
