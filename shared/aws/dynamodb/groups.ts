// A fixed-window pipeline's key groups in the state table: each group's panes (every key of the group
// with events in the pane, in one item) and its mark (the epoch it was folded to, how far its windows
// are fired), in one partition. Writes are conditional on what was read: a pane on the epoch it had, a
// mark on its version. What to write is decided in core/windows/key-group.ts and the closing unit.
import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { PaneLayer } from "../../core/ingest/deltas.ts";
import type { GroupPane } from "../../core/windows/key-group.ts";
import { type Item, N, num, S, str } from "./attributes.ts";
import { type LayerRow, layerRow, Names, rowLayer } from "./compact.ts";
import { groupMarkItemKey, groupPaneItemKey, groupPartition, padTime } from "./keys.ts";
import { batchGetAll, putItem, queryAll, updateItem } from "./requests.ts";

/** A key group's mark: how far the group is folded (an epoch) and fired. */
export interface GroupMark {
  group: number;
  /** the epoch the group's panes are folded to (0: none yet) */
  epoch: number;
  /** windows ending at or before this have fired (undefined: none yet) */
  firedThrough?: number;
  /** panes whose last window's cleanup time is at or before this are cleared (undefined: none yet) */
  clearedThrough?: number;
  /** an operator's watermark reset this group has taken (0: none) */
  resetGeneration: number;
  /** bumped at every write; writes are conditional on it (0: never written) */
  version: number;
}

const emptyMark = (group: number): GroupMark => ({ group, epoch: 0, resetGeneration: 0, version: 0 });

interface PaneBody {
  /** keys, then each key's layers (rows relative to the pane's start), field names once */
  k: string[];
  f: string[];
  l: LayerRow[][];
}

export function groupPaneItemOf(pipeline: string, group: number, pane: GroupPane, ttlSeconds?: number): Item {
  const { pk, sk } = groupPaneItemKey(pipeline, group, pane.paneStart);
  const fields = new Names();
  const keys = [...pane.keys.keys()];
  const body: PaneBody = {
    k: keys,
    f: fields.list,
    l: keys.map((key) => (pane.keys.get(key) ?? []).map((layer) => layerRow(layer, pane.paneStart, fields))),
  };
  return {
    pk: S(pk),
    sk: S(sk),
    e: N(pane.epoch),
    d: { B: deflateRawSync(JSON.stringify(body)) },
    ...(pane.cleared && ttlSeconds !== undefined ? { c: N(1), ttl: N(ttlSeconds) } : {}),
  };
}

export function decodeGroupPane(item: Item): GroupPane {
  const paneStart = Number(str(item, "sk"));
  const body = JSON.parse(inflateRawSync(item.d?.B ?? new Uint8Array()).toString("utf8")) as PaneBody;
  const keys = new Map<string, PaneLayer[]>();
  body.k.forEach((key, i) => {
    keys.set(
      key,
      (body.l[i] ?? []).map((row) => rowLayer(row, paneStart, body.f)),
    );
  });
  return { paneStart, epoch: num(item, "e") ?? 0, keys, cleared: item.c !== undefined };
}

function decodeMark(group: number, item: Item | undefined): GroupMark {
  if (item === undefined) return emptyMark(group);
  const firedThrough = num(item, "ft");
  const clearedThrough = num(item, "ct");
  return {
    group,
    epoch: num(item, "e") ?? 0,
    ...(firedThrough === undefined ? {} : { firedThrough }),
    ...(clearedThrough === undefined ? {} : { clearedThrough }),
    resetGeneration: num(item, "rg") ?? 0,
    version: num(item, "v") ?? 0,
  };
}

/** The marks of groups (strongly consistent; a group never written has the empty mark). */
export async function readGroupMarks(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
  groups: readonly number[],
): Promise<Map<number, GroupMark>> {
  const items = await batchGetAll(
    client,
    tableName,
    groups.map((g) => groupMarkItemKey(pipeline, g)),
  );
  const byPartition = new Map(items.map((item) => [str(item, "pk"), item]));
  return new Map(groups.map((g) => [g, decodeMark(g, byPartition.get(groupPartition(pipeline, g)))]));
}

/** A group's pane items starting at or after `from` and before `to`, by start (strongly consistent; one Query). */
export async function readGroupPaneItems(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
  group: number,
  range: { from: number; to: number },
): Promise<Map<number, Item>> {
  const to = Math.min(Number.MAX_SAFE_INTEGER, range.to);
  const items = await queryAll(client, {
    TableName: tableName,
    KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
    ExpressionAttributeValues: {
      ":pk": S(groupPartition(pipeline, group)),
      ":from": S(padTime(Math.max(0, range.from))),
      // padded times are digits: the mark ("~mark") sorts after every one of them
      ":to": S(to <= 0 ? padTime(0) : padTime(to - 1)),
    },
    ConsistentRead: true,
  });
  return new Map(items.map((item) => [Number(str(item, "sk")), item]));
}

/** A group's pane items at these starts, by start (strongly consistent). */
export async function readGroupPaneItemsAt(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
  group: number,
  starts: readonly number[],
): Promise<Map<number, Item>> {
  if (starts.length === 0) return new Map();
  const items = await batchGetAll(
    client,
    tableName,
    starts.map((s) => groupPaneItemKey(pipeline, group, s)),
  );
  return new Map(items.map((item) => [Number(str(item, "sk")), item]));
}

/** A group's panes at these starts (strongly consistent). */
export async function readGroupPanesAt(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
  group: number,
  starts: readonly number[],
): Promise<Map<number, GroupPane>> {
  const items = await readGroupPaneItemsAt(client, tableName, pipeline, group, starts);
  return new Map([...items].map(([start, item]) => [start, decodeGroupPane(item)]));
}

/**
 * Writes a pane at its new epoch if the stored one is still at the epoch read (or absent); false when
 * another unit wrote it first (read it again: it may be at this epoch already).
 */
export function writeGroupPane(client: DynamoDBClient, tableName: string, item: Item, epochRead: number | undefined): Promise<boolean> {
  return putItem(
    client,
    tableName,
    item,
    epochRead === undefined ? { condition: "attribute_not_exists(pk)" } : { condition: "e = :read", values: { ":read": N(epochRead) } },
  );
}

/** Marks a pane cleared (it expires `ttlSeconds` from now, epoch seconds), if it is still at the epoch read. */
export function clearGroupPane(
  client: DynamoDBClient,
  tableName: string,
  where: { pipeline: string; group: number; paneStart: number; epoch: number },
  ttlSeconds: number,
): Promise<boolean> {
  return updateItem(client, tableName, groupPaneItemKey(where.pipeline, where.group, where.paneStart), {
    expression: "SET c = :one, #ttl = :ttl",
    condition: "e = :read",
    names: { "#ttl": "ttl" },
    values: { ":one": N(1), ":ttl": N(ttlSeconds), ":read": N(where.epoch) },
  });
}

/** Moves a group's mark if it is still at the version read; false when another unit moved it first. */
export function writeGroupMark(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
  mark: GroupMark,
  versionRead: number,
): Promise<boolean> {
  const { pk, sk } = groupMarkItemKey(pipeline, mark.group);
  return putItem(
    client,
    tableName,
    {
      pk: S(pk),
      sk: S(sk),
      e: N(mark.epoch),
      ...(mark.firedThrough === undefined ? {} : { ft: N(mark.firedThrough) }),
      ...(mark.clearedThrough === undefined ? {} : { ct: N(mark.clearedThrough) }),
      rg: N(mark.resetGeneration),
      v: N(versionRead + 1),
    },
    versionRead === 0 ? { condition: "attribute_not_exists(pk)" } : { condition: "v = :read", values: { ":read": N(versionRead) } },
  );
}
