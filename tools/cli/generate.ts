import { createWriteStream } from "node:fs";
import { generateMetrics } from "../local/generate.ts";
import { runCommand } from "./connection.ts";

export function runGenerate(options: {
  events: number;
  hosts: number;
  start: number;
  step: number;
  disorder: number;
  seed: number;
  output: string;
}) {
  return runCommand(async () => {
    const out = options.output === "-" ? process.stdout : createWriteStream(options.output);
    for (const event of generateMetrics({ ...options, stepMs: options.step, disorderMs: options.disorder })) {
      if (!out.write(`${JSON.stringify(event)}\n`)) await new Promise<void>((r) => out.once("drain", () => r()));
    }
    if (out !== process.stdout)
      await new Promise<void>((resolve, reject) =>
        (out as ReturnType<typeof createWriteStream>).end((e?: Error | null) => (e ? reject(e) : resolve())),
      );
  });
}
