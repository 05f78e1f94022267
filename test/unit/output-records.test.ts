// Output records pack results by bytes (shared/aws/outputs/kinesis.ts): JSON Lines of one key group's
// results up to one 25 KB PUT payload unit, checked against the results put in.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OUTPUT_RECORD_BYTES, outputRecordOf, outputRecordsOf, resultsOfRecord } from "../../shared/aws/outputs/kinesis.ts";
import { keyGroupOf } from "../../shared/core/keygroups.ts";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";
import type { WindowResult } from "../../shared/core/types.ts";

const [pipeline] = parsePipelines({
  pipelines: [
    { name: "p", key: "k", eventTime: "ts", window: { type: "tumbling", size: "1m" }, aggregates: { n: { count: true } }, keyGroups: 8 },
  ],
});
if (!pipeline) throw new Error("no pipeline");

const resultOf = (key: string, start: number, version: number, pad = 0): WindowResult => ({
  pipeline: "p",
  key,
  start,
  end: start + 60_000,
  values: { n: version, ...(pad > 0 ? { note: "x".repeat(pad) } : {}) } as unknown as WindowResult["values"],
  count: version,
  version,
  firedAt: 0,
  final: true,
});

describe("output records", () => {
  it("hold every result once, a key group's a record up to 25 KB, a key's results in the order given", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ key: fc.string({ minLength: 1, maxLength: 400 }), start: fc.nat({ max: 50 }), pad: fc.nat({ max: 3_000 }) }), {
          maxLength: 300,
        }),
        (specs) => {
          const results = specs.map((r, i) => resultOf(r.key, r.start * 60_000, i + 1, r.pad));
          const records = outputRecordsOf(results, [pipeline]);
          const out = records.flatMap((r) => resultsOfRecord(r.Data ?? new Uint8Array()).map((x) => ({ x, pk: r.PartitionKey })));
          // every result once, as the single-result form, each under its key group's partition key
          expect(out.map(({ x }) => x).sort((a, b) => Number(a.version) - Number(b.version))).toEqual(
            results.map((r) => JSON.parse(JSON.stringify(outputRecordOf(r)))),
          );
          for (const { x, pk } of out) expect(pk).toBe(`p/g${keyGroupOf(String(x.key), 8)}`);
          // a key's results in the order given (on one shard: one partition key)
          const byKey = new Map<string, number[]>();
          for (const { x } of out) byKey.set(String(x.key), [...(byKey.get(String(x.key)) ?? []), Number(x.version)]);
          for (const versions of byKey.values()) expect(versions).toEqual([...versions].sort((a, b) => a - b));
          // packed: no record over one payload unit unless it holds one result; no two records of a group that would fit in one
          for (const r of records) {
            const n = resultsOfRecord(r.Data ?? new Uint8Array()).length;
            if (n > 1) expect(r.Data?.byteLength).toBeLessThanOrEqual(OUTPUT_RECORD_BYTES);
          }
          const perGroup = new Map<string, number>();
          for (const r of records)
            perGroup.set(r.PartitionKey ?? "", (perGroup.get(r.PartitionKey ?? "") ?? 0) + (r.Data?.byteLength ?? 0));
          const groupRecords = new Map<string, number>();
          for (const r of records) groupRecords.set(r.PartitionKey ?? "", (groupRecords.get(r.PartitionKey ?? "") ?? 0) + 1);
          for (const [pk, bytes] of perGroup)
            expect(groupRecords.get(pk)).toBeLessThanOrEqual(Math.ceil(bytes / (OUTPUT_RECORD_BYTES - 4_000)) + 1);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("packs 10,000 small results into far fewer records than results", () => {
    const results = Array.from({ length: 10_000 }, (_, i) => resultOf(`host-${i}`, 0, 1));
    const records = outputRecordsOf(results, [pipeline]);
    expect(records.length).toBeLessThan(10_000 / 50);
    expect(records.length).toBeGreaterThanOrEqual(8);
  });

  it("carry what a consumer needs of a result: sessions' supersedes and HAVING's retraction, and no internal field", () => {
    const result: WindowResult = {
      ...resultOf("k", 0, 3),
      supersedes: [{ start: 0, end: 30_000 }],
      supersededBy: { start: 0, end: 90_000 },
      retracted: true,
    };
    expect(outputRecordOf(result)).toEqual({
      type: "window",
      idempotencyKey: "p/k/0/3",
      pipeline: "p",
      key: "k",
      start: 0,
      end: 60_000,
      values: { n: 3 },
      count: 3,
      version: 3,
      final: true,
      firedAt: 0,
      supersedes: [{ start: 0, end: 30_000 }],
      retracted: true,
    });
    expect(outputRecordOf(resultOf("k", 0, 1))).not.toHaveProperty("retracted");
  });

  it("puts a result larger than a payload unit in a record of its own", () => {
    const big = resultOf("a", 0, 2, 30_000);
    const records = outputRecordsOf([resultOf("a", 0, 1), big, resultOf("a", 0, 3)], [pipeline]);
    expect(records.map((r) => resultsOfRecord(r.Data ?? new Uint8Array()).map((x) => x.version))).toEqual([[1], [2], [3]]);
  });
});
