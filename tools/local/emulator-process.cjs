// Runs an emulator's command-line script in this process and exits when the process that started it
// is gone, so an emulator is never left behind, even when its parent was killed with SIGKILL.
// Usage: node emulator-process.cjs <script> [args...]
"use strict";
const parent = process.ppid;
const [script, ...args] = process.argv.slice(2);
process.argv = [process.argv[0], script, ...args];
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 500).unref();
require(script);
