#!/usr/bin/env node
// The `panes` command: runs the TypeScript sources through tsx (no build step).
import { register } from "tsx/esm/api";

process.env.POWERTOOLS_METRICS_DISABLED ??= "true";
// `panes chaos` injects faults the functions log as the errors they are in AWS, hundreds a run; its report
// counts every fault by kind. (Set before the logger exists: Powertools resets a level set later.)
process.env.POWERTOOLS_LOG_LEVEL ??= process.argv[2] === "chaos" ? "CRITICAL" : "WARN";
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
register();
await import("../tools/cli/main.ts");
