// A throwaway rack relay for tests and benchmarks: `bootwright relay config` written into a temp
// directory, Debian's nginx started on it in the foreground on a loopback port, stopped by its PID (the
// master, which takes its workers along) even when the caller failed; and its access log read back.
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { packageVersion } from "../http/openapi.js";
import { freePort, makeTempDir } from "../test-support.js";
import { NGINX, writeRelayConfig } from "./relay-files.js";

export interface LocalRelay {
  url: string;
  dir: string;
  /** The access log's lines so far (the `relay` format of nginx-config.ts). */
  accessLog(): RelayLogLine[];
  stop(): Promise<void>;
}

export interface RelayLogLine {
  method: string;
  uri: string;
  status: number;
  cache: string;
  upstreamBytes: number;
  /** The server's Content-Range for what it sent (one slice of a blob), "-" for none. */
  range: string;
}

const LINE = /^\S+ (\S+) (\S+) (\d+) cache=(\S+) upstream=\S+ up_bytes=(\S+) sent=\d+ range="([^"]*)"$/;

function parseLine(line: string): RelayLogLine | undefined {
  const m = LINE.exec(line);
  if (!m?.[1] || !m[2] || !m[3] || !m[4] || m[5] === undefined || m[6] === undefined) return undefined;
  // up_bytes lists one figure per upstream tried ("123, 0"): what crossed the uplink is their sum.
  const upstreamBytes = m[5]
    .split(/[,:]\s*/)
    .map(Number)
    .filter(Number.isFinite)
    .reduce((a, b) => a + b, 0);
  return { method: m[1], uri: m[2], status: Number(m[3]), cache: m[4], upstreamBytes, range: m[6] };
}

/** A relay directory's access log so far (written by the nginx started on `bootwright relay config`'s file). */
export function readAccessLog(dir: string): RelayLogLine[] {
  return readFileSync(join(dir, "logs", "access.log"), "utf8")
    .split("\n")
    .map(parseLine)
    .filter((line): line is RelayLogLine => line !== undefined);
}

/** What crossed the uplink for one blob: each slice the relay fetched from a server (cache MISS). */
export function uplinkReads(
  log: readonly RelayLogLine[],
  sha256: string,
): Map<string, { fetches: number; bytes: number }> {
  const reads = new Map<string, { fetches: number; bytes: number }>();
  for (const line of log) {
    if (line.uri !== `/v1/images/${sha256}/blob` || line.cache !== "MISS") continue;
    const entry = reads.get(line.range) ?? { fetches: 0, bytes: 0 };
    reads.set(line.range, { fetches: entry.fetches + 1, bytes: entry.bytes + line.upstreamBytes });
  }
  return reads;
}

const running = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

export async function startLocalRelay(servers: readonly string[]): Promise<LocalRelay> {
  const work = makeTempDir("bootwright-relay-");
  // nginx's workers (www-data when we are root) must reach the cache through this directory.
  chmodSync(work.dir, 0o755);
  const port = await freePort();
  let child: ChildProcess | undefined;
  const stop = async (): Promise<void> => {
    const nginx = child;
    if (nginx && running(nginx)) {
      const exited = new Promise((done) => nginx.once("exit", done));
      nginx.kill("SIGTERM"); // nginx's fast shutdown
      await Promise.race([exited, delay(5_000)]);
      if (running(nginx)) nginx.kill("SIGKILL");
    }
    work.remove();
  };
  try {
    const conf = await writeRelayConfig({
      servers,
      listen: { address: "127.0.0.1", port },
      dir: work.dir,
      cacheSize: "2g",
      user: "www-data",
      version: packageVersion(),
    });
    const started = spawn(NGINX, ["-p", work.dir, "-c", conf, "-g", "daemon off;"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    child = started;
    let stderr = "";
    started.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const url = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (started.exitCode !== null) throw new Error(`nginx exited ${started.exitCode}: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`nginx did not answer on ${url}: ${stderr}`);
      const ok = await fetch(`${url}/healthz`).then(
        (res) => res.ok,
        () => false,
      );
      if (ok) break;
      await delay(100);
    }
    return {
      url,
      dir: work.dir,
      accessLog: () => readAccessLog(work.dir),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
