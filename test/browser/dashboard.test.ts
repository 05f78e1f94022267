import { mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WindowRow } from "../../tools/dashboard/model.ts";
import { REPO, runPanes, startPanes, type Watched } from "../helpers/processes.ts";

const CHROMIUM = process.env.PANES_CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = join(REPO, "test/artifacts");
const ZONE = "Australia/Adelaide"; // UTC+09:30 or +10:30: local times differ from UTC in hours and minutes

/** A result as `panes results --json` prints it: the fields the dashboard's table shows. */
type Result = Omit<WindowRow, "firedAt">;

const hhmm = (ms: number, timeZone: string) =>
  new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(ms);

/** Pixels of the canvas close to an RGB colour: what a drawn series left on the chart. */
function countPixels(page: Page, selector: string, rgb: [number, number, number]): Promise<number> {
  return page.evaluate(
    ({ selector, rgb }) => {
      const canvas = document.querySelector<HTMLCanvasElement>(selector);
      const context = canvas?.getContext("2d");
      if (!canvas || !context) return 0;
      const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
      let n = 0;
      for (let i = 0; i < data.length; i += 4)
        if (Math.abs((data[i] ?? 0) - rgb[0]) + Math.abs((data[i + 1] ?? 0) - rgb[1]) + Math.abs((data[i + 2] ?? 0) - rgb[2]) < 30) n++;
      return n;
    },
    { selector, rgb },
  );
}

describe("the dashboard in Chromium", () => {
  let panes: Watched;
  let cwd: string;
  let url: string;
  let browser: Browser;

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    cwd = await mkdtemp(join(tmpdir(), "panes-dashboard-"));
    panes = startPanes(["start", "--speed", "600"], cwd);
    url = (await panes.waitFor(/^Dashboard: (http:\/\/127\.0\.0\.1:\d+\/)$/m))[1] as string;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    panes?.child.kill("SIGINT");
    await panes?.exited;
  });

  it("draws results per key, fills the windows table with what the results table holds, and stays live", async () => {
    // Prepare
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, timezoneId: ZONE, locale: "en-GB" });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    const failed: string[] = [];
    page.on("response", (response) => {
      if (response.status() >= 400) failed.push(`${response.status()} ${response.url()}`);
    });
    const section = 'section[data-pipeline="cpu-avg-5m"]';

    // Act
    await page.goto(url);
    await page.waitForFunction(
      (s) => Number(document.querySelector(`${s} .results-chart .plot`)?.getAttribute("data-points")) >= 12,
      section,
      {
        timeout: 90_000,
      },
    );
    await page.waitForFunction((s) => document.querySelectorAll(`${s} table.windows tbody tr th`).length >= 6, section, {
      timeout: 90_000,
    });
    await page.waitForFunction(
      (s) => Number(document.querySelector(`${s} .progress-chart .plot`)?.getAttribute("data-points")) >= 3,
      section,
      { timeout: 30_000 },
    );

    // Assess: the chart drew its points (the first key's colour is on the canvas), with labelled axes
    expect(await countPixels(page, `${section} .results-chart canvas`, [0x1f, 0x77, 0xb4])).toBeGreaterThan(50);
    // the axes' labels (drawn on the canvas) are also the charts' accessible names
    expect(await page.locator(`${section} .results-chart .plot`).getAttribute("aria-label")).toMatch(
      new RegExp(
        `^Chart\\. Horizontal axis: Window end \\(event time, ${ZONE}\\)\\. Vertical axis: avg of value \\(%\\)\\. Lines: host web-\\d+(, host web-\\d+){4}\\.$`,
      ),
    );
    expect(await page.locator(`${section} .progress-chart .plot`).getAttribute("aria-label")).toMatch(
      new RegExp(`^Chart\\. Horizontal axis: Wall clock \\(${ZONE}\\)\\. Vertical axis: Event time\\. Lines: Watermark, `),
    );
    expect(await page.locator(`${section} .results-chart figcaption`).textContent()).toMatch(
      /^avg of value \(%\) per host, by window end — top 5 of 6 keys/,
    );

    // The table's windows are the results table's, value for value, shown in the viewer's zone with UTC on hover
    // Late events within the allowed lateness may fire a window again while this reads: the table is
    // read, then the ledger, until both show the same versions (a few tries), and then compared.
    const readTable = () =>
      page.locator(`${section} table.windows tbody tr`).evaluateAll((trs) =>
        trs.map((tr) => {
          const times = [...tr.querySelectorAll("time")].map((t) => ({ iso: t.getAttribute("datetime") ?? "", text: t.textContent ?? "" }));
          const cells = [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "");
          return {
            key: tr.querySelector("th")?.textContent ?? "",
            times,
            cells,
            title: tr.querySelector("td span")?.getAttribute("title") ?? "",
          };
        }),
      );
    const readLedger = async () =>
      (await runPanes(["results", "--pipeline", "cpu-avg-5m", "--json"], { cwd })).stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as Result);
    const versionOf = (rs: Result[], key: string, start: number, end: number) =>
      rs.find((r) => r.key === key && r.start === start && r.end === end)?.version;
    let rows = await readTable();
    let results = await readLedger();
    for (let attempt = 1; attempt < 4; attempt++) {
      const same = rows.every(
        (row) =>
          String(versionOf(results, row.key, Date.parse(row.times[0]?.iso ?? ""), Date.parse(row.times[1]?.iso ?? ""))) === row.cells[4],
      );
      if (same) break;
      await new Promise((r) => setTimeout(r, 1500));
      rows = await readTable();
      results = await readLedger();
    }
    const two = new Intl.NumberFormat("en-GB", { maximumFractionDigits: 2 });
    for (const row of rows) {
      const start = Date.parse(row.times[0]?.iso ?? "");
      const end = Date.parse(row.times[1]?.iso ?? "");
      const result = results.find((r) => r.key === row.key && r.start === start && r.end === end);
      expect(result, `${row.key} [${row.times[0]?.iso}, ${row.times[1]?.iso})`).toBeDefined();
      if (!result) continue;
      // cells: window, avg, max, n (the count aggregate: the window's events, so no separate events column), version
      expect(result.values.n).toBe(result.count);
      expect(row.cells.slice(1)).toEqual([
        two.format(result.values.avg ?? Number.NaN),
        two.format(result.values.max ?? Number.NaN),
        String(result.values.n),
        String(result.version),
      ]);
      expect(row.times[0]?.text).toContain(hhmm(start, ZONE));
      expect(row.title).toBe(
        `${new Date(start).toISOString().slice(0, 19).replace("T", " ")} UTC – ${new Date(end).toISOString().slice(0, 19).replace("T", " ")} UTC`,
      );
    }
    // Newest first
    const ends = rows.map((row) => Date.parse(row.times[1]?.iso ?? ""));
    expect(ends).toEqual([...ends].sort((a, b) => b - a));

    // Shards: the ones `panes status` reports, both active while the demo writes
    const status = JSON.parse((await runPanes(["status", "--json"], { cwd })).stdout);
    const shardIds = status.pipelines[0].shards.map((s: { shardId: string }) => s.shardId);
    expect(await page.locator(`${section} table.shards tbody th`).allTextContents()).toEqual(shardIds);
    expect(await page.locator(`${section} table.shards tbody .badge`).allTextContents()).toEqual(shardIds.map(() => "Active"));

    // Counters: the demo writes invalid and too-late events; once `panes status` counts some, the page
    // shows at least as many, without a reload (counts only grow; the page counts every 5 s)
    let counted = { deadLettered: 0, late: 0 };
    for (const deadline = Date.now() + 150_000; Date.now() < deadline; ) {
      const now = JSON.parse((await runPanes(["status", "--json"], { cwd })).stdout).pipelines[0];
      counted = { deadLettered: now.deadLettered, late: now.late };
      if (counted.deadLettered > 0 && counted.late > 0) break;
      await new Promise((r) => setTimeout(r, 2000));
    }
    expect(counted.deadLettered, "dead letters counted by panes status").toBeGreaterThan(0);
    expect(counted.late, "late records counted by panes status").toBeGreaterThan(0);
    await page.waitForFunction(
      ({ s, counted }) => {
        const values = [...document.querySelectorAll(`${s} .stats dt`)].map((dt) => [dt.textContent, dt.nextElementSibling?.textContent]);
        const count = (name: string) => Number(values.find(([t]) => t === name)?.[1]);
        return count("Late records (dropped)") >= counted.late && count("Dead-lettered records") >= counted.deadLettered;
      },
      { s: section, counted },
      { timeout: 30_000 },
    );
    const watermark = await page.locator(`${section} .stats dd time`).first().getAttribute("datetime");
    await page.waitForFunction(
      ({ s, before }) => document.querySelector(`${s} .stats dd time`)?.getAttribute("datetime") !== before,
      { s: section, before: watermark },
      { timeout: 30_000 },
    );

    // Hovering the chart shows the time in the viewer's zone and in UTC
    const plot = page.locator(`${section} .results-chart .u-over`);
    const box = await plot.boundingBox();
    if (!box) throw new Error("no chart area");
    await page.mouse.move(box.x + box.width * 0.9, box.y + box.height / 2);
    expect(await page.locator(`${section} .results-chart .u-legend .u-series`).first().textContent()).toMatch(/UTC\)$/);

    await page.mouse.move(0, 0);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard.png") });
    expect(errors).toEqual([]);
    expect(failed).toEqual([]); // the icon included: no request of the page's goes unanswered
    expect(await page.locator(`${section} table.windows thead th`).allTextContents()).toEqual([
      "host",
      "Window",
      "avg of value (%)",
      "max of value (%)",
      "count (events)",
      "Version",
    ]);
    await context.close();
  }, 360_000);

  it("charts the keys the viewer chooses", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const section = 'section[data-pipeline="mem-max-60m"]';
    await page.goto(url);
    await page.waitForFunction((s) => document.querySelectorAll(`${s} .keys-list input`).length >= 6, section, { timeout: 90_000 });

    // Act: open the key list, keep only the last key of the ranking
    await page.locator(`${section} .keys summary`).click();
    const boxes = page.locator(`${section} .keys-list input`);
    const last = (await boxes.evaluateAll((inputs) => inputs.map((i) => (i as HTMLInputElement).value))).at(-1) as string;
    await page.locator(`${section} .keys-list input[value="${last}"]`).check();
    for (const key of await boxes.evaluateAll((inputs) =>
      inputs.filter((i) => (i as HTMLInputElement).checked).map((i) => (i as HTMLInputElement).value),
    ))
      if (key !== last) await page.locator(`${section} .keys-list input[value="${key}"]`).uncheck();

    // Assess: the chart follows the choice (legend: the time and one key)
    await page.waitForFunction(
      ({ s, key }) => {
        const legend = [...document.querySelectorAll(`${s} .results-chart .u-legend .u-series .u-label`)].map((l) => l.textContent);
        return legend.length === 2 && legend[1] === `host ${key}`;
      },
      { s: section, key: last },
      { timeout: 30_000 },
    );
    expect(await page.locator(`${section} .results-chart figcaption`).textContent()).toMatch(/keys you chose$/);

    // Act: back to the top keys by value, two of them
    await page.locator(`${section} .keys-body input[type="number"]`).fill("2");
    await page.locator(`${section} .keys-body button`).click();

    // Assess
    await page.waitForFunction((s) => document.querySelectorAll(`${s} .results-chart .u-legend .u-series`).length === 3, section, {
      timeout: 30_000,
    });
    expect(await page.locator(`${section} .results-chart figcaption`).textContent()).toMatch(/top 2 of 6 keys by latest value$/);
    await context.close();
  });

  it("fits a phone's screen", async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 2,
    });
    const page = await context.newPage();
    await page.goto(url);
    await page.waitForFunction(() => Number(document.querySelector(".results-chart .plot")?.getAttribute("data-points")) > 0, undefined, {
      timeout: 90_000,
    });
    // nothing wider than the screen: tables scroll inside their own box, charts take the width
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    // measured in one evaluation: a locator resolves the canvas and measures it in two steps, and a chart
    // rebuilt in between (a new key changes its series) leaves a detached canvas that measures 0 (CI, 2026-12-03)
    const chartWidth = await page.evaluate(() => document.querySelector(".results-chart canvas")?.getBoundingClientRect().width ?? 0);
    expect(chartWidth).toBeGreaterThan(300);
    expect(chartWidth).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-phone.png"), fullPage: false });
    await context.close();
  });
});
