// The whole ingest and closing path fuzzed on the emulators (tools/local/fuzz.ts says what is
// asserted); `npm run chaos` runs the same property longer.
import { describe, it } from "vitest";
import { fuzzIngestAndClosing } from "../../tools/local/fuzz.ts";
import { emulatedDeployment } from "../helpers/emulated.ts";

describe("whatever a producer sends", () => {
  it("every batch completes, closing never fails, and every record is counted or dead-lettered, exactly once", async () => {
    const deployment = await emulatedDeployment("fuzz", 1);
    const { names } = deployment;
    await fuzzIngestAndClosing({
      tables: {
        dynamodb: deployment.dynamodb,
        stateTable: names.stateTable,
        resultsTable: names.resultsTable,
        deadLetterTable: names.deadLetterTable,
      },
      runs: 25,
    });
  });
});
