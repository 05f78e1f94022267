// The dashboard page: one section per pipeline, fed by server-sent snapshots. Charts are uPlot; the rest
// is plain DOM, built once per pipeline and updated in place, so a long-open page holds one snapshot.
import uPlot from "uplot";
import type { ChartData, DashboardSnapshot, MetricInfo, PipelineView, ProgressHistory, Selection, ShardView, WindowRow } from "../model.ts";

const ZONE = Intl.DateTimeFormat().resolvedOptions().timeZone;
const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"];

const timeFormat = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});
const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
/** Names with numbers in numeric order ("web-2" before "web-10"). */
const byName = new Intl.Collator(undefined, { numeric: true }).compare;

const localTime = (ms: number) => timeFormat.format(ms);
const utcTime = (ms: number) => `${new Date(ms).toISOString().replace("T", " ").replace(".000Z", "")} UTC`;

function duration(ms: number): string {
  const abs = Math.abs(ms);
  const units: [number, string][] = [
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "min"],
    [1000, "s"],
  ];
  for (const [size, unit] of units)
    if (abs >= size) {
      const whole = Math.floor(abs / size);
      const rest = abs - whole * size;
      const next = units.find(([s]) => s < size);
      const second = next && rest >= next[0] ? ` ${Math.floor(rest / next[0])} ${next[1]}` : "";
      return `${whole} ${unit}${second}`;
    }
  return `${Math.round(abs)} ms`;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Record<string, string> = {}, ...children: (Node | string)[]) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** A time for people: local, with UTC on hover and machine-readable. */
function timeEl(ms: number | undefined): HTMLElement | string {
  if (ms === undefined) return "—";
  return el("time", { datetime: new Date(ms).toISOString(), title: utcTime(ms) }, localTime(ms));
}

const withUnit = (metric: MetricInfo | undefined) => (metric ? `${metric.label}${metric.unit ? ` (${metric.unit})` : ""}` : "");

// ---- the connection -----------------------------------------------------------------------------

const selection: Selection = { top: 5, pipelines: {} };
let source: EventSource | undefined;

function connect(): void {
  source?.close();
  const url = `/api/events?sel=${encodeURIComponent(JSON.stringify(selection))}`;
  source = new EventSource(url);
  // The status is announced to screen readers: it changes only when the connection does
  const status = document.getElementById("connection");
  const say = (text: string) => {
    if (status && status.textContent !== text) status.textContent = text;
  };
  const refreshed = document.getElementById("refreshed");
  source.addEventListener("snapshot", (event) => {
    const snapshot = JSON.parse((event as MessageEvent<string>).data) as DashboardSnapshot;
    say("Live");
    if (refreshed) refreshed.textContent = `· refreshed ${localTime(snapshot.at)}`;
    render(snapshot);
  });
  source.addEventListener("error", () => say("Connection lost — reconnecting…"));
}

// ---- the page -----------------------------------------------------------------------------------

interface PipelinePanel {
  root: HTMLElement;
  stats: HTMLElement;
  reasons: HTMLElement;
  metric: HTMLSelectElement;
  keysSummary: HTMLElement;
  keysList: HTMLElement;
  resultsCaption: HTMLElement;
  results: Plot;
  progress: Plot;
  shards: HTMLTableSectionElement;
  windowsHead: HTMLTableRowElement;
  windows: HTMLTableSectionElement;
}

const panels = new Map<string, PipelinePanel>();

function render(snapshot: DashboardSnapshot): void {
  const sourceLine = document.getElementById("source");
  if (sourceLine) {
    const counted = snapshot.deadLettersCountedAt === undefined ? "" : `; dead letters counted ${localTime(snapshot.deadLettersCountedAt)}`;
    const unmatched =
      snapshot.unmatched.count === 0
        ? ""
        : ` Records no pipeline's filter took: ${snapshot.unmatched.count}${snapshot.unmatched.sample === undefined ? "" : ` (the newest: ${snapshot.unmatched.sample})`} — a field a filter reads missing or misspelt?`;
    sourceLine.textContent = `Reading ${snapshot.source} every ${duration(snapshot.refreshMs)}${counted}.${unmatched}`;
    sourceLine.classList.toggle("warn", snapshot.unmatched.count > 0);
  }
  const letters = document.getElementById("dead-letters");
  if (letters) {
    // The live screen's own line, so the two read alike; each pipeline's panel shows its share.
    const unreadable =
      snapshot.unreadable === 0 ? "" : `; ${snapshot.unreadable} no pipeline could read${reasonsText(snapshot.unreadableReasons)}`;
    letters.replaceChildren(
      `${capitalised(snapshot.deadLetters)}${unreadable}. `,
      el("code", {}, "npx panes dlq list"),
      " lists them with their records.",
    );
  }
  const memory = document.getElementById("memory");
  if (memory) {
    const mb = (bytes: number) => `${numberFormat.format(bytes / 1024 / 1024)} MB`;
    memory.textContent = `Server: ${snapshot.held.windows} windows and ${snapshot.held.samples} progress samples held; memory ${mb(snapshot.memory.rss)} resident, ${mb(snapshot.memory.heapUsed)} heap.`;
  }
  const error = document.getElementById("error");
  if (error) {
    error.hidden = snapshot.error === undefined;
    error.textContent = snapshot.error === undefined ? "" : `The last refresh failed: ${snapshot.error} (showing the last good data)`;
  }
  const main = document.getElementById("pipelines");
  if (!main) return;
  main.setAttribute("aria-busy", "false");
  for (const view of snapshot.pipelines) {
    let panel = panels.get(view.name);
    if (!panel) {
      panel = createPanel(view);
      panels.set(view.name, panel);
      main.append(panel.root);
    }
    updatePanel(panel, view, snapshot.at);
  }
  updateOverview(snapshot.pipelines);
}

const capitalised = (text: string) => `${text.charAt(0).toUpperCase()}${text.slice(1)}`;

/** " (the most frequent: 12 × field "value" … must be a finite number)" */
function reasonsText(reasons: readonly { reason: string; count: number }[]): string {
  const first = reasons[0];
  return first === undefined ? "" : ` (the most frequent: ${first.count} × ${first.reason})`;
}

const panelId = (name: string) => `p-${name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
const lagText = (lagMs: number | undefined) =>
  lagMs === undefined ? "—" : lagMs >= 0 ? `${duration(lagMs)} behind wall clock` : `${duration(-lagMs)} ahead of wall clock`;

/** Every pipeline in one table above the panels: all of them in view on a laptop's screen, each linking to its panel. */
function updateOverview(views: readonly PipelineView[]): void {
  const body = document.querySelector<HTMLTableSectionElement>("#overview tbody");
  if (!body) return;
  body.replaceChildren(
    ...views.map((view) => {
      const dropped = view.late - view.partlyLate;
      const newest = view.latest[0];
      return el(
        "tr",
        { "data-pipeline": view.name },
        el("th", { scope: "row" }, el("a", { href: `#${panelId(view.name)}` }, view.name)),
        el("td", {}, `${view.window} by ${view.keyField}`),
        el("td", {}, timeEl(view.watermark)),
        el("td", {}, lagText(view.lagMs)),
        el("td", {}, newest === undefined ? "—" : timeEl(newest.end)),
        el("td", { class: `num${view.deadLettered > 0 ? " warn" : ""}` }, String(view.deadLettered)),
        el("td", { class: `num${dropped > 0 ? " warn" : ""}` }, String(dropped)),
      );
    }),
  );
}

function createPanel(view: PipelineView): PipelinePanel {
  const id = panelId(view.name);
  const metric = el("select", { id: `${id}-metric` }) as HTMLSelectElement;
  for (const m of view.metrics) metric.append(el("option", { value: m.id }, withUnit(m)));
  metric.addEventListener("change", () => {
    selection.pipelines[view.name] = { ...selection.pipelines[view.name], metric: metric.value };
    connect();
  });
  const keysSummary = el("summary");
  const keysList = el("div", { class: "keys-list", role: "group", "aria-label": `Keys of ${view.name} to chart` });
  const topCount = el("input", { type: "number", min: "1", max: "20", value: String(selection.top), id: `${id}-top` }) as HTMLInputElement;
  const topButton = el("button", { type: "button" }, "Chart the top keys by value");
  const chartTop = () => {
    const n = Math.max(1, Math.min(20, Math.round(Number(topCount.value)) || selection.top));
    selection.pipelines[view.name] = { ...selection.pipelines[view.name], keys: undefined, top: n };
    connect();
  };
  topButton.addEventListener("click", chartTop);
  topCount.addEventListener("change", chartTop);
  const keys = el(
    "details",
    { class: "keys" },
    keysSummary,
    el("div", { class: "keys-body" }, el("label", { for: topCount.id }, "How many "), topCount, " ", topButton, keysList),
  );
  const resultsCaption = el("figcaption");
  const resultsPlot = el("div", { class: "plot", role: "img" });
  const progressPlot = el("div", { class: "plot", role: "img" });
  const shards = el("tbody");
  const windowsHead = el("tr");
  const windows = el("tbody");
  const stats = el("dl", { class: "stats" });
  const reasons = el("div", { class: "reasons" });
  const root = el(
    "section",
    { class: "pipeline", id, "aria-labelledby": `${id}-title`, "data-pipeline": view.name },
    el("h2", { id: `${id}-title` }, view.name, " ", el("small", {}, `${view.window} by ${view.keyField}`)),
    stats,
    reasons,
    el(
      "div",
      { class: "charts" },
      el(
        "figure",
        { class: "chart results-chart" },
        resultsCaption,
        el("div", { class: "controls" }, el("label", { for: metric.id }, "Metric "), metric, keys),
        resultsPlot,
      ),
      el(
        "figure",
        { class: "chart progress-chart" },
        el("figcaption", {}, "Event-time progress: the watermark and each shard's latest event time, against the wall clock"),
        progressPlot,
      ),
    ),
    el(
      "div",
      { class: "tables" },
      el(
        "div",
        { class: "table-wrap" },
        el("table", { class: "windows" }, el("caption", {}, "Latest closed windows"), el("thead", {}, windowsHead), windows),
      ),
      el(
        "div",
        { class: "table-wrap" },
        el(
          "table",
          { class: "shards" },
          el("caption", {}, "Shards"),
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              ...["Shard", "State", "Latest event time", "Ahead of watermark", "Last record"].map((h) => el("th", { scope: "col" }, h)),
            ),
          ),
          shards,
        ),
      ),
    ),
  );
  return {
    root,
    stats,
    reasons,
    metric,
    keysSummary,
    keysList,
    resultsCaption,
    results: new Plot(resultsPlot, 280),
    progress: new Plot(progressPlot, 280),
    shards,
    windowsHead,
    windows,
  };
}

function stat(term: string, ...value: (Node | string)[]): HTMLElement {
  return el("div", {}, el("dt", {}, term), el("dd", {}, ...value));
}

function updatePanel(panel: PipelinePanel, view: PipelineView, now: number): void {
  const idle = view.shards.filter((s) => s.idle).length;
  const dropped = view.late - view.partlyLate;
  panel.stats.replaceChildren(
    stat("Watermark", timeEl(view.watermark)),
    stat("Watermark vs wall clock", lagText(view.lagMs)),
    stat("Shards", `${view.shards.length} (${idle} idle)`),
    stat("Invalid records (dead-lettered)", el("span", { class: view.deadLettered > 0 ? "warn" : "" }, String(view.deadLettered))),
    stat("Too late for every window (dropped)", el("span", { class: dropped > 0 ? "warn" : "" }, String(dropped))),
    ...(view.partlyLate > 0
      ? [
          stat(
            "Late for some windows only",
            el(
              "span",
              { title: "too late for some of their windows, counted in the others (dead-lettered as late)" },
              String(view.partlyLate),
            ),
          ),
        ]
      : []),
    ...(view.secondsLike > 0
      ? [
          stat(
            "Event times like seconds",
            el(
              "span",
              { class: "warn", title: 'times in ms that read like epoch seconds: set "eventTimeUnit": "seconds"?' },
              String(view.secondsLike),
            ),
          ),
        ]
      : []),
  );

  updateReasons(panel.reasons, view);

  const metric = view.metrics.find((m) => m.id === view.chart.metric);
  if (panel.metric.value !== view.chart.metric) panel.metric.value = view.chart.metric;
  panel.resultsCaption.textContent = `${withUnit(metric)} per ${view.keyField}, by window end — ${
    view.chart.chosen === "top" ? `top ${view.chart.keys.length} of ${view.keysTotal} keys by latest value` : "keys you chose"
  }`;
  updateKeys(panel, view);
  panel.results.draw(resultsChart(view.chart, metric, view.keyField));
  panel.progress.draw(progressChart(view.progress));

  panel.shards.replaceChildren(...view.shards.map((s) => shardRow(s, view.watermark, now)));
  if (view.shards.length === 0) panel.shards.append(el("tr", {}, el("td", { colspan: "5" }, "No records read yet")));

  // A count aggregate is the window's event count: one column, not two.
  const events = !view.metrics.some((m) => m.countsEvents);
  // a ranking's rows: their text columns (the host, the service) beside the row number
  const labels = [...new Set(view.latest.flatMap((w) => Object.keys(w.labels ?? {})))];
  panel.windowsHead.replaceChildren(
    ...[view.keyField, ...labels, "Window", ...view.metrics.map(withUnit), ...(events ? ["Events"] : []), "Version"].map((h) =>
      el("th", { scope: "col" }, h),
    ),
  );
  panel.windows.replaceChildren(...view.latest.map((w) => windowRow(w, labels, view.metrics, events)));
  if (view.latest.length === 0)
    panel.windows.append(el("tr", {}, el("td", { colspan: String(view.metrics.length + (events ? 4 : 3)) }, "No window has closed yet")));
}

/** Why this pipeline's invalid records were refused, most frequent first, and the command that lists them. */
function updateReasons(box: HTMLElement, view: PipelineView): void {
  const signature = JSON.stringify(view.reasons);
  if (box.dataset.signature === signature) return;
  box.dataset.signature = signature;
  box.hidden = view.reasons.length === 0;
  box.replaceChildren(
    el(
      "p",
      {},
      "Why records were invalid (the most frequent reasons; ",
      el("code", {}, `npx panes dlq list --pipeline ${view.name}`),
      " lists them):",
    ),
    el("ul", {}, ...view.reasons.map((r) => el("li", {}, el("span", { class: "num" }, `${r.count} ×`), " ", r.reason))),
  );
}

function updateKeys(panel: PipelinePanel, view: PipelineView): void {
  panel.keysSummary.textContent = `Keys (${view.chart.chosen === "top" ? `top ${view.chart.keys.length}` : `${view.chart.keys.length} chosen`})`;
  const charted = new Set(view.chart.keys);
  // By name, so the list stands still while values change (the server ranks them by value)
  const shown = view.keys.slice(0, 100).sort(byName);
  // Rebuilding the list while the viewer has it open would steal focus: only when the keys changed.
  const signature = `${shown.join("\u0000")}|${view.chart.keys.join("\u0000")}`;
  if (panel.keysList.dataset.signature === signature) return;
  panel.keysList.dataset.signature = signature;
  const boxes = shown.map((key) => {
    const box = el("input", { type: "checkbox", value: key }) as HTMLInputElement;
    box.checked = charted.has(key);
    box.addEventListener("change", () => {
      // The boxes as they stand now (several changes may come before the next snapshot)
      const chosen = [...panel.keysList.querySelectorAll<HTMLInputElement>("input:checked")].map((input) => input.value);
      selection.pipelines[view.name] = { ...selection.pipelines[view.name], keys: chosen };
      connect();
    });
    return el("label", {}, box, ` ${keyText(key)}`);
  });
  panel.keysList.replaceChildren(...boxes);
}

function shardRow(s: ShardView, watermark: number | undefined, now: number): HTMLElement {
  const ahead = s.maxEventTime !== undefined && watermark !== undefined ? duration(s.maxEventTime - watermark) : "—";
  return el(
    "tr",
    {},
    el("th", { scope: "row" }, s.shardId),
    el("td", {}, el("span", { class: `badge ${s.idle ? "idle" : "active"}` }, s.idle ? "Idle" : "Active")),
    el("td", {}, timeEl(s.maxEventTime)),
    el("td", {}, ahead),
    el("td", {}, `${duration(Math.max(0, now - s.updatedAt))} ago`),
  );
}

/** A key as people read it: the group of a NULL key column (its key text is empty) as NULL. */
function keyText(key: string): string {
  return key === "" ? "NULL" : key;
}

function windowRow(w: WindowRow, labels: readonly string[], metrics: readonly MetricInfo[], events: boolean): HTMLElement {
  const window = el(
    "span",
    { title: `${utcTime(w.start)} – ${utcTime(w.end)}` },
    timeEl(w.start),
    " – ",
    el("time", { datetime: new Date(w.end).toISOString() }, localTime(w.end)),
  );
  return el(
    "tr",
    {},
    el("th", { scope: "row" }, keyText(w.key)),
    // a ranked row has every text column; one it lacks was NULL (the NULL group of a key column)
    ...labels.map((name) => el("td", {}, w.labels?.[name] ?? "NULL")),
    el("td", {}, window),
    ...metrics.map((m) => el("td", { class: "num" }, w.values[m.id] === undefined ? "—" : numberFormat.format(w.values[m.id] as number))),
    ...(events ? [el("td", { class: "num" }, String(w.count))] : []),
    el("td", { class: "num" }, String(w.version)),
  );
}

// ---- charts -------------------------------------------------------------------------------------

interface ChartSpec {
  /** series labels and styles: a change rebuilds the chart, else only its data is replaced */
  signature: string;
  options: Omit<uPlot.Options, "width" | "height">;
  data: uPlot.AlignedData;
  points: number;
}

/** One uPlot chart that follows its container's width. */
class Plot {
  private plot?: uPlot;
  private signature = "";

  constructor(
    readonly container: HTMLElement,
    readonly height: number,
  ) {
    new ResizeObserver(() => this.plot?.setSize({ width: this.width(), height })).observe(container);
  }

  private width(): number {
    return Math.max(240, this.container.clientWidth);
  }

  draw(spec: ChartSpec): void {
    this.container.dataset.points = String(spec.points);
    // The axes are drawn on a canvas: say what they are for screen readers too
    const axes = spec.options.axes ?? [];
    const series = (spec.options.series ?? []).slice(1).map((s) => s.label);
    this.container.setAttribute(
      "aria-label",
      `Chart. Horizontal axis: ${axes[0]?.label ?? ""}. Vertical axis: ${axes[1]?.label ?? ""}. Lines: ${series.join(", ")}.`,
    );
    if (!this.plot || this.signature !== spec.signature) {
      this.plot?.destroy();
      this.signature = spec.signature;
      this.plot = new uPlot({ ...spec.options, width: this.width(), height: this.height }, spec.data, this.container);
      return;
    }
    this.plot.setData(spec.data);
  }
}

const dayFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const clockFormats = {
  minutes: new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }),
  seconds: new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }),
};

/** Tick labels in the viewer's locale and zone: the clock, with the day under the first tick and where it changes. */
function timeTicks(precision: keyof typeof clockFormats): uPlot.Axis.Values {
  return (_u, splits) =>
    splits.map((v, i) => {
      const day = dayFormat.format(v);
      const clock = clockFormats[precision].format(v);
      return i === 0 || dayFormat.format(splits[i - 1] ?? v) !== day ? `${clock}\n${day}` : clock;
    });
}

/** A series' newest value: the rightmost point it has. */
function latestOf(values: ArrayLike<number | null | undefined> | undefined): number | undefined {
  for (let i = (values?.length ?? 0) - 1; i >= 0; i--) {
    const v = values?.[i];
    if (v != null) return v;
  }
  return undefined;
}

/**
 * What a legend entry shows: the value under the cursor, and with the cursor off the chart the series'
 * newest value, marked so (uPlot asks with no index then: without this, every entry reads "—").
 */
function legendValue(format: (v: number) => string): uPlot.Series.Value {
  return (u, v, seriesIdx, idx) => {
    if (idx == null) {
      const latest = latestOf(u.data[seriesIdx]);
      return latest === undefined ? "—" : `${format(latest)} (latest)`;
    }
    return v == null ? "—" : format(v);
  };
}

const timeValue = (v: number) => `${localTime(v)} (${utcTime(v)})`;
const hoverTime = legendValue(timeValue);

function resultsChart(chart: ChartData, metric: MetricInfo | undefined, keyField: string): ChartSpec {
  const points = chart.values.reduce((n, series) => n + series.filter((v) => v !== null).length, 0);
  return {
    signature: `${chart.metric}|${chart.keys.join("\u0000")}`,
    points,
    data: [chart.ends, ...chart.values] as uPlot.AlignedData,
    options: {
      ms: 1,
      scales: { x: { time: true } },
      legend: { live: true },
      cursor: { focus: { prox: 16 } },
      axes: [
        { label: `Window end (event time, ${ZONE})`, labelSize: 20, values: timeTicks("minutes") },
        { label: withUnit(metric), labelSize: 20, size: 64, values: (_u, splits) => splits.map((v) => numberFormat.format(v)) },
      ],
      series: [
        { label: "Window end", value: hoverTime },
        ...chart.keys.map((key, i) => ({
          label: `${keyField} ${keyText(key)}`,
          stroke: PALETTE[i % PALETTE.length],
          width: 2,
          points: { show: true, size: 5 },
          value: legendValue((v) => `${numberFormat.format(v)}${metric?.unit ? ` ${metric.unit}` : ""}`),
        })),
      ],
    },
  };
}

function progressChart(progress: ProgressHistory): ChartSpec {
  const points = progress.watermark.filter((v) => v !== null).length;
  return {
    signature: progress.shards.map((s) => s.shardId).join("\u0000"),
    points,
    data: [progress.at, progress.watermark, ...progress.shards.map((s) => s.maxEventTime), progress.at] as uPlot.AlignedData,
    options: {
      ms: 1,
      scales: { x: { time: true }, y: { time: true } },
      legend: { live: true },
      axes: [
        { label: `Wall clock (${ZONE})`, labelSize: 20, values: timeTicks("seconds") },
        { label: "Event time", labelSize: 20, size: 70, values: timeTicks("minutes") },
      ],
      series: [
        { label: "Wall clock", value: hoverTime },
        { label: "Watermark", stroke: "#111", width: 3, value: hoverTime },
        ...progress.shards.map((s, i) => ({
          label: `Shard …${s.shardId.slice(-4)}`,
          stroke: PALETTE[i % PALETTE.length],
          width: 1.5,
          dash: [6, 3],
          value: hoverTime,
        })),
        { label: "Wall clock (for reference)", stroke: "#999", width: 1, dash: [2, 4], value: hoverTime },
      ],
    },
  };
}

const zone = document.getElementById("zone");
if (zone) zone.textContent = ZONE;
connect();
