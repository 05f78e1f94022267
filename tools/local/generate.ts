// Generates monitoring events (cpu and mem per host) for demos, replays and tests: deterministic for a
// seed, with bounded disorder (each event is at most `disorderMs` behind the latest one before it).

export interface MetricEvent {
  host: string;
  metric: "cpu" | "mem";
  ts: number;
  value: number;
}

export interface GenerateOptions {
  hosts: number;
  events: number;
  /** first event time, epoch ms */
  start: number;
  /** event-time step between consecutive events of the whole stream, ms */
  stepMs: number;
  /** how far behind the stream's latest time an event may be, ms */
  disorderMs: number;
  seed: number;
}

/** mulberry32: a small, fast, seedable PRNG. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function* generateMetrics(options: GenerateOptions): Generator<MetricEvent> {
  const random = seededRandom(options.seed);
  let clock = options.start;
  for (let i = 0; i < options.events; i++) {
    clock += Math.floor(random() * options.stepMs * 2);
    const host = `host-${String(Math.floor(random() * options.hosts)).padStart(3, "0")}`;
    const metric = random() < 0.5 ? "cpu" : "mem";
    const ts = clock - Math.floor(random() * options.disorderMs);
    const value = metric === "cpu" ? Math.round(random() * 10000) / 100 : 512 + Math.round(random() * 15_360);
    yield { host, metric, ts: Math.max(0, ts), value };
  }
}
