// Test projects: unit (pure, no emulators), infra (the synthesized template), integration (the real
// emulators, started once in globalSetup) — with the tests of real clients, the browser (Debian's
// Chromium) and the AWS CLI, where those are installed (.ci/run installs both; where one is missing
// its tests are left out here, with a line that says so, never skipped inside a test file).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { defineConfig } from "vitest/config";

const chromium = process.env.PANES_CHROMIUM ?? "/usr/bin/chromium";
const hasChromium = existsSync(chromium);
const hasAwsCli = (() => {
  try {
    execFileSync("aws", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
const inCi = process.env.CI === "true";
if (!hasChromium && !inCi)
  console.warn(`panes: browser tests left out: no Chromium at ${chromium} (apt-get install chromium; CI installs it)`);
if (!hasAwsCli && !inCi) console.warn("panes: AWS CLI tests left out: no `aws` on the PATH (apt-get install awscli; CI installs it)");

const common = {
  env: {
    POWERTOOLS_METRICS_DISABLED: "true",
    POWERTOOLS_LOG_LEVEL: "SILENT",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  },
  testTimeout: 120_000,
  hookTimeout: 120_000,
};

export default defineConfig({
  test: {
    // Integration files share the emulators; two at a time keeps a 2-core machine responsive.
    maxWorkers: 2,
    projects: [
      { test: { ...common, name: "unit", include: ["test/unit/**/*.test.ts"] } },
      { test: { ...common, name: "infra", include: ["test/infra/**/*.test.ts"] } },
      {
        test: {
          ...common,
          name: "integration",
          include: [
            "test/integration/**/*.test.ts",
            ...(hasChromium || inCi ? ["test/browser/**/*.test.ts"] : []),
            ...(hasAwsCli || inCi ? ["test/clients/**/*.test.ts"] : []),
          ],
          globalSetup: ["test/helpers/global-setup.ts"],
        },
      },
    ],
  },
});
