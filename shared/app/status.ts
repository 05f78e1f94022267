// What `panes status` reports: per pipeline the watermark and its lag behind wall clock, per shard how
// far it is applied (last sequence number, max event time, idle or not: the checkpoint, and the
// shard log's newest entry, which may not be folded yet), dead-letter counts by kind, and input that was
// read but probably not meant so (records no filter took, event times that read like seconds).
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { str } from "../aws/dynamodb/attributes.ts";
import { readCheckpoints, readShardProgress, readWatermarks, sumNotices } from "../aws/dynamodb/checkpoints.ts";
import { type LogEntry, readLogHead, readLogShards } from "../aws/dynamodb/log.ts";
import { PARKED_PREFIX } from "../aws/dynamodb/parked.ts";
import { scanAll } from "../aws/dynamodb/requests.ts";
import { countLetters, type DeadLetterCounts, type PipelineLetterCounts, type ReasonCount, totalOf } from "../core/dead-letters.ts";
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
  /** invalid records (dead-lettered with the reason) */
  deadLettered: number;
  /** late letters: events too late for every window (dropped), and partlyLate of them for some windows only */
  late: number;
  partlyLate: number;
  /** invalid letters by what their reason says (the record's own value left out), most frequent first */
  reasons: ReasonCount[];
  /** events whose time, a number of milliseconds, reads like epoch seconds; with the newest such time */
  secondsLike: { count: number; sample?: number };
}

export interface DeploymentStatus {
  pipelines: PipelineStatus[];
  /** dead-lettered records that no pipeline could read (not JSON objects) */
  unreadable: number;
  /** what the unreadable records' reasons say, most frequent first */
  unreadableReasons: ReasonCount[];
  /** every dead letter, all pipelines and the unreadable records together (what the live screen shows) */
  deadLetters: DeadLetterCounts;
  /** records no pipeline's filter took (a misspelt field?), with the newest one's first characters */
  unmatched: { count: number; sample?: string };
}

/** Dead letters by pipeline ("*" for records no pipeline could read). An operator's tool: it scans the table, the attributes counting needs. */
export async function countDeadLetters(client: DynamoDBClient, deadLetterTable: string): Promise<Map<string, PipelineLetterCounts>> {
  const items = await scanAll(client, {
    TableName: deadLetterTable,
    ProjectionExpression: "pk, #kind, pipeline, reason, acceptedBy",
    ExpressionAttributeNames: { "#kind": "kind" },
  });
  return countLetters(
    items
      // keys whose closing is parked share the table, and are not letters (panes status lists them apart)
      .filter((item) => !(str(item, "pk") ?? "").startsWith(PARKED_PREFIX))
      .map((item) => ({
        kind: str(item, "kind") === "late" ? "late" : "invalid",
        pipeline: str(item, "pipeline") ?? "*",
        reason: str(item, "reason") ?? "",
        acceptedBy: item.acceptedBy?.L?.flatMap((v) => (v.S === undefined ? [] : [v.S])) ?? [],
      })),
  );
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
  const counts = tables.deadLetterTable ? await countDeadLetters(client, tables.deadLetterTable) : new Map<string, PipelineLetterCounts>();
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
      const count = counts.get(pipeline.name) ?? { invalid: 0, late: 0, partlyLate: 0, reasons: [] };
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
        partlyLate: count.partlyLate,
        reasons: count.reasons,
        secondsLike: notices.secondsLike?.[pipeline.name] ?? { count: 0 },
      };
    }),
  );
  return {
    pipelines: statuses,
    unreadable: counts.get("*")?.invalid ?? 0,
    unreadableReasons: counts.get("*")?.reasons ?? [],
    deadLetters: totalOf(counts.values()),
    unmatched: { count: notices.unmatched ?? 0, ...(notices.unmatchedSample === undefined ? {} : { sample: notices.unmatchedSample }) },
  };
}
