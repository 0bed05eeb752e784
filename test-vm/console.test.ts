// The operator console in real headless Chromium against a real server (no VM: the test plays the
// loader over the API, which is all the page sees): log in with a token, see a machine enroll, watch its
// progress bar move while its image streams, open its step log, start maintenance and read the report;
// a viewer's token shows no action buttons and the API refuses the actions anyway. No console errors.
// Screenshots go to build/test-artifacts/console/.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { CreatedToken, type LeasedCommand } from "../protocol/index.js";
import type { RunningServer } from "../server/server.js";
import {
  installUntilReboot,
  inventoryFor,
  jsonRequest,
  leaseCommand,
  makeTempDir,
  postResult,
  SAMPLE_UUID as ID,
  sampleInventory,
  serveMaintenanceImages,
  startApiServer,
  TEST_ADMIN_TOKEN,
} from "../server/test-support.js";
import { collectPageErrors, logIn, startChromium, type RunningChromium } from "./chromium.js";
import { REPO_ROOT } from "./paths.js";

const ARTIFACTS = join(REPO_ROOT, "build/test-artifacts/console");
const IMAGE_BYTES = 64 * 2 ** 20;

let work: { dir: string; remove: () => void };
let server: RunningServer;
let chromium: RunningChromium | undefined;
let viewerToken: string;

const api = (path: string, method = "GET", body?: unknown, token?: string | null) =>
  jsonRequest(`${server.url}${path}`, method, body, token);

const shot = (page: Page, name: string, height?: number) =>
  page.screenshot({
    path: join(ARTIFACTS, `${name}.png`),
    ...(height === undefined ? {} : { clip: { x: 0, y: 0, width: 1400, height } }),
  });

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  work = makeTempDir("bootwright-console-");
  server = await startApiServer(work.dir, { leaseSweepMs: 100, maintenanceTickMs: 100 });
  await serveMaintenanceImages(server.url);
  const made = await api("/v1/tokens", "POST", { name: "console-viewer", role: "viewer" });
  viewerToken = CreatedToken.parse(made.body).token;
  chromium = await startChromium();
});

afterAll(async () => {
  await chromium?.stop();
  await server.close();
  work.remove();
});

/** The agent's "image progress" events, as image-stream.ts sends them while it writes. */
async function reportProgress(command: LeasedCommand, bytes: number): Promise<void> {
  const event = {
    commandId: command.id,
    leaseId: command.leaseId,
    event: "progress",
    plugin: "image-stream",
    step: "stream",
    message: "image progress",
    data: {
      bytes,
      totalBytes: IMAGE_BYTES,
      percent: Math.floor((bytes / IMAGE_BYTES) * 100),
      rawBytes: bytes,
      rateMBs: 40,
    },
  };
  expect((await api(`/v1/machines/${ID}/events`, "POST", event)).status).toBe(200);
}

it("an operator logs in, sees the machine enroll, watches its image progress, reads its log and its maintenance report", async () => {
  if (!chromium) throw new Error("no browser");
  const context = await chromium.browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  // The policy draft below is refused on purpose (422).
  const errors = collectPageErrors(page, ["/v1/events", "/v1/policy/dry-run"]);

  await logIn(page, server.url, TEST_ADMIN_TOKEN);
  await expect.poll(() => page.getByTestId("who").textContent()).toContain("(admin)");
  // The token is kept in this tab's session, never in the URL.
  expect(page.url()).not.toContain(TEST_ADMIN_TOKEN);
  expect(await page.evaluate('sessionStorage.getItem("bootwright.token")')).toBe(TEST_ADMIN_TOKEN);

  // Enrollment: the loader posts the inventory; the boot list shows the machine without a reload.
  expect((await api("/v1/inventory", "POST", sampleInventory(), null)).status).toBe(200);
  // A few neighbours, for a boot list worth a screenshot (and a filter that tells them apart).
  for (const [i, product] of ["X1", "R640", "R640"].entries()) {
    const mac = `52:54:00:bb:00:0${i}`;
    const uuid = `0e0c8a6a-6f5f-4c43-9d57-0000000000b${i}`;
    expect(
      (await api("/v1/inventory", "POST", inventoryFor(mac, { product, serial: `SN-B${i}`, uuid }), null))
        .status,
    ).toBe(200);
  }
  const row = page.locator(`[data-machine="${ID}"]`);
  await row.waitFor();
  await expect.poll(() => row.textContent()).toContain("inventoried");

  // The install, the test playing the loader; while write-image is leased, its progress moves the bar.
  const seen: number[] = [];
  await installUntilReboot(server.url, ID, async (kind, command) => {
    if (kind !== "write-image") return;
    for (const fraction of [0.2, 0.55, 0.9]) {
      const bytes = Math.round(IMAGE_BYTES * fraction);
      await reportProgress(command, bytes);
      const bar = row.locator("progress");
      await expect.poll(() => bar.getAttribute("data-bytes"), { timeout: 10_000 }).toBe(String(bytes));
      seen.push(Number(await bar.getAttribute("value")));
      if (fraction === 0.55) await shot(page, "bootlist-imaging", 260);
    }
  });
  expect(seen).toEqual([0.2, 0.55, 0.9].map((f) => expect.closeTo(f, 2) as unknown as number));
  const planHash = (await server.store.getMachine(ID))?.plan?.planHash ?? "";
  const image = `sha256:${"1".repeat(64)}`;
  expect((await api(`/v1/machines/${ID}/callhome`, "POST", { image, planHash, os: "tiny 6.1" })).status).toBe(
    200,
  );
  await expect.poll(() => row.textContent()).toContain("installed");
  await expect.poll(() => row.locator("progress").count()).toBe(0);
  for (const load of [1.5, 0.7, 2.1])
    await api(`/v1/machines/${ID}/health`, "POST", {
      image,
      planHash,
      os: "tiny 6.1",
      figures: { load1: load, cpuMhz: 2400 },
    });

  // The machine's page: its step log with the progress entries and each command's time.
  await row.getByRole("link", { name: ID }).click();
  const log = page.getByRole("table", { name: "Step log" });
  await expect.poll(() => log.textContent()).toContain("agent-progress");
  expect(await log.textContent()).toContain("command-succeeded");
  await expect.poll(() => page.getByRole("img", { name: "load1 over time" }).count()).toBe(1);
  await shot(page, "machine");

  // Installing over an installed machine asks first, naming it; cancelled, nothing changes.
  await page.getByLabel("Expected category").selectOption("planned");
  await page.getByRole("button", { name: "Expect", exact: true }).click();
  const dialog = page.getByRole("alertdialog");
  expect(await dialog.textContent()).toContain(`Machine ${ID} is installed`);
  await dialog.getByRole("button", { name: "Cancel" }).click();
  expect((await server.store.getMachine(ID))?.expected).toBe("installed");

  // Maintenance from the page; the test plays the maintenance image and reports.
  await page.getByLabel("Maintenance image").selectOption("diag");
  await page.getByRole("button", { name: "Start maintenance" }).click();
  await page.locator('[data-run][data-state="rebooting"]').waitFor();
  const command = await leaseCommand(server.url, ID, "run-maintenance");
  const runId = command.maintenance?.runId ?? "";
  const report = {
    image: command.maintenance?.image.sha256 ?? "",
    ok: true,
    steps: [
      {
        name: "memory-test",
        params: {},
        ok: true,
        ms: 1234,
        data: { errors: 0, mib: 256 },
        error: null,
        extra: false,
      },
    ],
  };
  await postResult(server.url, ID, command, {
    leaseId: command.leaseId,
    outcome: "succeeded",
    output: { kind: "run-maintenance", runId, report },
  });
  await leaseCommand(server.url, ID, "boot-installed");
  expect((await api(`/v1/machines/${ID}/callhome`, "POST", { image, planHash, os: "tiny 6.1" })).status).toBe(
    200,
  );
  const reportTable = page.getByRole("table", { name: `Report of run ${runId}` });
  await expect.poll(() => reportTable.textContent(), { timeout: 10_000 }).toContain("memory-test");
  expect(await reportTable.textContent()).toContain("every step passed");
  await page.locator(`[data-run="${runId}"][data-state="completed"]`).waitFor();
  await page.locator(`[data-run="${runId}"]`).scrollIntoViewIfNeeded();
  await shot(page, "maintenance-report");

  // Every machine a fact selects, in one action (the server applies the same selector).
  await page.goto(`${server.url}/#/`);
  await page.getByLabel("Filter machines").fill("product=R640");
  await expect.poll(() => page.getByTestId("count").textContent()).toBe("2 of 4 machines");
  await page.getByLabel("Expected category for the selection").selectOption("ready");
  await page.locator(".bulk").getByRole("button", { name: "Expect" }).click();
  await page.getByRole("alertdialog").getByRole("button", { name: "Expect" }).click();
  await expect
    .poll(async () => (await server.store.listMachines()).filter((m) => m.expected === "ready").length)
    .toBe(2);
  await page.getByLabel("Filter machines").fill("");

  // A policy draft checked by the server: its problem named with its line, and that line marked.
  await page.goto(`${server.url}/#/policy`);
  const draft = page.getByLabel("Policy draft");
  await expect.poll(() => draft.inputValue()).toContain("rules");
  await page.getByLabel("Policy format").selectOption("yaml");
  await draft.fill(
    "rules:\n  - name: x\n    match:\n      - { fact: nosuch, equals: 1 }\n    plan: { image: tiny }\n",
  );
  await page.getByRole("button", { name: "Check", exact: true }).click();
  const problems = page.getByRole("list", { name: "Policy problems" });
  await expect.poll(() => problems.textContent()).toMatch(/line 4.*unknown fact "nosuch"/);
  expect(await page.locator("ol.source li.marked").textContent()).toContain("nosuch");
  await shot(page, "policy-check");

  // The other views answer too.
  for (const [href, table] of [
    ["#/images", "Images"],
    ["#/maintenance", "Maintenance schedules"],
    ["#/factory", "Factory line"],
    ["#/audit", "Audit log"],
  ] as const) {
    await page.goto(`${server.url}/${href}`);
    await page.getByRole("table", { name: table }).waitFor();
  }
  await expect
    .poll(() => page.getByRole("table", { name: "Audit log" }).textContent())
    .toContain("POST /v1/machines/:id/maintenance");
  await page.goto(`${server.url}/#/`);
  await row.waitFor();
  await shot(page, "bootlist");
  expect(errors).toEqual([]);
  await context.close();
});

it("a viewer's token shows no action buttons, and the API refuses the actions anyway", async () => {
  if (!chromium) throw new Error("no browser");
  const context = await chromium.browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const errors = collectPageErrors(page);
  await logIn(page, server.url, viewerToken);
  await expect.poll(() => page.getByTestId("who").textContent()).toContain("(viewer)");
  await page.getByLabel("Filter machines").fill("product=X1");
  await page.locator(`[data-machine="${ID}"]`).waitFor();
  await expect.poll(() => page.getByTestId("count").textContent()).toBe("2 of 4 machines");
  expect(await page.locator(".bulk").count()).toBe(0);

  await page.goto(`${server.url}/#/machines/${ID}`);
  await page.getByRole("table", { name: "Step log" }).waitFor();
  expect(await page.locator(".actions").count()).toBe(0);
  for (const name of ["Expect", "Start maintenance", "Power cycle", "Approve"])
    expect(await page.getByRole("button", { name, exact: true }).count()).toBe(0);
  await shot(page, "viewer-machine");

  for (const [method, path, body] of [
    ["PUT", `/v1/machines/${ID}/expected`, { category: "planned" }],
    ["POST", `/v1/machines/${ID}/maintenance`, { image: "diag" }],
    ["POST", `/v1/machines/${ID}/power/cycle`, undefined],
  ] as const) {
    const refused = await api(path, method, body, viewerToken);
    expect(refused).toMatchObject({
      status: 403,
      body: { code: "forbidden", details: { needs: "operator" } },
    });
  }
  expect(errors).toEqual([]);
  await context.close();
});
