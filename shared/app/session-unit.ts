// The closing of a session pipeline's key groups, one unit's range: each group's partition of the due
// index names the keys whose sessions are due (or, with early results, live), and each key's sessions
// fire, supersede what they replaced and go once their lateness passed (windows/sessions.ts). Session
// sets are folded at ingest (merging needs a key's stored sessions), so a unit reads no log; the
// epoch's watermark is the one it closes at. A key that fails is parked with the reason and the unit
// does not count as finished: the coordinator sends its range again, and keys already closed find
// nothing left to do.
import pLimit from "p-limit";
import type { Epoch } from "../aws/dynamodb/epochs.ts";
import { queryDue, readSessionsNow, sessionsItemOf, writeSessions } from "../aws/dynamodb/panes.ts";
import { parkKey, readParkedKeys, unparkKey } from "../aws/dynamodb/parked.ts";
import { commitGroupResults, markSuperseded, type ResultIntent, readResultsItems } from "../aws/dynamodb/results.ts";
import type { StoredSessions } from "../core/ingest/deltas.ts";
import { passesHaving, retractsRows, windowValues } from "../core/pipelines/project.ts";
import type { Pipeline } from "../core/pipelines/schema.ts";
import type { WindowResult } from "../core/types.ts";
import { earlyDueOf } from "../core/windows/fates.ts";
import {
  recordEmitting,
  type SessionEntry,
  type SessionFiring,
  type SessionIdentity,
  sessionsDueOf,
  sessionsToFire,
  settleSessions,
} from "../core/windows/sessions.ts";
import { END_OF_TIME } from "../core/windows/watermark.ts";
import { emptyUnitReport, publish, type UnitDependencies, type UnitReport } from "./closing-unit.ts";

/** A session pipeline's unit: groups `first` … `last`, closed at the epoch's watermark. */
export interface SessionUnit {
  pipeline: Pipeline;
  first: number;
  last: number;
  epoch: Epoch;
}

interface SessionContext {
  deps: UnitDependencies;
  pipeline: Pipeline;
  group: number;
  watermark: number;
  now: number;
  report: UnitReport;
}

const reasonOf = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/** Closes the due sessions of every key of the unit's groups; one key that fails is parked, the others go on. */
export async function runSessionUnit(deps: UnitDependencies, unit: SessionUnit): Promise<UnitReport> {
  const { pipeline, epoch } = unit;
  const report = emptyUnitReport(pipeline.name);
  const watermark = epoch.watermarks.get(pipeline.name);
  if (watermark === undefined || pipeline.window.type !== "session") return report;
  const now = deps.now?.() ?? Date.now();
  // Early results need every live item (open windows too); otherwise only what is due.
  const upTo = pipeline.early !== undefined ? END_OF_TIME : watermark;
  const parked = deps.deadLetterTable ? await readParkedKeys(deps.dynamodb, deps.deadLetterTable, pipeline.name) : new Map();
  const limit = pLimit(deps.concurrency);
  const groups = Array.from({ length: unit.last - unit.first + 1 }, (_, i) => unit.first + i);
  const due = await Promise.all(
    groups.map((group) => limit(() => queryDue(deps.dynamodb, deps.stateTable, { pipeline: pipeline.name, group }, upTo))),
  );
  await Promise.all(
    groups.flatMap((group, i) => {
      const ctx: SessionContext = { deps, pipeline, group, watermark, now, report };
      return [...new Set((due[i] ?? []).map((item) => item.key))].map((key) =>
        limit(async () => {
          try {
            await closeSessions(ctx, key);
          } catch (error) {
            report.parked.push({ group, key, reason: reasonOf(error) });
            if (deps.deadLetterTable) await parkKey(deps.dynamodb, deps.deadLetterTable, pipeline.name, key, reasonOf(error), now);
            return;
          }
          if (parked.has(key) && deps.deadLetterTable) await unparkKey(deps.dynamodb, deps.deadLetterTable, pipeline.name, key);
        }),
      );
    }),
  );
  report.groups += groups.filter((group) => !report.parked.some((p) => p.group === group)).length;
  return report;
}

const windowId = (w: { start: number; end: number }) => `${w.start}/${w.end}`;

/**
 * A key's sessions: emit what is due (or early), mark what grown or merged sessions supersede, drop
 * sessions past their lateness. Each result is first recorded on its session (a conditional write of
 * the session set), then written to the ledger, then confirmed: a batch that grows a session in
 * between finds the identity recorded and supersedes it later; a result is never orphaned. A result a
 * stopped run wrote but did not confirm is published again.
 */
async function closeSessions(ctx: SessionContext, key: string): Promise<void> {
  const { pipeline, watermark, deps, now, group } = ctx;
  if (pipeline.window.type !== "session") return;
  const gap = pipeline.window.gap;
  const options = { gap, allowedLateness: pipeline.allowedLateness, watermark };
  const at = { pipeline: pipeline.name, group, key };
  let stored = await readSessionsNow(deps.dynamodb, deps.stateTable, at);
  if (stored === null) return;
  const write = async (entries: SessionEntry[]) => {
    const next: StoredSessions = {
      ...(stored as StoredSessions),
      entries,
      version: (stored as StoredSessions).version + 1,
      watermark: Math.max(stored?.watermark ?? watermark, watermark),
    };
    const item = sessionsItemOf(at, next, sessionsDueOf(entries, gap, pipeline.allowedLateness), now + deps.tombstoneRetentionMs);
    // A failed condition means a batch changed the sessions since they were read: the next run looks again.
    if (!(await writeSessions(deps.dynamodb, deps.stateTable, item, (stored as StoredSessions).version, next))) {
      ctx.report.conflicts++;
      return false;
    }
    stored = next;
    return true;
  };

  const firings = sessionsToFire(stored.entries, gap, watermark, pipeline.early !== undefined);
  const open = firings.filter((f) => !f.final);
  const known =
    open.length > 0
      ? await readResultsItems(deps.dynamodb, deps.resultsTable, pipeline.name, group, [...new Set(open.map((f) => f.window.end))])
      : undefined;
  const chosen = firings.filter(
    (f) =>
      f.final ||
      earlyDueOf(known?.get(f.window.end)?.results.get(`${key}\u0000${f.window.start}`), f.entry.state.n, now, pipeline.early ?? 0),
  );
  const written = new Set<SessionEntry>();
  if (chosen.length > 0) {
    // Results recorded on their session by a run that did not confirm them: maybe written, maybe not published.
    const unconfirmed = new Set(
      chosen
        .filter((f) => f.entry.emitted?.confirmed === false && windowId(f.entry.emitted) === windowId(f.window))
        .map((f) => windowId(f.window)),
    );
    const { entries, emitting } = recordEmitting(stored.entries, chosen);
    if (!(await write(entries))) return;
    // HAVING: a session whose row it does not keep gives no result, and is settled as if it had; with
    // allowed lateness or early results, a row it (or a session it supersedes) showed is retracted
    const kept = chosen.filter((f) => passesHaving(pipeline, key, f.window, f.entry.state));
    const failing = chosen.filter((f) => !kept.includes(f));
    for (const f of failing) {
      const entry = emitting.get(f);
      if (entry) written.add(entry);
    }
    const retracting = retractsRows(pipeline) ? failing : [];
    const shown = await shownSessions(
      ctx,
      group,
      key,
      retracting.flatMap((f) => f.supersedes),
    );
    const intents: ResultIntent[] = [
      ...kept.map((f) => ({
        result: resultOfSession(ctx, key, f),
        ...(f.supersedes.length > 0 ? { supersedes: f.supersedes } : {}),
      })),
      ...retracting.map((f) => ({
        result: { ...resultOfSession(ctx, key, f), retracted: true as const },
        ...(f.supersedes.length > 0 ? { supersedes: f.supersedes } : {}),
        ...(f.supersedes.some((old) => shown.has(windowId(old))) ? { withdraws: true } : {}),
      })),
    ];
    const outcome = await commitGroupResults(
      deps.dynamodb,
      deps.resultsTable,
      { pipeline: pipeline.name, group, epoch: 0, markEpoch: 0 },
      intents,
      { ttlSeconds: deps.resultRetentionSeconds, now, ...(known ? { known } : {}) },
    );
    ctx.report.conflicts += outcome.conflicts;
    const settledIds = new Set([...outcome.written, ...outcome.settled].map((r) => windowId(r)));
    for (const r of outcome.written) {
      if (!r.final) ctx.report.early++;
      else if (r.version === 1) ctx.report.fired++;
      else ctx.report.refired++;
    }
    const again = outcome.settled.filter((r) => unconfirmed.has(windowId(r)));
    await publish(deps, [...outcome.written, ...again], ctx.report);
    ctx.report.republished += again.length;
    for (const f of [...kept, ...retracting]) {
      if (!settledIds.has(windowId(f.window))) continue;
      for (const old of f.supersedes) {
        if (old.end === f.window.end) continue; // marked in the same item
        await markSuperseded(
          deps.dynamodb,
          deps.resultsTable,
          { pipeline: pipeline.name, key, start: old.start, end: old.end, endInKey: true },
          f.window,
          {
            keyGroups: pipeline.keyGroups,
            ttlSeconds: deps.resultRetentionSeconds,
            now,
          },
        );
      }
      const entry = emitting.get(f);
      if (entry) written.add(entry);
    }
  }
  const entries = settleSessions(stored.entries, written, options);
  if (written.size === 0 && entries.length === stored.entries.length) return;
  const before = stored.entries.length;
  if (await write(entries)) ctx.report.cleared += before - entries.length;
}

/** Which of a key's earlier sessions show a row (in the ledger, neither retracted nor superseded), by window id. */
async function shownSessions(ctx: SessionContext, group: number, key: string, sessions: readonly SessionIdentity[]): Promise<Set<string>> {
  const shown = new Set<string>();
  if (sessions.length === 0) return shown;
  const items = await readResultsItems(ctx.deps.dynamodb, ctx.deps.resultsTable, ctx.pipeline.name, group, [
    ...new Set(sessions.map((s) => s.end)),
  ]);
  for (const s of sessions) {
    const stored = items.get(s.end)?.results.get(`${key}\u0000${s.start}`);
    if (stored !== undefined && !stored.retracted && stored.supersededBy === undefined) shown.add(windowId(s));
  }
  return shown;
}

function resultOfSession(ctx: SessionContext, key: string, f: SessionFiring): Omit<WindowResult, "version"> {
  return {
    pipeline: ctx.pipeline.name,
    key,
    start: f.window.start,
    end: f.window.end,
    values: windowValues(ctx.pipeline, key, f.window, f.entry.state),
    count: f.entry.state.n,
    firedAt: ctx.now,
    final: f.final,
    endInKey: true,
  };
}
