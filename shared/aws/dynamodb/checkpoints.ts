// Per (pipeline, shard) checkpoints, per-shard progress and the per-pipeline watermark, kept in the
// state table. The closing logic writes a checkpoint once it has folded a shard's log entries into
// pane state; the watermark is derived from checkpoints and never goes backwards.
import { type AttributeValue, type DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { earliestReset, historySampleMs, type WatermarkHistory, withSample } from "../../core/windows/watermark.ts";
import { retryOnConflict } from "../retry.ts";
import { type Item, N, num, S, str } from "./attributes.ts";
import { checkpointItemKey, padSequence, shardProgressItemKey, watermarkItemKey } from "./keys.ts";
import type { EntryNotices } from "./log.ts";
import { batchGetAll, putItem, queryAll, updateItem } from "./requests.ts";

export interface Checkpoint {
  pipeline: string;
  shardId: string;
  /** last sequence number whose records are all applied; absent for a shard seen but not yet read */
  sequenceNumber?: string;
  /** greatest event time applied from this shard */
  maxEventTime?: number;
  /** wall-clock ms of the last applied record of this pipeline, or when the shard was first seen */
  updatedAt: number;
}

function decodeCheckpoint(item: Item): Checkpoint {
  const seq = str(item, "seq");
  return {
    pipeline: (str(item, "pk") ?? "").slice(2),
    shardId: str(item, "sk") ?? "",
    sequenceNumber: seq === undefined ? undefined : BigInt(seq).toString(),
    maxEventTime: num(item, "maxTs"),
    updatedAt: num(item, "updatedAt") ?? 0,
  };
}

/** Records progress; a stale or repeated checkpoint (lower sequence number) changes nothing. */
export async function writeCheckpoint(client: DynamoDBClient, tableName: string, checkpoint: Required<Checkpoint>): Promise<void> {
  const key = checkpointItemKey(checkpoint.pipeline, checkpoint.shardId);
  let maxEventTime = checkpoint.maxEventTime;
  const outcome = await retryOnConflict(5, async () => {
    const written = await updateItem(client, tableName, key, {
      expression: "SET seq = :seq, maxTs = :maxTs, updatedAt = :now",
      condition: "(attribute_not_exists(seq) OR seq < :seq) AND (attribute_not_exists(maxTs) OR maxTs <= :maxTs)",
      values: { ":seq": S(padSequence(checkpoint.sequenceNumber)), ":maxTs": N(maxEventTime), ":now": N(checkpoint.updatedAt) },
    });
    if (written) return { done: true };
    // A later checkpoint is there already (a redelivery), or a higher max event time: keep that one.
    const { Item } = await client.send(
      new GetItemCommand({ TableName: tableName, Key: { pk: S(key.pk), sk: S(key.sk) }, ConsistentRead: true }),
    );
    const stored = Item ? decodeCheckpoint(Item) : undefined;
    if (stored?.sequenceNumber !== undefined && BigInt(stored.sequenceNumber) >= BigInt(checkpoint.sequenceNumber)) return { done: true };
    maxEventTime = Math.max(maxEventTime, stored?.maxEventTime ?? maxEventTime);
    return "conflict";
  });
  if (outcome === undefined) throw new Error(`checkpoint ${key.pk}/${key.sk} kept changing`);
}

/** Registers a shard the closing logic has seen but no batch has reached yet: it holds the watermark until idle. */
export async function registerShard(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
  shardId: string,
  now: number,
): Promise<void> {
  const key = checkpointItemKey(pipeline, shardId);
  await putItem(client, tableName, { pk: S(key.pk), sk: S(key.sk), updatedAt: N(now) }, { condition: "attribute_not_exists(pk)" });
}

export async function readCheckpoints(client: DynamoDBClient, tableName: string, pipeline: string): Promise<Checkpoint[]> {
  const items = await queryAll(client, {
    TableName: tableName,
    KeyConditionExpression: "pk = :pk",
    ExpressionAttributeValues: { ":pk": S(checkpointItemKey(pipeline, "").pk) },
    ConsistentRead: true,
  });
  return items.map(decodeCheckpoint);
}

/** Watermarks of several pipelines; a pipeline with none yet is absent from the map. */
export async function readWatermarks(
  client: DynamoDBClient,
  tableName: string,
  pipelines: readonly string[],
): Promise<Map<string, number>> {
  const watermarks = new Map<string, number>();
  for (const [pipeline, marks] of await readPipelineMarks(client, tableName, pipelines))
    if (marks.watermark !== undefined) watermarks.set(pipeline, marks.watermark);
  return watermarks;
}

/** A pipeline's watermark, its operator resets, and how far its key groups were last closed. */
export interface PipelineMarks {
  watermark?: number;
  /** how many times an operator set the watermark back (0: never), and to what, the last time */
  resetGeneration?: number;
  resetTo?: number;
  /** the last epoch every key group of the pipeline was brought to, when (wall clock), and its watermark */
  closedEpoch?: number;
  closedAt?: number;
  closedWatermark?: number;
  /** the last epoch closing units were sent for, when (wall clock), and its watermark */
  dispatchedEpoch?: number;
  dispatchedAt?: number;
  dispatchedWatermark?: number;
  /** the watermark's history (core/windows/watermark.ts), and the tombstone retention it was kept for */
  history?: WatermarkHistory;
  historyRetentionMs?: number;
}

function decodeHistory(item: Item): WatermarkHistory | undefined {
  const samples = str(item, "hs");
  return samples === undefined
    ? undefined
    : { samples: JSON.parse(samples) as [number, number][], ...(num(item, "hd") === undefined ? {} : { dropped: num(item, "hd") }) };
}

export async function readPipelineMarks(
  client: DynamoDBClient,
  tableName: string,
  pipelines: readonly string[],
): Promise<Map<string, PipelineMarks>> {
  const marks = new Map<string, PipelineMarks>();
  for (const item of await batchGetAll(client, tableName, pipelines.map(watermarkItemKey))) {
    const fields: [Exclude<keyof PipelineMarks, "history">, string][] = [
      ["watermark", "wm"],
      ["resetGeneration", "rg"],
      ["resetTo", "rt"],
      ["closedEpoch", "ce"],
      ["closedAt", "ca"],
      ["closedWatermark", "cw"],
      ["dispatchedEpoch", "de"],
      ["dispatchedAt", "da"],
      ["dispatchedWatermark", "dw"],
      ["historyRetentionMs", "tr"],
    ];
    const found: PipelineMarks = {};
    for (const [field, name] of fields) {
      const value = num(item, name);
      if (value !== undefined) found[field] = value;
    }
    const history = decodeHistory(item);
    if (history !== undefined) found.history = history;
    marks.set((str(item, "pk") ?? "").slice(2), found);
  }
  return marks;
}

/** Records that closing units were sent for a pipeline at `epoch` (never goes back). */
export function noteDispatched(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
  dispatched: { epoch: number; at: number; watermark: number | undefined },
): Promise<boolean> {
  return updateItem(client, tableName, watermarkItemKey(pipeline), {
    expression: `SET de = :e, da = :at${dispatched.watermark === undefined ? "" : ", dw = :w"}`,
    condition: "attribute_not_exists(de) OR de < :e",
    values: {
      ":e": N(dispatched.epoch),
      ":at": N(dispatched.at),
      ...(dispatched.watermark === undefined ? {} : { ":w": N(dispatched.watermark) }),
    },
  });
}

/** Records that every key group of a pipeline reached `epoch` (never goes back). */
export function noteClosed(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
  closed: { epoch: number; at: number; watermark: number | undefined },
): Promise<boolean> {
  return updateItem(client, tableName, watermarkItemKey(pipeline), {
    expression: `SET ce = :e, ca = :at${closed.watermark === undefined ? "" : ", cw = :w"}`,
    condition: "attribute_not_exists(ce) OR ce < :e",
    values: { ":e": N(closed.epoch), ":at": N(closed.at), ...(closed.watermark === undefined ? {} : { ":w": N(closed.watermark) }) },
  });
}

/** Writes `history` if the stored one is still the one it was made from (its last sample at `lastAt`). */
function writeHistory(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
  history: WatermarkHistory,
  lastAt: number | undefined,
  retentionMs: number,
  also: { expression: string; values: Record<string, ReturnType<typeof N>> } = { expression: "", values: {} },
): Promise<boolean> {
  const last = history.samples[history.samples.length - 1];
  return updateItem(client, tableName, watermarkItemKey(pipeline), {
    expression: `SET hs = :hs, ha = :ha, tr = :tr${history.dropped === undefined ? "" : ", hd = :hd"}${also.expression}`,
    condition: lastAt === undefined ? "attribute_not_exists(ha)" : "ha = :prev",
    values: {
      ":hs": S(JSON.stringify(history.samples)),
      ...(history.dropped === undefined ? {} : { ":hd": N(history.dropped) }),
      ":ha": N(last?.[1] ?? 0),
      ":tr": N(retentionMs),
      ...(lastAt === undefined ? {} : { ":prev": N(lastAt) }),
      ...also.values,
    },
  });
}

/**
 * The coordinator's sample of a pipeline's watermark, at most one per sampling interval (an hour for
 * the default retention): a history that starts after the pipeline already closed windows is trimmed
 * from the start (what came before is unknown). A lost race with another run changes nothing.
 */
export async function noteWatermarkSample(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
  marks: PipelineMarks,
  sample: { watermark: number; at: number; tombstoneRetentionMs: number },
): Promise<void> {
  const last = marks.history?.samples[marks.history.samples.length - 1];
  if (last !== undefined && sample.at - last[1] < historySampleMs(sample.tombstoneRetentionMs)) return;
  const history = withSample(
    marks.history ?? (marks.closedEpoch === undefined ? { samples: [] } : { samples: [], dropped: sample.watermark }),
    sample.watermark,
    sample.at,
    sample.tombstoneRetentionMs,
  );
  await writeHistory(client, tableName, pipeline, history, last?.[1], sample.tombstoneRetentionMs);
}

/** What a reset to `to` would reach: the earliest allowed target (−∞: any), from the stored history. */
export function resetFloorOf(marks: PipelineMarks, now: number): { earliest: number; retentionMs?: number } {
  if (marks.history === undefined || marks.historyRetentionMs === undefined) {
    // No history: no closing run has sampled the watermark yet, so nothing was cleared either.
    return { earliest: marks.closedEpoch === undefined ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY };
  }
  return { earliest: earliestReset(marks.history, marks.watermark, marks.historyRetentionMs, now), retentionMs: marks.historyRetentionMs };
}

/** Moves a watermark forward; returns the stored watermark after the call (never lower than before). */
export async function advanceWatermark(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
  to: number,
  now: number,
): Promise<number> {
  const advanced = await updateItem(client, tableName, watermarkItemKey(pipeline), {
    expression: "SET wm = :wm, updatedAt = :now",
    condition: "attribute_not_exists(wm) OR wm < :wm",
    values: { ":wm": N(to), ":now": N(now) },
  });
  if (advanced) return to;
  const stored = await readWatermarks(client, tableName, [pipeline]);
  return stored.get(pipeline) ?? to;
}

export interface ShardProgressRecord {
  shardId: string;
  /** last sequence number of the shard fully applied, for every pipeline */
  sequenceNumber?: string;
  /** the shard log's last entry folded into pane state (0: none yet) */
  ordinal: number;
  /**
   * The last record position that entry covers: the whole Kinesis record, or — an entry that ends
   * inside a KPL-aggregated record — its user records up to there (absent before positions were kept).
   */
  position?: bigint;
  /** the shard is closed and was read to its end */
  finished: boolean;
  /** the input notices of every entry the progress moved over, summed (absent: none) */
  notices?: EntryNotices;
}

/**
 * The last record position a shard's progress covers: exact when kept; else (older items) every user
 * record of its last Kinesis record.
 */
export function lastPositionOf(progress: Pick<ShardProgressRecord, "sequenceNumber" | "position"> | undefined): bigint | undefined {
  if (progress?.position !== undefined) return progress.position;
  return progress?.sequenceNumber === undefined ? undefined : (BigInt(progress.sequenceNumber) << 32n) + 0xffffffffn;
}

/** The notices of entries, summed; undefined when they hold none. Samples: the newest entry's. */
export function sumNotices(entries: readonly { notices?: EntryNotices }[]): EntryNotices | undefined {
  let sum: EntryNotices | undefined;
  for (const { notices } of entries) {
    if (notices === undefined) continue;
    sum ??= {};
    if (notices.unmatched) {
      sum.unmatched = (sum.unmatched ?? 0) + notices.unmatched;
      if (notices.unmatchedSample !== undefined) sum.unmatchedSample = notices.unmatchedSample;
    }
    for (const [pipeline, { count, sample }] of Object.entries(notices.secondsLike ?? {})) {
      sum.secondsLike ??= {};
      sum.secondsLike[pipeline] = { count: (sum.secondsLike[pipeline]?.count ?? 0) + count, sample };
    }
  }
  return sum;
}

/**
 * Records how far a shard's log has been folded (after the pipelines' checkpoints): its last entry and
 * the last sequence number that entry covers. Never goes back.
 */
export async function writeShardProgress(
  client: DynamoDBClient,
  tableName: string,
  shardId: string,
  progress: { ordinal: number; sequenceNumber?: string; position?: bigint },
  now: number,
  /**
   * The notices of the entries after `after` (the ordinal the progress stood at when they were read),
   * added exactly once: the write then applies only if the progress still stands at `after`.
   */
  counted?: { after: number; notices: EntryNotices },
): Promise<boolean> {
  const seq = `${progress.sequenceNumber === undefined ? "" : ", seq = :seq"}${progress.position === undefined ? "" : ", pos = :pos"}`;
  const sets = [`ord = :ord, updatedAt = :now${seq}`];
  const adds: string[] = [];
  const names: Record<string, string> = {};
  const values: Record<string, AttributeValue> = {
    ":ord": N(progress.ordinal),
    ":now": N(now),
    ...(progress.sequenceNumber === undefined ? {} : { ":seq": S(padSequence(progress.sequenceNumber)) }),
    ...(progress.position === undefined ? {} : { ":pos": S(progress.position.toString()) }),
  };
  const notices = counted?.notices;
  if (notices?.unmatched) {
    adds.push("um :um");
    values[":um"] = N(notices.unmatched);
    if (notices.unmatchedSample !== undefined) {
      sets.push("ums = :ums");
      values[":ums"] = S(notices.unmatchedSample);
    }
  }
  for (const [i, [pipeline, { count, sample }]] of Object.entries(notices?.secondsLike ?? {}).entries()) {
    adds.push(`#sl${i} :sl${i}`);
    sets.push(`#ss${i} = :ss${i}`);
    names[`#sl${i}`] = `sl#${pipeline}`;
    names[`#ss${i}`] = `ss#${pipeline}`;
    values[`:sl${i}`] = N(count);
    values[`:ss${i}`] = N(sample);
  }
  if (counted !== undefined) values[":after"] = N(counted.after);
  return updateItem(client, tableName, shardProgressItemKey(shardId), {
    expression: `SET ${sets.join(", ")}${adds.length > 0 ? ` ADD ${adds.join(", ")}` : ""}`,
    condition:
      counted === undefined
        ? "attribute_not_exists(ord) OR ord < :ord"
        : counted.after === 0
          ? "attribute_not_exists(ord) OR ord = :after"
          : "ord = :after",
    ...(Object.keys(names).length > 0 ? { names } : {}),
    values,
  });
}

const noticesField = (item: Item) => {
  const notices = noticesOfProgress(item);
  return notices === undefined ? {} : { notices };
};

/** The input notices a shard's progress item has summed. */
function noticesOfProgress(item: Item): EntryNotices | undefined {
  const notices: EntryNotices = {};
  const unmatched = num(item, "um");
  if (unmatched) {
    notices.unmatched = unmatched;
    const sample = str(item, "ums");
    if (sample !== undefined) notices.unmatchedSample = sample;
  }
  for (const [name, value] of Object.entries(item)) {
    if (!name.startsWith("sl#") || value.N === undefined) continue;
    const pipeline = name.slice(3);
    notices.secondsLike ??= {};
    notices.secondsLike[pipeline] = { count: Number(value.N), sample: num(item, `ss#${pipeline}`) ?? 0 };
  }
  return Object.keys(notices).length > 0 ? notices : undefined;
}

/** Marks a closed shard as read to its end: the watermark stops waiting for it. */
export async function markShardFinished(client: DynamoDBClient, tableName: string, shardId: string): Promise<void> {
  await updateItem(client, tableName, shardProgressItemKey(shardId), {
    expression: "SET finished = :true",
    values: { ":true": { BOOL: true } },
  });
}

export async function readShardProgress(
  client: DynamoDBClient,
  tableName: string,
  shardIds: readonly string[],
): Promise<Map<string, ShardProgressRecord>> {
  const items = await batchGetAll(client, tableName, shardIds.map(shardProgressItemKey));
  return new Map(
    items.map((item) => {
      const shardId = (str(item, "pk") ?? "").slice(2);
      const seq = str(item, "seq");
      return [
        shardId,
        {
          shardId,
          sequenceNumber: seq === undefined ? undefined : BigInt(seq).toString(),
          ordinal: num(item, "ord") ?? 0,
          ...(str(item, "pos") === undefined ? {} : { position: BigInt(str(item, "pos") as string) }),
          finished: item.finished?.BOOL === true,
          ...noticesField(item),
        },
      ];
    }),
  );
}

/**
 * An operator's repair after something moved a pipeline's watermark too far (a far-future event before
 * maxFutureSkew refused it): sets the watermark to `to` — backwards, unlike every other write — with a
 * new reset generation (notices carry it: ingest takes a lower watermark only from a newer generation;
 * closing units move each key group's fired mark back to `to`, so windows after it fire again as the
 * watermark passes them), and clamps each shard checkpoint's max event time to `to`, so the next
 * closing run does not move it straight back. Returns how many checkpoints were clamped.
 */
export async function resetWatermark(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
  to: number,
  now: number,
): Promise<number> {
  // The watermark it replaces goes into the history first: between two samples the watermark only moves forward.
  const reset = {
    expression: ", wm = :wm, rt = :wm, updatedAt = :now ADD rg :one",
    values: { ":wm": N(to), ":now": N(now), ":one": N(1) },
  };
  for (let attempt = 1; ; attempt++) {
    const marks = (await readPipelineMarks(client, tableName, [pipeline])).get(pipeline) ?? {};
    const retention = marks.historyRetentionMs;
    if (marks.watermark === undefined || marks.history === undefined || retention === undefined) {
      await updateItem(client, tableName, watermarkItemKey(pipeline), {
        expression: reset.expression.replace(/^, /, "SET "),
        values: reset.values,
      });
      break;
    }
    const last = marks.history.samples[marks.history.samples.length - 1];
    const history = withSample(marks.history, marks.watermark, Math.max(now, (last?.[1] ?? 0) + 1), retention);
    if (await writeHistory(client, tableName, pipeline, history, last?.[1], retention, reset)) break;
    if (attempt >= 5) throw new Error(`the watermark of ${pipeline} kept changing under 5 attempts to reset it`);
  }
  let clamped = 0;
  for (const checkpoint of await readCheckpoints(client, tableName, pipeline)) {
    if (checkpoint.maxEventTime === undefined || checkpoint.maxEventTime <= to) continue;
    await updateItem(client, tableName, checkpointItemKey(pipeline, checkpoint.shardId), {
      expression: "SET maxTs = :to",
      values: { ":to": N(to) },
    });
    clamped++;
  }
  return clamped;
}
