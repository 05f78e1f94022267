// The AWS CLI the client tests use: Debian's package (awscli, 2.9 on Debian 12), which is what a user
// of these machines has; PANES_AWS_CLI names another. vitest.config.ts leaves the tests out without it.
import { execFileSync } from "node:child_process";

export const AWS_CLI = process.env.PANES_AWS_CLI ?? "/usr/bin/aws";

/** The CLI's major version (2 needs --cli-binary-format raw-in-base64-out to send raw data). */
export function awsCliMajorVersion(): number {
  const text = execFileSync(AWS_CLI, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  return Number(text.match(/aws-cli\/(\d+)/)?.[1] ?? 0);
}
