// `bootwright watch` (the real CLI, bin/bootwright) against a real server while an install runs over the
// API with its image streamed: --json prints the machine's events as NDJSON, the plain output a line per
// change with the transfer's bytes; --until installed ends both once the machine is installed.
import { afterAll, beforeAll, expect, it } from "vitest";
import { LiveEvent } from "../../protocol/index.js";
import type { RunningServer } from "../server.js";
import {
  installStreamingImage,
  inventoryFor,
  jsonRequest,
  makeTempDir,
  runCli,
  serveTestImage,
  startApiServer,
} from "../test-support.js";

let work: { dir: string; remove: () => void };
let server: RunningServer;
const M = "52:54:00:c0:00:01";
const N = "52:54:00:c0:00:02";

beforeAll(async () => {
  work = makeTempDir("bootwright-watch-");
  server = await startApiServer(work.dir, { batchWindowMs: 100 });
});

afterAll(async () => {
  await server.close();
  work.remove();
});

it("watch follows an install: NDJSON with --json, a line per change without, both end at --until", async () => {
  const sha = await serveTestImage(server.url);
  await jsonRequest(
    `${server.url}/v1/inventory`,
    "POST",
    inventoryFor(M, { product: "X1", serial: "m", uuid: null }),
  );
  await jsonRequest(
    `${server.url}/v1/inventory`,
    "POST",
    inventoryFor(N, { product: "X2", serial: "n", uuid: null }),
  );
  const listening = server.events.subscribers;
  const json = runCli(server.url, work.dir, ["watch", M, "--json", "--until", "installed"]);
  const lines = runCli(server.url, work.dir, [
    "watch",
    "--where",
    "inventory.system.product=X1",
    "--until",
    "installed",
  ]);
  const deadline = Date.now() + 20_000;
  while (server.events.subscribers < listening + 2 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 50));
  expect(server.events.subscribers).toBe(listening + 2);

  const imageBytes = await installStreamingImage(server.url, M, sha, { callHome: true });

  const [byJson, byLines] = await Promise.all([json, lines]);
  expect(byJson.stderr).toBe("");
  expect(byJson.code).toBe(0);
  const events = byJson.stdout
    .trim()
    .split("\n")
    .map((line) => LiveEvent.parse(JSON.parse(line)));
  expect(events.every((e) => e.type !== "reset" && e.data.machineId === M)).toBe(true);
  expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(["category", "step", "progress"]));
  const progress = events.flatMap((e) => (e.type === "progress" ? [e.data] : []));
  expect(progress.at(-1)).toMatchObject({ kind: "image", bytesDone: imageBytes, bytesTotal: imageBytes });
  expect(events.at(-1)).toMatchObject({ type: "category", data: { category: "installed" } });

  expect(byLines.code).toBe(0);
  const text = byLines.stdout;
  expect(text).toContain(`${M}  imaging  image `);
  expect(text).toContain(`${M}  installed  category installed`);
  expect(text).not.toContain(N);
});

it("--until needs to know which machines, and an unknown category is refused", async () => {
  const all = await runCli(server.url, work.dir, ["watch", "--until", "installed"]);
  expect(all.code).toBe(1);
  expect(all.stderr).toContain("--until needs a machine id or --where");
  const bad = await runCli(server.url, work.dir, ["watch", M, "--until", "finished"]);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain("--until wants a boot category: one of discovered,");
});
