// Closing units sent over a queue (the deployment's shape): the coordinator sends a pipeline's key groups
// as range messages and records the dispatch; the real closer handler brings each range to the epoch; the
// pipeline counts as closed at that epoch only once every unit has finished. Deliveries twice, at once,
// late or malformed — what SQS's at-least-once delivery allows — change no result. Each ends with what a
// brute-force count over the events says the windows hold.

import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCloserHandler } from "../../functions/commons/closer-handler.ts";
import { createWatermarkHandler } from "../../functions/commons/watermark-handler.ts";
import type { UnitMessage } from "../../shared/app/closer.ts";
import { readPipelineMarks } from "../../shared/aws/dynamodb/checkpoints.ts";
import { keyGroupOf } from "../../shared/core/keygroups.ts";
import type { Pipeline } from "../../shared/core/pipelines/schema.ts";
import type { WindowResult } from "../../shared/core/types.ts";
import { pipeline, sqsEvent, testContext } from "../helpers/builders.ts";
import { emulatedDeployment } from "../helpers/emulated.ts";
import { HandlerHarness } from "../helpers/handler-harness.ts";
import { heldClient } from "../helpers/hold.ts";

/** Counts the client's reads of shard logs (Queries of `L#` partitions). */
function countLogReads(client: DynamoDBClient): () => number {
  let reads = 0;
  client.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { KeyConditionExpression?: string; ExpressionAttributeValues?: Record<string, { S?: string }> };
      if (input.KeyConditionExpression && input.ExpressionAttributeValues?.[":pk"]?.S?.startsWith("L#")) reads++;
      return next(args);
    },
    { step: "initialize", name: "countLogReads" },
  );
  return () => reads;
}

let deployment: Awaited<ReturnType<typeof emulatedDeployment>>;

beforeAll(async () => {
  deployment = await emulatedDeployment("closer", 1);
});

afterAll(() => {
  deployment.dynamodb.destroy();
  deployment.kinesis.destroy();
});

const KEY_GROUPS = 8;
const GROUPS_PER_UNIT = 2;
const UNIT_RETRY_MS = 60_000;
const KEYS = Array.from({ length: 24 }, (_, i) => `host-${i}`);
/** every key twice in [0, 60 s), and one event at 70 s that moves the watermark past the window */
const EVENTS = [
  ...KEYS.flatMap((host, i) => [
    { host, ts: 1_000 + i * 100, v: i },
    { host, ts: 30_000 + i * 100, v: 2 * i },
  ]),
  { host: "host-0", ts: 70_000, v: 0 },
];

/** [key, start, count, sum] of each window [0, 60 s) the events fill, counted here. */
function bruteForce(keys: readonly string[]): (string | number)[][] {
  return keys
    .map((host) => {
      const inWindow = EVENTS.filter((e) => e.host === host && e.ts < 60_000);
      return [host, 0, inWindow.length, inWindow.reduce((s, e) => s + e.v, 0)];
    })
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
}

const rows = (results: readonly WindowResult[]) =>
  results
    .filter((r) => r.start === 0)
    .map((r) => [r.key, r.start, r.count, r.values.s as number])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));

function setUp(overrides: Parameters<typeof pipeline>[0] = {}) {
  const p: Pipeline = pipeline({
    outOfOrderness: "0s",
    idleTimeout: "1d",
    keyGroups: KEY_GROUPS,
    aggregates: { n: { count: true }, s: { sum: "v" } },
    ...overrides,
  });
  const h = new HandlerHarness(deployment, p);
  const { dynamodb, names } = deployment;
  const sent: UnitMessage[] = [];
  const closerDeps = (client = dynamodb) => ({
    dynamodb: client,
    stateTable: names.stateTable,
    resultsTable: names.resultsTable,
    pipelines: [p],
    sink: { publish: async (results: readonly WindowResult[]) => void h.published.push(...results) },
    concurrency: 4,
    tombstoneRetentionMs: 86_400_000,
    deadLetterTable: names.deadLetterTable,
    now: () => h.now,
  });
  const coordinator = createWatermarkHandler({
    ...closerDeps(),
    groupsPerUnit: GROUPS_PER_UNIT,
    unitRetryMs: UNIT_RETRY_MS,
    dispatchUnits: async (messages) => void sent.push(...messages),
  });
  const closer = (client = dynamodb) => createCloserHandler(closerDeps(client));
  const deliver = async (messages: readonly UnitMessage[], client = dynamodb) =>
    (await closer(client)(sqsEvent(messages.map((m) => JSON.stringify(m))), testContext())).batchItemFailures;
  const marks = async () => (await readPipelineMarks(dynamodb, names.stateTable, [p.name])).get(p.name) ?? {};
  const keysOf = (messages: readonly UnitMessage[]) =>
    KEYS.filter((k) => messages.some((m) => m.first <= keyGroupOf(k, KEY_GROUPS) && keyGroupOf(k, KEY_GROUPS) <= m.last));
  return { p, h, sent, coordinator: () => coordinator(undefined, testContext()), deliver, marks, keysOf };
}

describe("closing units over a queue", () => {
  it("are the pipeline's key groups in ranges; the pipeline is closed at the epoch once its last unit finishes", async () => {
    // Prepare
    const { h, sent, coordinator, deliver, marks, keysOf } = setUp();
    await h.ingest(EVENTS);

    // Act: the coordinator sends the units and closes nothing itself
    const [report] = await coordinator();

    // Assess
    expect(report?.dispatched).toBe(KEY_GROUPS / GROUPS_PER_UNIT);
    expect(sent.map((m) => [m.first, m.last])).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
      [6, 7],
    ]);
    const epoch = sent[0]?.epoch ?? 0;
    expect(sent.every((m) => m.epoch === epoch && m.units === sent.length)).toBe(true);
    expect(await marks()).toMatchObject({ dispatchedEpoch: epoch });
    expect(await h.finalResults()).toEqual([]);

    // Act: every unit but the last
    const [last, ...others] = [...sent].reverse();
    expect(await deliver(others)).toEqual([]);

    // Assess: their keys' windows are fired, the last unit's are not, and the pipeline is not closed yet
    expect(rows(await h.finalResults())).toEqual(bruteForce(keysOf(others)));
    expect(keysOf(others).length).toBeLessThan(KEYS.length);
    expect((await marks()).closedEpoch).toBeUndefined();

    // Act: the last unit
    expect(await deliver(last ? [last] : [])).toEqual([]);

    // Assess
    expect(rows(await h.finalResults())).toEqual(bruteForce(KEYS));
    expect(await marks()).toMatchObject({ closedEpoch: epoch, dispatchedEpoch: epoch });
  });

  it("change nothing when delivered again, after the pipeline closed or after a later epoch's units", async () => {
    // Prepare
    const { h, sent, coordinator, deliver } = setUp();
    await h.ingest(EVENTS);
    await coordinator();
    const first = [...sent];
    expect(await deliver(first)).toEqual([]);
    const firstWindows = () => h.published.filter((r) => r.start === 0).length;
    const published = firstWindows();
    expect(published).toBe(KEYS.length);

    // Act: every unit again, then once more after a later epoch's units (an event at 130 s closes [60 s, 120 s))
    expect(await deliver(first)).toEqual([]);
    await h.ingest([{ host: "host-1", ts: 130_000, v: 0 }]);
    await coordinator();
    const later = sent.slice(first.length);
    expect(later.length).toBe(first.length);
    expect(await deliver(later)).toEqual([]);
    expect(await deliver(first)).toEqual([]);

    // Assess: each window once, in its first version, published once
    const results = await h.finalResults();
    expect(rows(results)).toEqual(bruteForce(KEYS));
    expect(results.filter((r) => r.start === 60_000).map((r) => [r.key, r.count])).toEqual([["host-0", 1]]);
    expect(results.every((r) => r.version === 1)).toBe(true);
    expect(firstWindows()).toBe(published);
  });

  it("are not sent again while in flight, and are sent again, at a new epoch, once the retry time passes unfinished", async () => {
    // Prepare
    const { h, sent, coordinator, deliver, marks } = setUp();
    await h.ingest(EVENTS);
    await coordinator();
    const lost = [...sent];

    // Act: the closers have not run (the messages are lost, say); a run inside the retry time sends nothing
    h.now += UNIT_RETRY_MS - 1;
    const [inside] = await coordinator();

    // Assess
    expect(inside?.dispatched).toBe(0);
    expect(sent).toHaveLength(lost.length);

    // Act: past the retry time
    h.now += 1;
    const [after] = await coordinator();

    // Assess: all of them again, at a later epoch, and they close the pipeline
    expect(after?.dispatched).toBe(lost.length);
    const again = sent.slice(lost.length);
    expect(again.map((m) => [m.first, m.last])).toEqual(lost.map((m) => [m.first, m.last]));
    expect(again[0]?.epoch).toBeGreaterThan(lost[0]?.epoch ?? 0);
    expect(await deliver(again)).toEqual([]);
    expect(rows(await h.finalResults())).toEqual(bruteForce(KEYS));
    expect((await marks()).closedEpoch).toBe(again[0]?.epoch);
  });

  it("write each window once when two deliveries of a unit run at once, one held before each of its requests in turn", async () => {
    // Prepare: how many requests a unit makes when nothing holds it
    const counting = setUp();
    await counting.h.ingest(EVENTS);
    await counting.coordinator();
    const probe = heldClient(deployment.endpoints.dynamodb, Number.POSITIVE_INFINITY);
    const [unit] = counting.sent;
    expect(await counting.deliver(unit ? [unit] : [], probe.client)).toEqual([]);
    const requests = probe.requests();
    probe.client.destroy();
    expect(requests).toBeGreaterThan(3);

    for (let n = 1; n <= requests; n++) {
      // Prepare
      const { h, sent, coordinator, deliver, keysOf } = setUp();
      await h.ingest(EVENTS);
      await coordinator();
      const [message] = sent;
      if (!message) throw new Error("no unit sent");

      // Act: one delivery held before its nth request while the other runs to its end, then the first goes on
      const held = heldClient(deployment.endpoints.dynamodb, n);
      const first = deliver([message], held.client);
      await Promise.race([held.reached, first]);
      const second = await deliver([message]);
      held.release();
      const firstFailures = await first;
      held.client.destroy();

      // Assess: neither fails, and the unit's windows hold every event once, in one version
      expect([firstFailures, second], `held before request ${n} of ${requests}`).toEqual([[], []]);
      const results = await h.finalResults();
      expect(rows(results), `held before request ${n}`).toEqual(bruteForce(keysOf([message])));
      expect(
        results.filter((r) => r.version !== 1).map((r) => `${r.key}@${r.version}`),
        `held before request ${n}`,
      ).toEqual([]);
    }
  }, 600_000);

  it("read no shard log when the coordinator ships their portions since the pipeline last closed, and the log before it ever closed", async () => {
    // Prepare: a first dispatch that is lost (its units never run), then more events and a second dispatch
    const { h, sent, coordinator, deliver } = setUp();
    await h.ingest(EVENTS.slice(0, 20));
    await coordinator();
    const lost = sent.splice(0);
    await h.ingest(EVENTS.slice(20));
    h.now += UNIT_RETRY_MS;
    await coordinator();
    const second = sent.splice(0);
    expect(second.every((m) => m.shipped === undefined && m.epoch > (lost[0]?.epoch ?? 0))).toBe(true);

    // Act: the second dispatch's units (the pipeline never closed: nothing shipped)
    const lagging = heldClient(deployment.endpoints.dynamodb, Number.POSITIVE_INFINITY);
    const lagReads = countLogReads(lagging.client);
    expect(await deliver(second, lagging.client)).toEqual([]);

    // Assess: they read the log, and every window holds all its events
    expect(lagReads()).toBeGreaterThan(0);
    expect(rows(await h.finalResults())).toEqual(bruteForce(KEYS));

    // Act: more events, a run with nothing due (its epoch moves past them), then one past the next window:
    // a dispatch whose units' groups stand before what this run read (the coordinator reads the rest once)
    await h.ingest([{ host: "host-2", ts: 71_000, v: 1 }]);
    await coordinator();
    expect(sent).toEqual([]);
    await h.ingest([{ host: "host-1", ts: 130_000, v: 5 }]);
    h.now += UNIT_RETRY_MS;
    await coordinator();
    const third = sent.splice(0);
    const current = heldClient(deployment.endpoints.dynamodb, Number.POSITIVE_INFINITY);
    const currentReads = countLogReads(current.client);
    expect(await deliver(third, current.client)).toEqual([]);

    // Assess: no log read, and the window [60 s, 120 s) holds host-0's and host-2's events
    expect(third.length).toBeGreaterThan(0);
    expect(third.every((m) => m.shipped !== undefined)).toBe(true);
    expect(currentReads()).toBe(0);
    const next = (await h.finalResults()).filter((r) => r.start === 60_000).map((r) => [r.key, r.count]);
    expect(next.sort()).toEqual([
      ["host-0", 1],
      ["host-2", 1],
    ]);
  });

  it("report a message no closer can act on as a failed batch item, and close the others of the batch", async () => {
    // Prepare
    const { p, h, sent, coordinator, keysOf } = setUp();
    await h.ingest(EVENTS);
    await coordinator();
    const [good] = sent;
    if (!good) throw new Error("no unit sent");
    const closer = createCloserHandler({
      dynamodb: deployment.dynamodb,
      stateTable: deployment.names.stateTable,
      resultsTable: deployment.names.resultsTable,
      pipelines: [p],
      concurrency: 4,
      tombstoneRetentionMs: 86_400_000,
      now: () => h.now,
    });

    // Act
    const answer = await closer(
      sqsEvent([
        "not json",
        JSON.stringify({ ...good, last: good.last + 1 }),
        JSON.stringify({ ...good, epoch: good.epoch + 1_000 }),
        JSON.stringify({ ...good, extra: true }),
        JSON.stringify(good),
        JSON.stringify({ ...good, pipeline: "gone" }),
      ]),
      testContext(),
    );

    // Assess: the malformed, the range that is no unit's, the epoch not stored and the unknown field fail;
    // the good unit and the undeployed pipeline's (nothing to close) succeed
    expect(answer.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(["m0", "m1", "m2", "m3"]);
    expect(rows(await h.finalResults())).toEqual(bruteForce(keysOf([good])));
  });

  it("answer each of two invocations at once with its own failed items only (the local stack runs closers side by side)", async () => {
    // Prepare
    const { p, h, sent, coordinator } = setUp();
    await h.ingest(EVENTS);
    await coordinator();
    const [good] = sent;
    if (!good) throw new Error("no unit sent");
    const closer = createCloserHandler({
      dynamodb: deployment.dynamodb,
      stateTable: deployment.names.stateTable,
      resultsTable: deployment.names.resultsTable,
      pipelines: [p],
      concurrency: 4,
      tombstoneRetentionMs: 86_400_000,
      now: () => h.now,
    });
    const failing = { Records: sqsEvent(["x", "not json"]).Records.slice(1) };

    // Act
    const [goodAnswer, failingAnswer] = await Promise.all([
      closer(sqsEvent([JSON.stringify(good)]), testContext()),
      closer(failing, testContext()),
    ]);

    // Assess
    expect(goodAnswer.batchItemFailures).toEqual([]);
    expect(failingAnswer.batchItemFailures).toEqual([{ itemIdentifier: "m1" }]);
  });
});

/** Counts the client's requests that touch session sets: their items (`s#`/`h#` sort keys) or the due index. */
function countSessionRequests(client: DynamoDBClient): { count: () => number; stop: () => void } {
  let requests = 0;
  const name = "countSessionRequests";
  client.middlewareStack.add(
    (next) => async (args) => {
      const input = args.input as { IndexName?: string; Key?: { sk?: { S?: string } } };
      const sk = input.Key?.sk?.S ?? "";
      if (input.IndexName === "due" || sk.startsWith("s#") || sk.startsWith("h#")) requests++;
      return next(args);
    },
    { step: "initialize", name },
  );
  return { count: () => requests, stop: () => void client.middlewareStack.remove(name) };
}

describe("session pipelines' closing units", () => {
  const GAP = 10_000;
  /** every key one session of two events in [1 s, 6 s); one more event at 100 s moves the watermark past them */
  const SESSION_EVENTS = [
    ...KEYS.flatMap((host, i) => [
      { host, ts: 1_000 + i * 10, v: i },
      { host, ts: 5_000 + i * 10, v: 1 },
    ]),
    { host: "host-0", ts: 100_000, v: 0 },
  ];
  /** [key, start, end, count, sum] of each session the events make, merged here by brute force */
  const sessionsOf = (keys: readonly string[]) =>
    keys
      .flatMap((host) => {
        const times = SESSION_EVENTS.filter((e) => e.host === host).sort((a, b) => a.ts - b.ts);
        const out: (string | number)[][] = [];
        for (const e of times) {
          const last = out[out.length - 1];
          if (last && (last[2] as number) >= e.ts) {
            last[2] = e.ts + GAP;
            last[3] = (last[3] as number) + 1;
            last[4] = (last[4] as number) + e.v;
          } else out.push([host, e.ts, e.ts + GAP, 1, e.v]);
        }
        return out.filter((s) => (s[2] as number) <= 100_000);
      })
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  const sessionRows = (results: readonly WindowResult[]) =>
    results.map((r) => [r.key, r.start, r.end, r.count, r.values.s as number]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));

  it("close each range's keys in the closer; the coordinator reads no session set and no due index", async () => {
    // Prepare
    const { h, sent, coordinator, deliver, marks, keysOf } = setUp({ window: { type: "session", gap: "10s" } });
    await h.ingest(SESSION_EVENTS);
    const coordinatorRequests = countSessionRequests(deployment.dynamodb);

    // Act: the coordinator sends the units
    let report: Awaited<ReturnType<typeof coordinator>>[number] | undefined;
    try {
      [report] = await coordinator();
    } finally {
      coordinatorRequests.stop();
    }

    // Assess: ranges of key groups, as for fixed windows, and nothing read or closed key by key
    expect(report?.dispatched).toBe(KEY_GROUPS / GROUPS_PER_UNIT);
    expect(sent.map((m) => [m.first, m.last])).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
      [6, 7],
    ]);
    expect(coordinatorRequests.count()).toBe(0);
    expect(await h.finalResults()).toEqual([]);

    // Act: every unit but the last, then the last
    const [last, ...others] = [...sent].reverse();
    expect(await deliver(others)).toEqual([]);
    const before = sessionRows(await h.finalResults());
    expect((await marks()).closedEpoch).toBeUndefined();
    expect(await deliver(last ? [last] : [])).toEqual([]);

    // Assess: each unit fired its own groups' sessions, and the pipeline is closed at the epoch
    expect(keysOf(others).length).toBeLessThan(KEYS.length);
    expect(before).toEqual(sessionsOf(keysOf(others)));
    expect(sessionRows(await h.finalResults())).toEqual(sessionsOf(KEYS));
    expect(await marks()).toMatchObject({ closedEpoch: sent[0]?.epoch });
  });

  it("fire a session that grew after it fired when the next run's units come, the watermark held", async () => {
    // Prepare: the sessions fired
    const { h, sent, coordinator, deliver } = setUp({ window: { type: "session", gap: "10s" }, allowedLateness: "1h" });
    await h.ingest(SESSION_EVENTS);
    await coordinator();
    expect(await deliver(sent)).toEqual([]);
    const first = sent.length;

    // Act: a late event (within the allowed lateness) grows host-3's session; the watermark does not move
    await h.ingest([{ host: "host-3", ts: 12_000, v: 100 }]);
    await coordinator();
    expect(await deliver(sent.slice(first))).toEqual([]);

    // Assess: host-3's grown session holding all three events supersedes the one that fired; the others as they were
    const results = await h.finalResults();
    const host3 = results.filter((r) => r.key === "host-3");
    expect(host3.map((r) => [r.start, r.end, r.count, r.values.s])).toEqual([[1_030, 22_000, 3, 104]]);
    expect(sessionRows(results.filter((r) => r.key !== "host-3"))).toEqual(sessionsOf(KEYS.filter((k) => k !== "host-3")));
    expect(sent.length).toBeGreaterThan(first);
  });

  it("close the sessions of a key too long for a sort key (named by its hash there)", async () => {
    // Prepare: a 1,900-byte key (DynamoDB sort keys hold 1,024 bytes)
    const { h, sent, coordinator, deliver } = setUp({ window: { type: "session", gap: "10s" } });
    const long = "ü".repeat(950);
    await h.ingest([
      { host: long, ts: 1_000, v: 1 },
      { host: long, ts: 4_000, v: 2 },
      { host: "short", ts: 100_000, v: 0 },
    ]);

    // Act
    await coordinator();
    expect(await deliver(sent)).toEqual([]);

    // Assess
    const results = await h.finalResults();
    expect(results.map((r) => [r.key, r.start, r.end, r.count, r.values.s])).toEqual([[long, 1_000, 14_000, 2, 3]]);
  });
});
