// The dashboard's HTTP server: the page, its script (bundled from client/ with esbuild at start), uPlot's
// stylesheet, one JSON snapshot at /api/snapshot and a live feed of snapshots at /api/events
// (server-sent events). Bound to loopback; requests naming another host are refused (DNS rebinding).
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { build, stop as stopEsbuild } from "esbuild";
import { z } from "zod";
import type { Selection } from "./model.ts";
import type { DashboardSource } from "./source.ts";

const clientDir = new URL("./client/", import.meta.url);

/** Three panes of a window, in the page's accent colour (browsers ask for an icon; without one, a 404 per visit). */
const FAVICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect x="1" y="3" width="4" height="10" fill="#2563eb"/><rect x="6" y="3" width="4" height="10" fill="#3b82f6"/><rect x="11" y="3" width="4" height="10" fill="#93c5fd"/></svg>';

interface Asset {
  type: string;
  body: Buffer;
}

async function loadAssets(): Promise<Map<string, Asset>> {
  const bundle = await build({
    entryPoints: [new URL("app.ts", clientDir).pathname],
    bundle: true,
    write: false,
    format: "esm",
    target: "es2022",
    minify: true,
    legalComments: "none",
    logLevel: "silent",
  });
  // esbuild builds in a child process that would otherwise stay for the server's life (30 MB): the
  // page is built once, so let it go.
  await stopEsbuild();
  const script = bundle.outputFiles[0];
  if (!script) throw new Error("the dashboard script did not build");
  const uplotCss = createRequire(import.meta.url).resolve("uplot/dist/uPlot.min.css");
  return new Map<string, Asset>([
    ["/", { type: "text/html; charset=utf-8", body: await readFile(new URL("index.html", clientDir)) }],
    ["/app.js", { type: "text/javascript; charset=utf-8", body: Buffer.from(script.contents) }],
    ["/app.css", { type: "text/css; charset=utf-8", body: await readFile(new URL("style.css", clientDir)) }],
    ["/uplot.css", { type: "text/css; charset=utf-8", body: await readFile(uplotCss) }],
    ["/favicon.svg", { type: "image/svg+xml", body: Buffer.from(FAVICON) }],
  ]);
}

const selectionSchema = z.strictObject({
  top: z.number().int().min(1).max(50).default(5),
  pipelines: z
    .record(
      z.string(),
      z.strictObject({
        metric: z.string().max(200).optional(),
        keys: z.array(z.string().max(1024)).max(50).optional(),
        top: z.number().int().min(1).max(50).optional(),
      }),
    )
    .default({}),
});

/** The page's selection from `?sel=<JSON>`; absent means the defaults. */
export function parseSelection(text: string | null): Selection {
  if (text === null || text === "") return { top: 5, pipelines: {} };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RequestError("sel must be JSON");
  }
  const parsed = selectionSchema.safeParse(json);
  if (!parsed.success)
    throw new RequestError(`sel: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"} ${i.message}`).join("; ")}`);
  return parsed.data;
}

class RequestError extends Error {}

const SECURITY_HEADERS = {
  "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

export interface DashboardServer {
  url: string;
  close(): Promise<void>;
}

/** Live connections served at once: each costs a snapshot per refresh; more are refused (503). */
export const MAX_LIVE_CONNECTIONS = 32;

export async function startDashboardServer(options: {
  source: DashboardSource;
  port?: number;
  host?: string;
  maxLiveConnections?: number;
}): Promise<DashboardServer> {
  const assets = await loadAssets();
  const host = options.host ?? "127.0.0.1";
  const streams = new Set<ServerResponse>();
  const maxStreams = options.maxLiveConnections ?? MAX_LIVE_CONNECTIONS;
  let port = 0;
  // One snapshot per refresh and selection, however many pages show it (registered first: cleared
  // before any connection's listener sends).
  const built = new Map<string, string>();
  options.source.onRefresh(() => built.clear());
  const snapshotText = (selection: Selection) => {
    const key = JSON.stringify(selection);
    let text = built.get(key);
    if (text === undefined) {
      text = JSON.stringify(options.source.snapshot(selection));
      built.set(key, text);
    }
    return text;
  };

  const allowedHost = (request: IncomingMessage) => {
    const name = request.headers.host ?? "";
    return [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `${host}:${port}`].includes(name);
  };

  const events = (request: IncomingMessage, response: ServerResponse, selection: Selection) => {
    if (streams.size >= maxStreams) {
      response.writeHead(503, { ...SECURITY_HEADERS, "content-type": "text/plain; charset=utf-8", "retry-after": "10" });
      response.end(`At most ${maxStreams} live connections; close a dashboard tab.\n`);
      return;
    }
    response.writeHead(200, {
      ...SECURITY_HEADERS,
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
    });
    // A slow reader is sent only the newest snapshot once it has drained, never a queue of old ones.
    let congested = false;
    let pending = false;
    const send = () => {
      if (congested) {
        pending = true;
        return;
      }
      congested = !response.write(`event: snapshot\ndata: ${snapshotText(selection)}\n\n`);
    };
    response.on("drain", () => {
      congested = false;
      if (pending) {
        pending = false;
        send();
      }
    });
    const unsubscribe = options.source.onRefresh(send);
    const heartbeat = setInterval(() => response.write(": keep-alive\n\n"), 15_000);
    streams.add(response);
    request.on("close", () => {
      unsubscribe();
      clearInterval(heartbeat);
      streams.delete(response);
    });
    send();
  };

  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const reply = (status: number, type: string, body: string | Buffer) => {
      response.writeHead(status, { ...SECURITY_HEADERS, "content-type": type, "cache-control": "no-store" });
      response.end(body);
    };
    try {
      if (!allowedHost(request)) return reply(421, "text/plain; charset=utf-8", "This dashboard answers only to its own address.\n");
      if (request.method !== "GET" && request.method !== "HEAD") return reply(405, "text/plain; charset=utf-8", "GET only\n");
      if (url.pathname === "/api/events") return events(request, response, parseSelection(url.searchParams.get("sel")));
      if (url.pathname === "/api/snapshot")
        return reply(200, "application/json", snapshotText(parseSelection(url.searchParams.get("sel"))));
      const asset = assets.get(url.pathname);
      if (asset) return reply(200, asset.type, asset.body);
      return reply(404, "text/plain; charset=utf-8", "Not found\n");
    } catch (error) {
      if (error instanceof RequestError) return reply(400, "text/plain; charset=utf-8", `${error.message}\n`);
      return reply(500, "text/plain; charset=utf-8", `${(error as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  options.source.start();
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}/`,
    close: async () => {
      for (const response of streams) response.end();
      await options.source.stop();
      // A browser's idle keep-alive connection would hold close() back for seconds: end them all now.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
