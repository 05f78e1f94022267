// The `npm start` demo: a producer of per-host cpu and memory samples on an accelerated event clock,
// with out-of-order samples (within the pipelines' outOfOrderness), a few too-late ones and a few
// invalid records, so closed windows, late data and dead letters all show up within seconds. The clock
// starts in the past and never runs ahead of the wall clock: once it catches up it keeps wall time,
// so events a user produces with wall-clock times are on time, and none is ever "from the future".
import type { KinesisClient } from "@aws-sdk/client-kinesis";
import { putRecordsWithRetry } from "../../shared/aws/kinesis/put-records.ts";
import { seededRandom } from "./generate.ts";

export interface DemoOptions {
  streamName: string;
  hosts: number;
  /** event-time ms per wall-clock ms */
  speed: number;
  /** event time of the first sample */
  start: number;
  sampleEveryMs: number;
  /** samples lag up to this much behind the event clock */
  disorderMs: number;
  tickMs: number;
}

export interface DemoProducer {
  stats: { produced: number; invalid: number; tooLate: number };
  /** the demo's current event time */
  eventClock(): number;
  stop(): Promise<void>;
}

export function startDemoProducer(kinesis: KinesisClient, options: DemoOptions): DemoProducer {
  const random = seededRandom(Date.now() & 0x7fffffff);
  const stats = { produced: 0, invalid: 0, tooLate: 0 };
  const wallStart = Date.now();
  const eventClock = () => Math.min(options.start + (Date.now() - wallStart) * options.speed, Date.now());
  // Too-late samples are ten minutes late, plus what the event clock runs in half a minute of wall time
  // (hours at the start's speed-up): late even for an ingest container that learned the watermark a few
  // seconds ago, on a loaded machine, while the clock races.
  const tooLateBy = () =>
    10 * 60_000 + 30_000 * (options.start + (Date.now() - wallStart) * options.speed < Date.now() ? options.speed : 1);
  const hosts = Array.from({ length: options.hosts }, (_, i) => ({
    name: `web-${i + 1}`,
    cpuBase: 20 + 50 * random(),
    memMb: 2048 + 4096 * random(),
  }));
  let nextSample = options.start;
  let stopped = false;

  const tick = async () => {
    const now = eventClock();
    const records: { PartitionKey: string; Data: Uint8Array }[] = [];
    for (; nextSample <= now; nextSample += options.sampleEveryMs) {
      for (const host of hosts) {
        host.memMb = Math.max(512, Math.min(16_384, host.memMb + (random() - 0.5) * 256));
        const phase = (nextSample / 3_600_000) * 2 * Math.PI;
        const cpu = Math.max(0, Math.min(100, host.cpuBase + 15 * Math.sin(phase) + (random() - 0.5) * 20));
        for (const sample of [
          { host: host.name, metric: "cpu", value: Math.round(cpu * 10) / 10 },
          { host: host.name, metric: "mem", value: Math.round(host.memMb) },
        ]) {
          let ts = nextSample - Math.floor(random() * options.disorderMs);
          let body: object = { ...sample, ts: new Date(ts).toISOString() };
          const roll = random();
          if (roll < 0.002) {
            body = { metric: sample.metric, ts: new Date(ts).toISOString(), value: sample.value }; // no host: invalid
            stats.invalid++;
          } else if (roll < 0.006) {
            ts -= tooLateBy(); // past the watermark and the allowed lateness
            body = { ...sample, ts: new Date(ts).toISOString() };
            stats.tooLate++;
          }
          records.push({ PartitionKey: sample.host, Data: Buffer.from(JSON.stringify(body)) });
        }
      }
    }
    if (records.length > 0) {
      await putRecordsWithRetry(kinesis, { streamName: options.streamName }, records);
      stats.produced += records.length;
    }
  };

  const loop = (async () => {
    while (!stopped) {
      await tick().catch(() => undefined);
      await new Promise((r) => setTimeout(r, options.tickMs));
    }
  })();

  return {
    stats,
    eventClock,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
