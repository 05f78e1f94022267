// The results ledger, packed by key group: one item per (pipeline, key group, window end) holds every
// key's result for the windows of the group ending there. A window's version is decided against the
// stored one (core/windows/fates.ts ledgerDecisionOf) and the item is written under a condition on the
// item's version, so a repeated, concurrent or retried closing unit writes nothing twice; a unit that
// loses the race decides again against what the winner wrote. Cost follows bytes: the results of a
// group's keys share one item (deflated), not an item (and an index entry) each.
import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { AggregateValue } from "../../core/aggregates/state.ts";
import { keyGroupOf } from "../../core/keygroups.ts";
import type { WindowIdentity, WindowResult } from "../../core/types.ts";
import { ledgerDecisionOf } from "../../core/windows/fates.ts";
import { retryOnConflict } from "../retry.ts";
import { type Item, N, num, S, str } from "./attributes.ts";
import { groupResultsItemKey, layoutItemKey, padTime } from "./keys.ts";
import { batchGetAll, putItem, queryAll, scanAll } from "./requests.ts";

/** The idempotency key consumers use to drop repeats: pipeline/key/start/version (start-end for cumulating windows and sessions). */
export function idempotencyKeyOf(result: WindowIdentity & Pick<WindowResult, "version">): string {
  return `${result.pipeline}/${result.key}/${result.start}${result.endInKey ? `-${result.end}` : ""}/${result.version}`;
}

/** A result in the ledger, with the epoch of the closing unit that wrote this version. */
export interface StoredResult extends WindowResult {
  epoch: number;
}

/** One item of the ledger: a key group's results for the windows ending at `end`. */
export interface ResultsItem {
  pipeline: string;
  group: number;
  end: number;
  /** bumped at every write; writes are conditional on it (0: not written yet) */
  version: number;
  /** by entry id (key and start) */
  results: Map<string, StoredResult>;
}

/** A window's entry in its item: its key and start (windows of a group ending together differ by both, for sessions). */
export const entryIdOf = (w: Pick<WindowIdentity, "key" | "start">) => `${w.key}\u0000${w.start}`;

/** The item's body: the results as rows, deflated (values as JSON: any double fits, and null marks a value a window cannot give). */
type ResultRow = [
  key: string,
  start: number,
  values: Record<string, AggregateValue>,
  count: number,
  version: number,
  final: 0 | 1,
  firedAt: number,
  epoch: number,
  extra?: { e?: 1; s?: { start: number; end: number }[]; b?: { start: number; end: number }; r?: 1 },
];

function encodeResults(results: Iterable<StoredResult>): Uint8Array {
  const rows: ResultRow[] = [];
  for (const r of results) {
    const extra: NonNullable<ResultRow[8]> = {};
    if (r.endInKey) extra.e = 1;
    if (r.supersedes && r.supersedes.length > 0) extra.s = r.supersedes;
    if (r.supersededBy) extra.b = r.supersededBy;
    if (r.retracted) extra.r = 1;
    const row: ResultRow = [r.key, r.start, r.values, r.count, r.version, r.final ? 1 : 0, r.firedAt, r.epoch];
    if (Object.keys(extra).length > 0) row.push(extra);
    rows.push(row);
  }
  return deflateRawSync(JSON.stringify(rows));
}

function decodeResultsItem(pipeline: string, item: Item): ResultsItem {
  const pk = str(item, "pk") ?? "";
  const group = Number(pk.slice(pk.lastIndexOf("#") + 1));
  const end = Number(str(item, "sk"));
  const rows = JSON.parse(inflateRawSync(item.d?.B ?? new Uint8Array()).toString("utf8")) as ResultRow[];
  const results = new Map<string, StoredResult>();
  for (const [key, start, values, count, version, final, firedAt, epoch, extra] of rows) {
    const result: StoredResult = {
      pipeline,
      key,
      start,
      end,
      values,
      count,
      version,
      firedAt,
      final: final === 1,
      epoch,
      ...(extra?.e ? { endInKey: true } : {}),
      ...(extra?.s ? { supersedes: extra.s } : {}),
      ...(extra?.b ? { supersededBy: extra.b } : {}),
      ...(extra?.r ? { retracted: true as const } : {}),
    };
    results.set(entryIdOf(result), result);
  }
  return { pipeline, group, end, version: num(item, "v") ?? 0, results };
}

function resultsItemOf(item: ResultsItem, ttlSeconds: number | undefined, now: number): Item {
  const { pk, sk } = groupResultsItemKey(item.pipeline, item.group, item.end);
  return {
    pk: S(pk),
    sk: S(sk),
    v: N(item.version),
    d: { B: encodeResults(item.results.values()) },
    ...(ttlSeconds === undefined ? {} : { ttl: N(Math.floor(now / 1000) + ttlSeconds) }),
  };
}

/** The items of a group for these window ends (strongly consistent); an end with none gets an empty item. */
export async function readResultsItems(
  client: DynamoDBClient,
  tableName: string,
  pipeline: string,
  group: number,
  ends: readonly number[],
): Promise<Map<number, ResultsItem>> {
  const items = await batchGetAll(
    client,
    tableName,
    ends.map((end) => groupResultsItemKey(pipeline, group, end)),
  );
  const read = new Map(items.map((item) => decodeResultsItem(pipeline, item)).map((r) => [r.end, r]));
  return new Map(ends.map((end) => [end, read.get(end) ?? { pipeline, group, end, version: 0, results: new Map() }]));
}

/** Writes an item if it is still at the version read; false when another unit wrote it first. */
async function writeResultsItem(
  client: DynamoDBClient,
  tableName: string,
  item: ResultsItem,
  options: { ttlSeconds?: number; now: number },
): Promise<boolean> {
  const read = item.version;
  const next = { ...item, version: read + 1 };
  return putItem(
    client,
    tableName,
    resultsItemOf(next, options.ttlSeconds, options.now),
    read === 0 ? { condition: "attribute_not_exists(pk)" } : { condition: "v = :read", values: { ":read": N(read) } },
  );
}

/** A window's contents as a unit computed them, to be written as the version the ledger lacks. */
export interface ResultIntent {
  result: Omit<WindowResult, "version">;
  /** sessions: mark these earlier results of the key superseded by this one, once it is written */
  supersedes?: { start: number; end: number }[];
  /** a retraction that withdraws a row an earlier window showed (a session it supersedes): published even where this window showed none */
  withdraws?: boolean;
}

export interface CommitOutcome {
  /** versions written (to publish) */
  written: StoredResult[];
  /** entries found written by a unit that did not finish (epoch above the group's mark): publish them again */
  unconfirmed: StoredResult[];
  /** windows the ledger already held with these contents: their stored versions */
  settled: StoredResult[];
  /** writes that lost a race and were decided again */
  conflicts: number;
  /** windows whose stored contents hold more than this unit computed (a concurrent unit read more) */
  stale: number;
  /** each window end's item as it stands after the commit (every key's results of the group ending there) */
  items: Map<number, ResultsItem>;
}

const MAX_ATTEMPTS = 6;

export class LedgerConflictError extends Error {
  override name = "LedgerConflictError";
}

/**
 * Writes the versions a group's windows lack, one item per window end: each window is decided against
 * its stored entry (version 1 if absent, n + 1 when its contents grew or an early result becomes final,
 * nothing when equal), and the item is written under a condition on its version; a lost race reads the
 * item again and decides again. `markEpoch` is the group's mark: entries of the items read that a
 * later, unfinished unit wrote are returned to be published again.
 */
export async function commitGroupResults(
  client: DynamoDBClient,
  tableName: string,
  where: { pipeline: string; group: number; epoch: number; markEpoch: number },
  intents: readonly ResultIntent[],
  options: { ttlSeconds?: number; now: number; known?: ReadonlyMap<number, ResultsItem> },
): Promise<CommitOutcome> {
  const outcome: CommitOutcome = { written: [], unconfirmed: [], settled: [], conflicts: 0, stale: 0, items: new Map() };
  const byEnd = new Map<number, ResultIntent[]>();
  for (const intent of intents) byEnd.set(intent.result.end, [...(byEnd.get(intent.result.end) ?? []), intent]);
  const missing = [...byEnd.keys()].filter((end) => !options.known?.has(end));
  const read = await readResultsItems(client, tableName, where.pipeline, where.group, missing);
  for (const [end, mine] of byEnd) {
    let item = options.known?.get(end) ?? (read.get(end) as ResultsItem);
    for (const r of item.results.values()) if (r.epoch > where.markEpoch) outcome.unconfirmed.push(r);
    const settled = await retryOnConflict(MAX_ATTEMPTS, async () => {
      const next: ResultsItem = { ...item, results: new Map(item.results) };
      const written: StoredResult[] = [];
      const same: StoredResult[] = [];
      let silent = 0;
      for (const { result, supersedes, withdraws } of mine) {
        const id = entryIdOf(result);
        const stored = next.results.get(id);
        const decision = ledgerDecisionOf({ count: result.count, final: result.final }, stored);
        if ("stale" in decision) outcome.stale++;
        if ("settled" in decision && stored) same.push(stored);
        if (!("write" in decision)) continue;
        const version: StoredResult = {
          ...result,
          version: decision.write,
          epoch: where.epoch,
          ...(supersedes && supersedes.length > 0 ? { supersedes } : {}),
        };
        next.results.set(id, version);
        // a retraction withdraws the row an earlier version showed; with none shown, the ledger keeps it
        // (its count and firing time, which early results are paced by) but there is nothing to publish
        if (result.retracted && !withdraws && (stored === undefined || stored.retracted)) silent++;
        else written.push(version);
        for (const old of supersedes ?? []) markSupersededIn(next, old, result);
      }
      if (written.length === 0 && silent === 0) return { done: { written, same, item } };
      if (await writeResultsItem(client, tableName, next, options))
        return { done: { written, same, item: { ...next, version: next.version + 1 } } };
      outcome.conflicts++;
      item = (await readResultsItems(client, tableName, where.pipeline, where.group, [end])).get(end) as ResultsItem;
      return "conflict";
    });
    if (settled === undefined)
      throw new LedgerConflictError(
        `the results of ${where.pipeline} group ${where.group} ending ${end} kept changing under ${MAX_ATTEMPTS} attempts`,
      );
    for (const r of settled.done.written) outcome.written.push(r);
    for (const r of settled.done.same) outcome.settled.push(r);
    outcome.items.set(end, settled.done.item);
  }
  return outcome;
}

/** Marks an earlier result of a key, in this same item, superseded (sessions ending together). */
function markSupersededIn(item: ResultsItem, old: { start: number; end: number }, by: Pick<WindowResult, "key" | "start" | "end">): void {
  if (old.end !== item.end) return;
  const stored = item.results.get(entryIdOf({ key: by.key, start: old.start }));
  if (stored) item.results.set(entryIdOf(stored), { ...stored, supersededBy: { start: by.start, end: by.end } });
}

/**
 * Marks a session's earlier result as superseded by a later one that holds its events (idempotent; a
 * result that is not there is left alone).
 */
export async function markSuperseded(
  client: DynamoDBClient,
  tableName: string,
  old: WindowIdentity,
  by: { start: number; end: number },
  options: { keyGroups: number; ttlSeconds?: number; now: number },
): Promise<void> {
  const group = keyGroupOf(old.key, options.keyGroups);
  const outcome = await retryOnConflict(MAX_ATTEMPTS, async () => {
    const item = (await readResultsItems(client, tableName, old.pipeline, group, [old.end])).get(old.end) as ResultsItem;
    const stored = item.results.get(entryIdOf(old));
    if (stored === undefined || (stored.supersededBy?.start === by.start && stored.supersededBy.end === by.end)) return { done: true };
    const next: ResultsItem = { ...item, results: new Map(item.results) };
    next.results.set(entryIdOf(old), { ...stored, supersededBy: by });
    return (await writeResultsItem(client, tableName, next, options)) ? { done: true } : "conflict";
  });
  if (outcome === undefined)
    throw new LedgerConflictError(`result ${old.pipeline}/${old.key}/${old.start} kept changing under ${MAX_ATTEMPTS} attempts`);
}

/** A pipeline's layout: its number of key groups (what readers need to find its results). */
export async function readLayout(client: DynamoDBClient, tableName: string, pipeline: string): Promise<number | undefined> {
  const [item] = await batchGetAll(client, tableName, [layoutItemKey(pipeline)]);
  return num(item, "kg");
}

const layoutsKnown = new Set<string>();

export class KeyGroupsChangedError extends Error {
  override name = "KeyGroupsChangedError";
}

/**
 * Records a pipeline's number of key groups the first time, and refuses another one later: changing
 * it would re-partition every stored state and result. Idempotent for the same number.
 */
export async function ensureLayout(client: DynamoDBClient, tableName: string, pipeline: string, keyGroups: number): Promise<void> {
  // Once per container: the layout never changes once written.
  const id = `${tableName}/${pipeline}/${keyGroups}`;
  if (layoutsKnown.has(id)) return;
  const { pk, sk } = layoutItemKey(pipeline);
  if (await putItem(client, tableName, { pk: S(pk), sk: S(sk), kg: N(keyGroups) }, { condition: "attribute_not_exists(pk)" })) {
    layoutsKnown.add(id);
    return;
  }
  const stored = await readLayout(client, tableName, pipeline);
  if (stored === keyGroups) layoutsKnown.add(id);
  if (stored !== keyGroups)
    throw new KeyGroupsChangedError(
      `pipeline "${pipeline}" keeps its state in ${stored} key groups; keyGroups ${keyGroups} would re-partition it: keep ${stored}, or give the pipeline a new name (it starts afresh)`,
    );
}

export interface ResultQuery {
  pipeline: string;
  key?: string;
  /** window end ≥ from (epoch ms) */
  from?: number;
  /** window end ≤ to (epoch ms) */
  to?: number;
  /** include session results a later result superseded (default: only the current ones) */
  superseded?: boolean;
  /** include windows whose current version retracts their row (HAVING; default: only windows with a row) */
  retracted?: boolean;
}

/** Results of a pipeline, ordered by window end then key (its key groups read one Query each; one group for a key). */
export async function queryResults(client: DynamoDBClient, tableName: string, query: ResultQuery): Promise<WindowResult[]> {
  const keyGroups = await readLayout(client, tableName, query.pipeline);
  if (keyGroups === undefined) return [];
  const from = padTime(Math.max(0, query.from ?? 0));
  const to = padTime(Math.min(Number.MAX_SAFE_INTEGER, query.to ?? Number.MAX_SAFE_INTEGER));
  const groups = query.key === undefined ? Array.from({ length: keyGroups }, (_, g) => g) : [keyGroupOf(query.key, keyGroups)];
  const items = (
    await Promise.all(
      groups.map((g) =>
        queryAll(client, {
          TableName: tableName,
          KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
          ExpressionAttributeValues: { ":pk": S(groupResultsItemKey(query.pipeline, g, 0).pk), ":from": S(from), ":to": S(to) },
        }),
      ),
    )
  ).flat();
  const results: WindowResult[] = [];
  for (const item of items)
    for (const stored of decodeResultsItem(query.pipeline, item).results.values()) {
      if (query.key !== undefined && stored.key !== query.key) continue;
      if (!query.superseded && stored.supersededBy !== undefined) continue;
      if (!query.retracted && stored.retracted) continue;
      const { epoch: _epoch, ...result } = stored;
      results.push(result);
    }
  return results.sort((a, b) => a.end - b.end || a.key.localeCompare(b.key) || a.start - b.start);
}

/**
 * Current (not superseded, not retracted) results per pipeline, counted by a Scan of the table rather than by the
 * queries readers use: an independent count to reconcile a query's answer with (replay does). Tools only.
 */
export async function countCurrentResults(client: DynamoDBClient, tableName: string): Promise<Map<string, number>> {
  const items = await scanAll(client, { TableName: tableName, ConsistentRead: true });
  const counts = new Map<string, number>();
  for (const item of items) {
    const pk = str(item, "pk") ?? "";
    if (!pk.startsWith("R#") || item.d?.B === undefined) continue;
    const pipeline = pk.slice(2, pk.lastIndexOf("#"));
    const current = [...decodeResultsItem(pipeline, item).results.values()].filter(
      (r) => r.supersededBy === undefined && !r.retracted,
    ).length;
    counts.set(pipeline, (counts.get(pipeline) ?? 0) + current);
  }
  return counts;
}
