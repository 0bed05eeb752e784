// GET /metrics scraped by Debian's real Prometheus, with a viewer token from a file as a site would set
// it up; the figures read back through Prometheus's query API are what the test did: three machines
// enrolled, one installed over the API with its image streamed, the others left inventoried.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { RunningServer } from "../server.js";
import {
  freePort,
  inventoryFor,
  installStreamingImage,
  jsonRequest,
  makeTempDir,
  serveTestImage,
  startApiServer,
} from "../test-support.js";
import { startPrometheus, type LocalPrometheus } from "./local-prometheus.js";

let work: { dir: string; remove: () => void };
let server: RunningServer;
let prometheus: LocalPrometheus | undefined;

beforeAll(async () => {
  work = makeTempDir("bootwright-metrics-");
  server = await startApiServer(work.dir, { batchWindowMs: 100 });
});

afterAll(async () => {
  await prometheus?.stop();
  await server.close();
  work.remove();
});

/** The query's value once Prometheus has scraped it equal to `expected` (or the last value seen). */
async function settled(promql: string, expected: number): Promise<number | undefined> {
  const deadline = Date.now() + 20_000;
  let value: number | undefined;
  while (Date.now() < deadline) {
    value = await prometheus?.query(promql);
    if (value === expected) return value;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return value;
}

it("Prometheus scrapes /metrics with a viewer token and reads back what happened", async () => {
  expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
  const made = await jsonRequest(`${server.url}/v1/tokens`, "POST", { name: "prometheus", role: "viewer" });
  const token = (made.body as { token: string }).token;

  const sha = await serveTestImage(server.url);
  const macs = ["52:54:00:d0:00:01", "52:54:00:d0:00:02", "52:54:00:d0:00:03"];
  for (const mac of macs)
    await jsonRequest(
      `${server.url}/v1/inventory`,
      "POST",
      inventoryFor(mac, { product: "X1", serial: mac, uuid: null }),
    );
  const [installed = ""] = macs;
  const imageBytes = await installStreamingImage(server.url, installed, sha, { callHome: true });

  prometheus = await startPrometheus({ url: server.url, token, port: await freePort() });
  expect(await settled('up{job="bootwright"}', 1)).toBe(1);
  expect(await settled('bootwright_machines{category="installed"}', 1)).toBe(1);
  expect(await prometheus.query('bootwright_machines{category="inventoried"}')).toBe(2);
  expect(await prometheus.query("bootwright_installs_started_total")).toBe(1);
  expect(await prometheus.query('bootwright_installs_finished_total{outcome="succeeded"}')).toBe(1);
  expect(await prometheus.query("bootwright_install_duration_seconds_count")).toBe(1);
  expect(imageBytes).toBeGreaterThan(0);
  expect(await prometheus.query("bootwright_image_bytes_streamed_total")).toBe(imageBytes);
  expect(await prometheus.query("bootwright_image_store_bytes_read_total")).toBe(imageBytes);
  expect(await prometheus.query("bootwright_image_batch_size_count")).toBe(1);
  expect(await prometheus.query("bootwright_leases_active")).toBe(0);
  expect(
    await prometheus.query(
      'sum(bootwright_http_request_duration_seconds_count{route="/v1/machines/:id/callhome",status="200"})',
    ),
  ).toBe(1);
});
