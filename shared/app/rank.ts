// The ranking stage of Window Top-N after a window aggregation: once every unit of an epoch has closed
// its key groups, the window ends whose candidates changed are ranked from every group's candidates
// (core/pipelines/rank.ts), and each ranking is decided against the ledger and published like any
// result: a ranking is a new version only when its window and partition hold more events. Running it
// twice (a redelivered message, two units finishing last together) writes nothing twice; a run that
// stopped before publishing is published again by the next (its versions carry this epoch).
import { clearPendingRankEnds, readPendingRankEnds, readRankCandidates } from "../aws/dynamodb/ranks.ts";
import { commitGroupResults, type ResultIntent } from "../aws/dynamodb/results.ts";
import { keyGroupOf } from "../core/keygroups.ts";
import { keyColumnsOf, keyColumnValues } from "../core/pipelines/project.ts";
import { mergeCandidates, rankedResult } from "../core/pipelines/rank.ts";
import type { Pipeline } from "../core/pipelines/schema.ts";
import { publish, type UnitDependencies, type UnitReport } from "./closing-unit.ts";

export async function rankWindows(
  deps: UnitDependencies,
  pipeline: Pipeline,
  epoch: number,
  ends: readonly number[],
  report: UnitReport,
): Promise<void> {
  const rank = pipeline.rank;
  if (rank === undefined) return;
  const at = deps.now?.() ?? Date.now();
  // without a select list, a ranked row carries its key's columns
  const key = {
    columns: keyColumnsOf(pipeline),
    ...(pipeline.select === undefined ? { inRows: (k: string) => keyColumnValues(pipeline, k) } : {}),
  };
  // the ends this epoch's units reported, and any a unit noted but could not report (it stopped after moving a mark)
  const pending = await readPendingRankEnds(deps.dynamodb, deps.resultsTable, pipeline.name);
  const all = [...new Set([...ends, ...pending])].sort((a, b) => a - b);
  for (const end of all) {
    const rankings = mergeCandidates(rank, await readRankCandidates(deps.dynamodb, deps.resultsTable, pipeline.name, end));
    const byGroup = new Map<number, ResultIntent[]>();
    for (const ranking of rankings) {
      const ranked = rankedResult(pipeline.name, rank, ranking, at, key);
      // no row to give (a rank offset past the window's rows, or HAVING kept none): as in Flink, no row;
      // a ranking given before is retracted (the ledger keeps the count, publishing only a retraction)
      const result = (ranked.values.rows as unknown[]).length === 0 ? { ...ranked, retracted: true as const } : ranked;
      const group = keyGroupOf(result.key, pipeline.keyGroups);
      byGroup.set(group, [...(byGroup.get(group) ?? []), { result }]);
    }
    for (const [group, intents] of byGroup) {
      const outcome = await commitGroupResults(
        deps.dynamodb,
        deps.resultsTable,
        // versions of this epoch found stored are published again (the run that wrote them may have stopped)
        { pipeline: pipeline.name, group, epoch, markEpoch: epoch - 1 },
        intents,
        { ttlSeconds: deps.resultRetentionSeconds, now: at },
      );
      report.conflicts += outcome.conflicts;
      for (const r of outcome.written) {
        if (r.version === 1) report.fired++;
        else report.refired++;
      }
      const written = new Set(outcome.written.map((r) => `${r.key}\u0000${r.start}`));
      const again = outcome.unconfirmed.filter((r) => !written.has(`${r.key}\u0000${r.start}`));
      await publish(deps, [...outcome.written, ...again], report);
      report.republished += again.length;
    }
  }
  // ranked and published: no longer pending (an end a later unit notes again is ranked again)
  await clearPendingRankEnds(deps.dynamodb, deps.resultsTable, pipeline.name, all);
}
