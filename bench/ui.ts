// ui.* figures: the operator console in Debian's headless Chromium against a real server.
// ui.bootlist_10k_ms: 10,000 machines (full inventories) in the store → the boot list rendered and
// scrolled to its last row, from the page's navigation start; beside it, in the same run and browser,
// a plain 10,000-row <table> built from the same GET /v1/boot-list (what a page without virtualised rows
// does). ui.page_kb_gz: the page, its script and its style sheet as sent with gzip.
import { request } from "node:http";
import { availableParallelism, loadavg } from "node:os";
import { machineIdentity } from "../protocol/index.js";
import { makeTempDir, sampleMachine, startApiServer, TEST_ADMIN_TOKEN } from "../server/test-support.js";
import { startChromium } from "../test-vm/chromium.js";
import { median, type Figure } from "./figures.js";
import { syntheticInventory } from "./policy.js";

const MACHINES = 10_000;
const RUNS = 3;
const CATEGORIES = [
  "inventoried",
  "ready",
  "planned",
  "imaging",
  "installed",
  "installed",
  "failed",
] as const;

/** The bytes a GET sends with this accept-encoding (node's fetch would decode them). */
function transferred(url: string, encoding: string): Promise<number> {
  return new Promise((done, fail) => {
    request(url, { headers: { "accept-encoding": encoding } }, (res) => {
      let bytes = 0;
      res.on("data", (chunk: Buffer) => (bytes += chunk.length));
      res.on("end", () => {
        done(bytes);
      });
    })
      .on("error", fail)
      .end();
  });
}

async function pageFigure(baseUrl: string): Promise<Figure> {
  const html = await (await fetch(`${baseUrl}/`)).text();
  const files = [...html.matchAll(/(?:src|href)="(\/console\/[^"]+)"/g)].map((m) => m[1] ?? "");
  const urls = [`${baseUrl}/`, ...files.map((file) => `${baseUrl}${file}`)];
  const sum = async (encoding: string) =>
    (await Promise.all(urls.map((url) => transferred(url, encoding)))).reduce((a, b) => a + b, 0);
  const [gzip, brotli, plain] = [await sum("gzip"), await sum("br"), await sum("identity")];
  return {
    id: "ui.page_kb_gz",
    value: Math.round(gzip / 102.4) / 10,
    unit: "KiB",
    note: `page + script + style sheet (${files.length + 1} requests); brotli ${(brotli / 1024).toFixed(1)} KiB, uncompressed ${(plain / 1024).toFixed(1)} KiB; goal ≤ 200`,
  };
}

/** In the page: until the list shows every machine, then scrolled to the end until the last row is drawn. */
const OURS_SCRIPT = (lastId: string) => `(async () => {
  const frame = () => new Promise((done) => requestAnimationFrame(done));
  while (document.querySelector("[data-testid=count]")?.textContent !== "${MACHINES} of ${MACHINES} machines") await frame();
  const scroller = document.querySelector(".scroller");
  scroller.scrollTop = scroller.scrollHeight;
  while (!document.querySelector('[data-machine="${lastId}"]')) await frame();
  await frame();
  const list = performance.getEntriesByType("resource").find((e) => e.name.endsWith("/v1/boot-list"));
  return [performance.now(), list ? list.responseEnd : 0, list ? list.responseEnd - list.requestStart : 0];
})()`;

/** The baseline, in a page of the same origin: fetch, parse, one <tr> per machine, scrolled to the end. */
const BASELINE_SCRIPT = `(async () => {
  const start = performance.now();
  const response = await fetch("/v1/boot-list", { headers: { authorization: "Bearer ${TEST_ADMIN_TOKEN}" } });
  const { machines } = await response.json();
  const body = document.createElement("tbody");
  for (const m of machines) {
    const row = document.createElement("tr");
    for (const value of [m.id, m.inventory?.system.product ?? "", m.category, m.expected ?? "", m.bootPath ?? "", m.lastSeenAt]) {
      const cell = document.createElement("td");
      cell.textContent = value;
      row.appendChild(cell);
    }
    body.appendChild(row);
  }
  const table = document.createElement("table");
  table.appendChild(body);
  document.body.replaceChildren(table);
  scrollTo(0, document.body.scrollHeight);
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  return performance.now() - start;
})()`;

export async function uiFigures(): Promise<Figure[]> {
  const work = makeTempDir("bootwright-bench-ui-");
  const server = await startApiServer(work.dir);
  const chromium = await startChromium();
  try {
    const at = new Date().toISOString();
    const ids: string[] = [];
    await server.store.store.transaction(async (rows) => {
      for (let j = 0; j < MACHINES; j++) {
        const inventory = syntheticInventory(j);
        const id = machineIdentity(inventory.system.uuid, inventory.bootMac);
        ids.push(id);
        await rows.machines.insert(
          sampleMachine(id, at, {
            bootMac: inventory.bootMac,
            inventory,
            category: CATEGORIES[j % CATEGORIES.length] ?? "inventoried",
            expected: j % 3 === 0 ? "installed" : null,
          }),
        );
      }
    });
    const lastId = [...ids].sort().at(-1) ?? "";
    const figures = [await pageFigure(server.url)];

    const context = await chromium.browser.newContext({ viewport: { width: 1400, height: 900 } });
    await context.addInitScript(
      `sessionStorage.setItem("bootwright.token", ${JSON.stringify(TEST_ADMIN_TOKEN)})`,
    );
    const ours: number[] = [];
    const listArrived: number[] = [];
    const listServed: number[] = [];
    const baseline: number[] = [];
    // One run first, not counted: the server builds the page on its first request.
    for (let run = 0; run <= RUNS; run++) {
      const page = await context.newPage();
      await page.goto(`${server.url}/`);
      const [ms = 0, arrived = 0, served = 0] = await page.evaluate<number[]>(OURS_SCRIPT(lastId));
      await page.goto(`${server.url}/healthz`);
      const plainMs = Number(await page.evaluate(BASELINE_SCRIPT));
      await page.close();
      if (run === 0) continue;
      ours.push(ms);
      listArrived.push(arrived);
      listServed.push(served);
      baseline.push(plainMs);
    }
    await context.close();
    const [o, b] = [median(ours), median(baseline)];
    figures.unshift({
      id: "ui.bootlist_10k_ms",
      value: Math.round(o),
      unit: "ms",
      ours: Math.round(o),
      baseline: Math.round(b),
      baseline_is:
        "a plain 10,000-row <table> from the same GET /v1/boot-list in the same Chromium (fetch, parse, build, scroll to the end)",
      note:
        `ours ÷ baseline ${(o / b).toFixed(2)}; ours from navigation start (page, script, login check, the list, ` +
        `zod parse, render, scroll to the last row), of which GET /v1/boot-list (4 MB) took ${Math.round(median(listServed))} ms ` +
        `and had arrived at ${Math.round(median(listArrived))} ms; median of ${RUNS}; load average ${loadavg()[0]?.toFixed(1) ?? "?"} on ${availableParallelism()} cores; goal ≤ 1,000`,
    });
    return figures;
  } finally {
    await chromium.stop();
    await server.close();
    work.remove();
  }
}
