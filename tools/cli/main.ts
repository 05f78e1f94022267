// The `panes` command line: parses the arguments with the declared program (program.ts) and runs the command.
import { CommanderError } from "commander";
import { program, unknownOptionIn } from "./program.ts";

// `panes status | head`: a reader that stops reading is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
}

try {
  const unknown = unknownOptionIn(process.argv.slice(2));
  if (unknown) unknown.command.error(unknown.message, { exitCode: 2, code: "commander.unknownOption" });
  await program.parseAsync(process.argv);
} catch (error) {
  if (!(error instanceof CommanderError)) throw error;
  process.exitCode = error.exitCode === 0 ? 0 : 2;
}
