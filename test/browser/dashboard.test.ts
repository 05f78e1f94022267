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

/**
 * Pixels of the canvas close to an RGB colour: what a drawn series left on the chart. The chart is live
 * (new windows redraw it, a change in its top keys rebuilds it), so this waits, up to `timeout`, for at
 * least `atLeast` such pixels and then gives the count it found.
 */
async function pixelsOf(page: Page, selector: string, rgb: [number, number, number], atLeast: number, timeout: number): Promise<number> {
  // gives the count once it is at least `atLeast`, else false (what waitForFunction waits past)
  const count = ({ selector, rgb, atLeast }: { selector: string; rgb: [number, number, number]; atLeast: number }) => {
    const canvas = document.querySelector<HTMLCanvasElement>(selector);
    const context = canvas?.getContext("2d");
    if (!canvas || !context) return false;
    const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
    let n = 0;
    for (let i = 0; i < data.length; i += 4)
      if (Math.abs((data[i] ?? 0) - rgb[0]) + Math.abs((data[i + 1] ?? 0) - rgb[1]) + Math.abs((data[i + 2] ?? 0) - rgb[2]) < 30) n++;
    return n >= atLeast ? n : false;
  };
  await page.waitForFunction(count, { selector, rgb, atLeast }, { timeout, polling: 500 }).catch(() => undefined);
  return Number(await page.evaluate(count, { selector, rgb, atLeast: 0 }));
}

/**
 * One deadline for a whole test: every wait takes what is left of it, so a busy machine that makes one
 * step slow leaves the others their time (waits are on conditions, never on elapsed time).
 */
function deadline(ms: number) {
  const end = Date.now() + ms;
  const left = () => Math.max(1000, end - Date.now());
  return { left, timeout: () => ({ timeout: left() }), passed: () => Date.now() >= end };
}
const BUDGET_MS = 600_000;
const SHORT_BUDGET_MS = 240_000;

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

  it(
    "draws results per key, fills the windows table with what the results table holds, and stays live",
    async () => {
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
      const time = deadline(BUDGET_MS);

      // Act
      await page.goto(url);
      await page.waitForFunction(
        (s) => Number(document.querySelector(`${s} .results-chart .plot`)?.getAttribute("data-points")) >= 12,
        section,
        time.timeout(),
      );
      await page.waitForFunction((s) => document.querySelectorAll(`${s} table.windows tbody tr th`).length >= 6, section, time.timeout());
      await page.waitForFunction(
        (s) => Number(document.querySelector(`${s} .progress-chart .plot`)?.getAttribute("data-points")) >= 3,
        section,
        time.timeout(),
      );

      // Assess: the chart drew its points (the first key's colour is on the canvas), with labelled axes
      expect(await pixelsOf(page, `${section} .results-chart canvas`, [0x1f, 0x77, 0xb4], 51, time.left())).toBeGreaterThan(50);
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
            const times = [...tr.querySelectorAll("time")].map((t) => ({
              iso: t.getAttribute("datetime") ?? "",
              text: t.textContent ?? "",
            }));
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
      while (
        !time.passed() &&
        !rows.every(
          (row) =>
            String(versionOf(results, row.key, Date.parse(row.times[0]?.iso ?? ""), Date.parse(row.times[1]?.iso ?? ""))) === row.cells[4],
        )
      ) {
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

      // Shards: the ones `panes status` reports, active or idle as it says (read until a status read and
      // the page's next refresh agree: a busy machine may leave a shard idle for a moment)
      type ShardState = { shardId: string; idle: boolean };
      let shards: ShardState[] = [];
      let shown = { ids: [] as string[], badges: [] as string[] };
      do {
        shards = JSON.parse((await runPanes(["status", "--json"], { cwd })).stdout).pipelines[0].shards;
        await new Promise((r) => setTimeout(r, 1200)); // the page refreshes every second
        shown = {
          ids: await page.locator(`${section} table.shards tbody th`).allTextContents(),
          badges: await page.locator(`${section} table.shards tbody .badge`).allTextContents(),
        };
      } while (!time.passed() && JSON.stringify(shown.badges) !== JSON.stringify(shards.map((s) => (s.idle ? "Idle" : "Active"))));
      expect(shards.length).toBe(2);
      expect(shown.ids).toEqual(shards.map((s) => s.shardId));
      expect(shown.badges).toEqual(shards.map((s) => (s.idle ? "Idle" : "Active")));

      // Counters: the demo writes invalid and too-late events; once `panes status` counts some, the page
      // shows at least as many, without a reload (counts only grow; the page counts every 5 s)
      let counted = { deadLettered: 0, dropped: 0 };
      while (!time.passed()) {
        const now = JSON.parse((await runPanes(["status", "--json"], { cwd })).stdout).pipelines[0];
        counted = { deadLettered: now.deadLettered, dropped: now.late - now.partlyLate };
        if (counted.deadLettered > 0 && counted.dropped > 0) break;
        await new Promise((r) => setTimeout(r, 2000));
      }
      expect(counted.deadLettered, "dead letters counted by panes status").toBeGreaterThan(0);
      expect(counted.dropped, "late records counted by panes status").toBeGreaterThan(0);
      await page.waitForFunction(
        ({ s, counted }) => {
          const values = [...document.querySelectorAll(`${s} .stats dt`)].map((dt) => [dt.textContent, dt.nextElementSibling?.textContent]);
          const count = (name: string) => Number(values.find(([t]) => t === name)?.[1]);
          return (
            count("Too late for every window (dropped)") >= counted.dropped &&
            count("Invalid records (dead-lettered)") >= counted.deadLettered
          );
        },
        { s: section, counted },
        time.timeout(),
      );
      // why: the demo's invalid records have no host, and the command that lists them
      expect(await page.locator(`${section} .reasons li`).first().textContent()).toMatch(
        /^\d+ × key field "host" must be a non-empty string or a number$/,
      );
      expect(await page.locator(`${section} .reasons code`).textContent()).toBe("npx panes dlq list --pipeline cpu-avg-5m");
      // The header's count is the live screen's line for all pipelines, and the panels' counts add up to
      // it (read in one go: one snapshot)
      const counts = await page.evaluate(() => {
        const stat = (section: Element, name: string) =>
          Number([...section.querySelectorAll(".stats dt")].find((dt) => dt.textContent === name)?.nextElementSibling?.textContent ?? 0);
        const sections = [...document.querySelectorAll("section.pipeline")];
        const sum = (name: string) => sections.reduce((n, s) => n + stat(s, name), 0);
        return {
          header: document.getElementById("dead-letters")?.textContent ?? "",
          invalid: sum("Invalid records (dead-lettered)"),
          late: sum("Too late for every window (dropped)") + sum("Late for some windows only"),
        };
      });
      const header = counts.header.match(
        /^Dead letters \(all pipelines\): (\d+) invalid, (\d+) late\b.*?(?:; (\d+) no pipeline could read.*)?\. npx panes dlq list lists them/,
      );
      expect(header, counts.header).not.toBeNull();
      expect([Number(header?.[1]), Number(header?.[2])]).toEqual([counts.invalid + Number(header?.[3] ?? 0), counts.late]);
      // … and the screen `npm start` draws says it in the same words
      await panes.waitFor(/^dead letters \(all pipelines\): \d+ invalid, \d+ late/m, time.left());
      const watermark = await page.locator(`${section} .stats dd time`).first().getAttribute("datetime");
      await page.waitForFunction(
        ({ s, before }) => document.querySelector(`${s} .stats dd time`)?.getAttribute("datetime") !== before,
        { s: section, before: watermark },
        time.timeout(),
      );

      // Every pipeline is in view on a laptop's screen (1280×800): the overview lists them, and links to each
      const overview = page.locator("#overview tbody tr");
      expect(await overview.locator("th").allTextContents()).toEqual(["cpu-avg-5m", "mem-max-60m"]);
      for (const row of await overview.all()) {
        const box = await row.boundingBox();
        expect(box && box.y + box.height).toBeLessThanOrEqual(800);
      }
      // … every column of it, without scrolling sideways
      const overflow = await page.evaluate(() => {
        const wrap = document.getElementById("overview")?.parentElement as HTMLElement;
        return wrap.scrollWidth - wrap.clientWidth;
      });
      expect(overflow).toBe(0);
      await page.locator('#overview a[href="#p-mem-max-60m"]').click();
      await page.waitForFunction(
        () => {
          const top = document.querySelector('section[data-pipeline="mem-max-60m"]')?.getBoundingClientRect().top ?? -1;
          return top >= 0 && top < window.innerHeight / 2;
        },
        undefined,
        time.timeout(),
      );
      await page.evaluate(() => window.scrollTo(0, 0));

      // At rest (no cursor on the chart), each legend entry shows its series' newest value, not "—"
      const resting = await page.locator(`${section} .results-chart .u-legend .u-series .u-value`).allTextContents();
      expect(resting[0]).toMatch(/UTC\) \(latest\)$/);
      expect(resting.slice(1)).toHaveLength(5);
      for (const value of resting.slice(1)) expect(value).toMatch(/^\d+(\.\d+)? % \(latest\)$/);

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
    },
    BUDGET_MS + 60_000,
  );

  it(
    "charts the keys the viewer chooses",
    async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      const section = 'section[data-pipeline="mem-max-60m"]';
      const time = deadline(SHORT_BUDGET_MS);
      await page.goto(url);
      await page.waitForFunction((s) => document.querySelectorAll(`${s} .keys-list input`).length >= 6, section, time.timeout());

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
        time.timeout(),
      );
      expect(await page.locator(`${section} .results-chart figcaption`).textContent()).toMatch(/keys you chose$/);

      // Act: back to the top keys by value, two of them
      await page.locator(`${section} .keys-body input[type="number"]`).fill("2");
      await page.locator(`${section} .keys-body button`).click();

      // Assess
      await page.waitForFunction(
        (s) => document.querySelectorAll(`${s} .results-chart .u-legend .u-series`).length === 3,
        section,
        time.timeout(),
      );
      expect(await page.locator(`${section} .results-chart figcaption`).textContent()).toMatch(/top 2 of 6 keys by latest value$/);
      await context.close();
    },
    SHORT_BUDGET_MS + 30_000,
  );

  it(
    "fits a phone's screen",
    async () => {
      const context = await browser.newContext({
        viewport: { width: 390, height: 844 },
        isMobile: true,
        hasTouch: true,
        deviceScaleFactor: 2,
      });
      const page = await context.newPage();
      const time = deadline(SHORT_BUDGET_MS);
      await page.goto(url);
      await page.waitForFunction(
        () => Number(document.querySelector(".results-chart .plot")?.getAttribute("data-points")) > 0,
        undefined,
        time.timeout(),
      );
      // nothing wider than the screen: tables scroll inside their own box, charts take the width
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      // the overview of pipelines shows its essential columns without scrolling sideways
      await page.waitForFunction(() => document.querySelectorAll("#overview tbody tr").length > 0, undefined, time.timeout());
      expect(
        await page.evaluate(() => {
          const wrap = document.getElementById("overview")?.parentElement as HTMLElement;
          return wrap.scrollWidth - wrap.clientWidth;
        }),
      ).toBe(0);
      // measured in one evaluation: a locator resolves the canvas and measures it in two steps, and a chart
      // rebuilt in between (a new key changes its series) leaves a detached canvas that measures 0 (CI, 2026-12-03)
      const chartWidth = await page.evaluate(() => document.querySelector(".results-chart canvas")?.getBoundingClientRect().width ?? 0);
      expect(chartWidth).toBeGreaterThan(300);
      expect(chartWidth).toBeLessThanOrEqual(390);
      await page.screenshot({ path: join(ARTIFACTS, "dashboard-phone.png"), fullPage: false });
      await context.close();
    },
    SHORT_BUDGET_MS + 30_000,
  );
});
