import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/helpers/global-setup.ts"],
    env: {
      POWERTOOLS_METRICS_DISABLED: "true",
      POWERTOOLS_LOG_LEVEL: "SILENT",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration files share the emulators; two at a time keeps a 2-core machine responsive.
    maxWorkers: 2,
  },
});
