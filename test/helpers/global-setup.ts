// Starts the real emulators once for the whole run (dynalite, kinesalite, kinesis-local); each test
// makes its own streams and tables with unique names.
import type {} from "vitest";
import type { TestProject } from "vitest/node";
import { type Emulator, startDynalite, startKinesis } from "../../tools/local/emulators.ts";

declare module "vitest" {
  export interface ProvidedContext {
    emulators: { dynamodb: string; kinesalite: string; kinesisLocal: string };
  }
}

let running: Emulator[] = [];

export async function setup(project: TestProject): Promise<void> {
  running = await Promise.all([startDynalite(), startKinesis("kinesalite"), startKinesis("kinesis-local")]);
  const [dynamodb, kinesalite, kinesisLocal] = running as [Emulator, Emulator, Emulator];
  project.provide("emulators", { dynamodb: dynamodb.endpoint, kinesalite: kinesalite.endpoint, kinesisLocal: kinesisLocal.endpoint });
}

export async function teardown(): Promise<void> {
  await Promise.all(running.map((e) => e.stop()));
}
