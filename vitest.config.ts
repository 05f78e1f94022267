// Test projects: unit (pure, no emulators), infra (the synthesized template), integration (the real
// emulators, started once in globalSetup) — with the tests of real clients, the browser (Debian's
// Chromium) and the AWS CLI, where those are installed (.ci/run installs both; where one is missing
// its tests are left out here, with a line that says so, never skipped inside a test file).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "vitest/config";

const chromium = process.env.PANES_CHROMIUM ?? "/usr/bin/chromium";
const hasChromium = existsSync(chromium);
const awsCli = process.env.PANES_AWS_CLI ?? "/usr/bin/aws";
const hasAwsCli = existsSync(awsCli);
const inCi = process.env.CI === "true";

// Everything a run puts in the system's temp folder (test folders, CDK's assemblies, what the
// processes the tests start write) goes into one folder of its own, removed when the run ends.
if (!process.env.PANES_TEST_TMPDIR) {
  const folder = mkdtempSync(join(tmpdir(), "panes-test-run-"));
  process.env.PANES_TEST_TMPDIR = folder;
  process.env.TMPDIR = folder;
  process.once("exit", () => rmSync(folder, { recursive: true, force: true }));
}
if (!hasChromium && !inCi)
  console.warn(`panes: browser tests left out: no Chromium at ${chromium} (apt-get install chromium; CI installs it)`);
if (!hasAwsCli && !inCi) console.warn(`panes: AWS CLI tests left out: no AWS CLI at ${awsCli} (apt-get install awscli; CI installs it)`);

const common = {
  env: {
    POWERTOOLS_METRICS_DISABLED: "true",
    POWERTOOLS_LOG_LEVEL: "SILENT",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  },
  // Deadlines for a test that is stuck, not measures: on a two-core machine shared with other work a
  // test's work takes several times as long as on a quiet one (2026-12-05: dlq-list, 37 s alone, passed
  // 120 s beside a chaos run and a second suite). Tests wait on conditions; only a broken one waits this long.
  testTimeout: 600_000,
  hookTimeout: 600_000,
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
