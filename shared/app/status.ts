// What `panes status` reports: per pipeline the watermark and its lag behind wall clock, per shard how
// far it is applied (last sequence number, max event time, idle or not: the checkpoint, and the
// shard log's newest entry, which may not be folded yet), dead-letter counts by kind, and input that was
// read but probably not meant so (records no filter took, event times that read like seconds).
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { str } from "../aws/dynamodb/attributes.ts";
import { readCheckpoints, readShardProgress, readWatermarks, sumNotices } from "../aws/dynamodb/checkpoints.ts";
import { type LogEntry, readLogHead, readLogShards } from "../aws/dynamodb/log.ts";
import { scanAll } from "../aws/dynamodb/requests.ts";
import { isIdle } from "../core/windows/watermark.ts";

export interface ShardStatus {
  shardId: string;
  sequenceNumber?: string;
  maxEventTime?: number;
  updatedAt: number;
  idle: boolean;
}

export interface PipelineStatus {
  pipeline: string;
  watermark?: number;
  /** wall clock minus watermark, ms (negative when event time runs ahead, as in the demo) */
  lagMs?: number;
  shards: ShardStatus[];
  deadLettered: number;
  late: number;
  /** events whose time, a number of milliseconds, reads like epoch seconds; with the newest such time */
  secondsLike: { count: number; sample?: number };
}

export interface DeploymentStatus {
  pipelines: PipelineStatus[];
  /** dead-lettered records that no pipeline could read (not JSON objects) */
  unreadable: number;
  /** records no pipeline's filter took (a misspelt field?), with the newest one's first characters */
  unmatched: { count: number; sample?: string };
}

export interface DeadLetterCount {
  invalid: number;
  late: number;
}

/** Dead letters by pipeline ("*" for records no pipeline could read). An operator's tool: it scans the table, two attributes per item. */
export async function countDeadLetters(client: DynamoDBClient, deadLetterTable: string): Promise<Map<string, DeadLetterCount>> {
  const counts = new Map<string, DeadLetterCount>();
  const items = await scanAll(client, {
    TableName: deadLetterTable,
    ProjectionExpression: "#kind, pipeline",
    ExpressionAttributeNames: { "#kind": "kind" },
  });
  for (const item of items) {
    const pipeline = str(item, "pipeline") ?? "*";
    const count = counts.get(pipeline) ?? { invalid: 0, late: 0 };
    if (str(item, "kind") === "late") count.late++;
    else count.invalid++;
    counts.set(pipeline, count);
  }
  return counts;
}

export async function readStatus(
  client: DynamoDBClient,
  tables: { stateTable: string; deadLetterTable?: string },
  pipelines: readonly { name: string; idleTimeout: number }[],
  now: number,
): Promise<DeploymentStatus> {
  const watermarks = await readWatermarks(
    client,
    tables.stateTable,
    pipelines.map((p) => p.name),
  );
  const counts = tables.deadLetterTable ? await countDeadLetters(client, tables.deadLetterTable) : new Map<string, DeadLetterCount>();
  const heads = new Map<string, LogEntry>();
  const shardIds = await readLogShards(client, tables.stateTable);
  for (const shardId of shardIds) {
    const head = await readLogHead(client, tables.stateTable, shardId);
    if (head !== undefined) heads.set(shardId, head);
  }
  // Input notices are counted on each shard's progress as the watermark function moves over its entries.
  const notices = sumNotices([...(await readShardProgress(client, tables.stateTable, shardIds)).values()]) ?? {};
  const statuses = await Promise.all(
    pipelines.map(async (pipeline): Promise<PipelineStatus> => {
      const checkpoints = (await readCheckpoints(client, tables.stateTable, pipeline.name)).map((c) => {
        // The newest log entry, when it carries this pipeline's events, is further along than the checkpoint.
        const head = heads.get(c.shardId);
        const headMax = head?.kind === "batch" ? head.maxEventTimes[pipeline.name] : undefined;
        if (head?.last === undefined || headMax === undefined) return c;
        return {
          ...c,
          sequenceNumber: (head.last >> 32n).toString(),
          maxEventTime: Math.max(headMax, c.maxEventTime ?? headMax),
          updatedAt: Math.max(head.at, c.updatedAt),
        };
      });
      const watermark = watermarks.get(pipeline.name);
      const count = counts.get(pipeline.name) ?? { invalid: 0, late: 0 };
      return {
        pipeline: pipeline.name,
        watermark,
        lagMs: watermark === undefined ? undefined : now - watermark,
        shards: checkpoints
          .map((c) => ({
            shardId: c.shardId,
            sequenceNumber: c.sequenceNumber,
            maxEventTime: c.maxEventTime,
            updatedAt: c.updatedAt,
            idle: isIdle(c, pipeline.idleTimeout, now),
          }))
          .sort((a, b) => a.shardId.localeCompare(b.shardId)),
        deadLettered: count.invalid,
        late: count.late,
        secondsLike: notices.secondsLike?.[pipeline.name] ?? { count: 0 },
      };
    }),
  );
  return {
    pipelines: statuses,
    unreadable: counts.get("*")?.invalid ?? 0,
    unmatched: { count: notices.unmatched ?? 0, ...(notices.unmatchedSample === undefined ? {} : { sample: notices.unmatchedSample }) },
  };
}
