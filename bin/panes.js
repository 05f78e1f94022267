#!/usr/bin/env node
// The `panes` command: runs the TypeScript sources through tsx (no build step).
import { register } from "tsx/esm/api";

process.env.POWERTOOLS_METRICS_DISABLED ??= "true";
process.env.POWERTOOLS_LOG_LEVEL ??= "WARN";
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
register();
await import("../tools/cli/main.ts");
