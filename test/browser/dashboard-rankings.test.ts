// Window Top-N on the dashboard in Chromium: `npm start -- --pipelines examples/top-hosts.sql`, the
// command the README prints, shows each ranking's row numbers as lines and its newest rows with their
// host; the rows are those `panes results` gives for the newest ranking.

import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { expect, it } from "vitest";
import { REPO, runPanes, startPanes } from "../helpers/processes.ts";
import { readmeText } from "../helpers/readme.ts";

const CHROMIUM = process.env.PANES_CHROMIUM ?? "/usr/bin/chromium";
const BUDGET_MS = 420_000;

it(
  "charts a ranking by row number and lists its newest rows with their host, as panes results gives them",
  async () => {
    // Prepare: the README's command, its pipelines file from the repository
    const command = readmeText().match(/`npm start -- (--pipelines examples\/top-hosts\.sql)`/)?.[1];
    expect(command).toBeDefined();
    const [flag, file] = (command as string).split(" ") as [string, string];
    const cwd = await mkdtemp(join(tmpdir(), "panes-dashboard-top-"));
    const panes = startPanes(["start", flag, join(REPO, file), "--speed", "600"], cwd);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu"] });
    try {
      const url = (await panes.waitFor(/^Dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/m))[1] as string;
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      const section = 'section[data-pipeline="busiest-hosts-5m"]';

      // Act
      await page.goto(url);
      await page.waitForFunction((s) => document.querySelectorAll(`${s} .results-chart .u-legend .u-series`).length === 4, section, {
        timeout: BUDGET_MS,
      });
      await page.waitForFunction((s) => document.querySelectorAll(`${s} table.windows tbody tr th`).length >= 6, section, {
        timeout: BUDGET_MS,
      });

      // Assess: one line per row number, the rows with their host
      const legend = await page.locator(`${section} .results-chart .u-legend .u-series .u-label`).allTextContents();
      expect(legend.slice(1)).toEqual(["rank #1", "rank #2", "rank #3"]);
      expect(await page.locator(`${section} table.windows thead th`).allTextContents()).toEqual([
        "rank",
        "host",
        "Window",
        "avg of value",
        "count (events)",
        "Version",
      ]);
      const rows = await page
        .locator(`${section} table.windows tbody tr`)
        .evaluateAll((trs) => trs.map((tr) => [tr.querySelector("th")?.textContent, tr.querySelector("td")?.textContent]));
      // the newest ranking the page shows is one `panes results` has, row for row
      const results = (await runPanes(["results", "--pipeline", "busiest-hosts-5m", "--json"], { cwd })).stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { end: number; values: { rows: { host: string | null; rownum: number }[] } });
      const shown = rows.slice(0, 3);
      const match = results.some(
        (r) =>
          r.values.rows.length === 3 &&
          // the demo's events without a host are the NULL group of a SQL key, as in Flink: shown as NULL
          r.values.rows.every((row, i) => shown[i]?.[0] === `#${row.rownum}` && shown[i]?.[1] === (row.host ?? "NULL")),
      );
      expect(match, JSON.stringify(shown)).toBe(true);
      expect(errors).toEqual([]);
      // the other form (over a window's rows): its rows' numbers, by row number
      const peaks = 'section[data-pipeline="peak-mem-10m"]';
      await page.waitForFunction((s) => document.querySelectorAll(`${s} .results-chart .u-legend .u-series`).length === 3, peaks, {
        timeout: BUDGET_MS,
      });
      expect((await page.locator(`${peaks} .results-chart .u-legend .u-series .u-label`).allTextContents()).slice(1)).toEqual([
        "rank #1",
        "rank #2",
      ]);
    } finally {
      await browser.close();
      panes.child.kill("SIGINT");
      await panes.exited;
    }
  },
  BUDGET_MS + 120_000,
);
