// Every index query pages, and dynalite drops an item at a page boundary when an index holds many
// equal sort keys (8,000 written, 7,999 read). Panes' index sort keys are unique per item, so every
// due session set and every result is found however many share a time.
import { BatchWriteItemCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queryDue, sessionsItemOf } from "../../shared/aws/dynamodb/panes.ts";
import { commitGroupResults, ensureLayout, queryResults, type ResultIntent } from "../../shared/aws/dynamodb/results.ts";
import { emptyState } from "../../shared/core/aggregates/state.ts";
import { keyGroupOf } from "../../shared/core/keygroups.ts";
import { emulatedDeployment } from "../helpers/emulated.ts";

let deployment: Awaited<ReturnType<typeof emulatedDeployment>>;

beforeAll(async () => {
  deployment = await emulatedDeployment("paging", 1);
});

afterAll(() => {
  deployment.dynamodb.destroy();
  deployment.kinesis.destroy();
});

describe("index queries across many pages of equal times", () => {
  it("find all 8,000 session sets of a key group due at the same time", async () => {
    // Prepare: 8,000 keys of one key group, one session set each, all due at 60000 (many pages of one index partition)
    const sessions = { version: 1, entries: [{ state: { ...emptyState(), n: 1, tmin: 1, tmax: 1 }, absorbed: [] }], fences: new Map() };
    const keys = Array.from({ length: 8000 }, (_, i) => `k${i}`);
    for (let i = 0; i < keys.length; i += 25) {
      const items = keys
        .slice(i, i + 25)
        .map((key) => ({ PutRequest: { Item: sessionsItemOf({ pipeline: "p", group: 3, key }, sessions, 60_000) } }));
      await deployment.dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [deployment.names.stateTable]: items } }));
    }

    // Act
    const due = await queryDue(deployment.dynamodb, deployment.names.stateTable, { pipeline: "p", group: 3 }, 60_000);

    // Assess
    expect(due).toHaveLength(8000);
    expect(new Set(due.map((d) => d.key)).size).toBe(8000);
    expect(due.every((d) => d.due === 60_000)).toBe(true);
    expect(await queryDue(deployment.dynamodb, deployment.names.stateTable, { pipeline: "p", group: 3 }, 59_999)).toEqual([]);
    expect(await queryDue(deployment.dynamodb, deployment.names.stateTable, { pipeline: "p", group: 2 }, 60_000)).toEqual([]);
  });

  it("find all 3,000 results that end at the same time, over the key groups", async () => {
    const keyGroups = 32;
    await ensureLayout(deployment.dynamodb, deployment.names.resultsTable, "r", keyGroups);
    const byGroup = new Map<number, ResultIntent[]>();
    for (let i = 0; i < 3000; i++) {
      const key = `k${i}`;
      const group = keyGroupOf(key, keyGroups);
      const result = { pipeline: "r", key, start: 0, end: 60_000, values: { n: 1 }, count: 1, firedAt: 0, final: true };
      byGroup.set(group, [...(byGroup.get(group) ?? []), { result }]);
    }
    for (const [group, intents] of byGroup)
      await commitGroupResults(
        deployment.dynamodb,
        deployment.names.resultsTable,
        { pipeline: "r", group, epoch: 1, markEpoch: 0 },
        intents,
        { now: 0 },
      );
    const results = await queryResults(deployment.dynamodb, deployment.names.resultsTable, { pipeline: "r", from: 60_000, to: 60_000 });
    expect(results).toHaveLength(3000);
    expect(new Set(results.map((r) => r.key)).size).toBe(3000);
    expect(await queryResults(deployment.dynamodb, deployment.names.resultsTable, { pipeline: "r", from: 60_001 })).toEqual([]);
    expect(
      (await queryResults(deployment.dynamodb, deployment.names.resultsTable, { pipeline: "r", key: "k17" })).map((r) => r.key),
    ).toEqual(["k17"]);
  });
});
