// Fuzzing the batch planner, as middy fuzzes its parsers: whatever bytes arrive, every record is
// accounted for — applied to a pane, dead-lettered with a reason, or not matched by any pipeline.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { planBatch } from "../../shared/core/ingest/plan.ts";
import { parsePipelines } from "../../shared/core/pipelines/parse.ts";
import type { StreamRecord } from "../../shared/core/types.ts";

const pipelines = parsePipelines({
  pipelines: [
    {
      name: "cpu",
      key: "host",
      eventTime: "ts",
      filter: { metric: "cpu" },
      window: { type: "tumbling", size: "1m" },
      aggregates: { avg: { avg: "value" } },
    },
    { name: "all", key: "host", eventTime: "ts", window: { type: "session", gap: "30s" }, aggregates: { n: { count: true } } },
  ],
});

const plausible = fc.record(
  {
    host: fc.oneof(fc.constantFrom("a", "b", "c"), fc.integer(), fc.constant(null), fc.constant("")),
    metric: fc.constantFrom("cpu", "mem"),
    ts: fc.oneof(fc.integer({ min: 0, max: 10_000_000 }), fc.constant("2026-01-01T00:00:00Z"), fc.string()),
    value: fc.oneof(fc.double(), fc.string()),
  },
  { requiredKeys: [] },
);

const payload = fc.oneof(
  plausible.map((event) => new TextEncoder().encode(JSON.stringify(event))),
  fc.uint8Array({ maxLength: 64 }),
  fc.string().map((s) => new TextEncoder().encode(s)),
);

describe("batch planning (fuzz)", () => {
  it("accounts for every record: applied, dead-lettered with a reason, or matched by no pipeline", () => {
    fc.assert(
      fc.property(
        fc.array(payload, { maxLength: 40 }),
        fc.option(fc.integer({ min: 0, max: 10_000_000 }), { nil: undefined }),
        (datas, watermark) => {
          const records: StreamRecord[] = datas.map((data, i) => ({
            shardId: "shardId-000000000000",
            sequenceNumber: String(49_000_000_000_000_000_000n + BigInt(i)),
            partitionKey: "k",
            data,
            arrivedAt: 0,
          }));
          const watermarks = new Map(watermark === undefined ? [] : pipelines.map((p) => [p.name, watermark]));
          const plan = planBatch(pipelines, records, watermarks, 0);
          // Contributions are identified by position (sequence number, then KPL sub-sequence number).
          const seqOf = (position: bigint) => (position >> 32n).toString();
          const applied = [...plan.panes.map((p) => p.delta), ...plan.sessions].flatMap((d) =>
            d.contributions.map((c) => `${d.pipeline}/${seqOf(c.sequenceNumber)}`),
          );
          const late = plan.tooLate.flatMap(({ delta, letters }) =>
            delta.contributions.map((c) => {
              expect(letters.get(c.sequenceNumber)?.reason).toMatch(/too late for every window/);
              return `${delta.pipeline}/${seqOf(c.sequenceNumber)}`;
            }),
          );
          for (const letter of plan.deadLetters) expect(letter.reason.length).toBeGreaterThan(0);
          // each (record, pipeline) is applied at most once and never both applied and dead-lettered
          const letters = [...plan.deadLetters.filter((l) => l.pipeline !== "*").map((l) => `${l.pipeline}/${l.sequenceNumber}`), ...late];
          expect(new Set(applied).size).toBe(applied.length);
          for (const id of letters) expect(applied).not.toContain(id);
          // a record no pipeline could read is dead-lettered once, for all
          const unreadable = plan.deadLetters.filter((l) => l.pipeline === "*").length;
          const matched = new Set([...applied, ...letters].map((id) => id.split("/")[1]));
          expect(matched.size + unreadable).toBeLessThanOrEqual(records.length);
          for (const record of records) {
            const text = new TextDecoder().decode(record.data);
            let isObject = false;
            try {
              const v = JSON.parse(text);
              isObject = v !== null && typeof v === "object" && !Array.isArray(v);
            } catch {}
            if (!isObject)
              expect(plan.deadLetters.some((l) => l.sequenceNumber === record.sequenceNumber && l.pipeline === "*")).toBe(true);
            // "all" has no filter: every object record is either applied to it or dead-lettered for it
            else expect(applied.includes(`all/${record.sequenceNumber}`) || letters.includes(`all/${record.sequenceNumber}`)).toBe(true);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});
