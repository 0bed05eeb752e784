// A throwaway Prometheus of Debian's `prometheus` package, for tests: its own configuration and TSDB in a
// temp directory, on a free loopback port, scraping one target with a bearer token read from a file (as
// a site would set it up); stopped by its PID even when the caller failed. Never the package's service.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import * as z from "zod";

export const PROMETHEUS_BIN = "/usr/bin/prometheus";

export interface LocalPrometheus {
  url: string;
  /** The instant query's first sample value, or undefined when the query has no series (yet). */
  query(promql: string): Promise<number | undefined>;
  stop(): Promise<void>;
}

const QueryAnswer = z.object({
  status: z.literal("success"),
  data: z.object({ result: z.array(z.object({ value: z.tuple([z.number(), z.string()]) })) }),
});

export async function startPrometheus(target: {
  url: string;
  token: string;
  port: number;
}): Promise<LocalPrometheus> {
  if (!existsSync(PROMETHEUS_BIN))
    throw new Error(`no ${PROMETHEUS_BIN}: install Debian's prometheus (build-scripts/setup.sh)`);
  const dir = mkdtempSync(join(tmpdir(), "bootwright-prometheus-"));
  writeFileSync(join(dir, "token"), target.token, { mode: 0o600 });
  const host = new URL(target.url).host;
  writeFileSync(
    join(dir, "prometheus.yml"),
    [
      "global: { scrape_interval: 1s, scrape_timeout: 1s }",
      "scrape_configs:",
      "  - job_name: bootwright",
      "    authorization:",
      `      credentials_file: ${join(dir, "token")}`,
      "    static_configs:",
      `      - targets: ["${host}"]`,
      "",
    ].join("\n"),
  );
  const url = `http://127.0.0.1:${target.port}`;
  let log = "";
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${target.port}`,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (log = (log + chunk).slice(-4_000)));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await Promise.race([exited, delay(5_000).then(() => child.kill("SIGKILL"))]);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 30_000;
    while (
      !(await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      ))
    ) {
      if (child.exitCode !== null || Date.now() > deadline)
        throw new Error(`prometheus did not start on ${url}: ${log}`);
      await delay(100);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    async query(promql) {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const answer = QueryAnswer.parse(await res.json());
      const sample = answer.data.result[0];
      return sample ? Number(sample.value[1]) : undefined;
    },
    stop,
  };
}
