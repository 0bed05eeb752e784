// The maintenance swap over the real HTTP API, the test playing the loader's and the installed OS's
// parts: the original target is recorded, iPXE loads the loader while the run waits, the run's report
// swaps the machine back and the call home completes the cycle; an active run takes extra steps; a run
// that never reports fails with the reason and one command restores the original system; a health
// report past a policy threshold starts maintenance once; refusals say why.
import { afterEach, beforeEach, expect, it } from "vitest";
import {
  HealthAnswer,
  MaintenanceRun,
  MaintenanceRunList,
  type LeasedCommand,
  type LiveEvent,
  type MaintenanceReport,
} from "../../protocol/index.js";
import type { RunningServer } from "../server.js";
import {
  installUntilReboot,
  jsonRequest,
  leaseCommand,
  makeTempDir,
  postResult,
  SAMPLE_UUID as ID,
  sampleInventory,
  serveMaintenanceImages,
  startApiServer,
} from "../test-support.js";

let work: { dir: string; remove: () => void };
let server: RunningServer;
const inventory = sampleInventory();
const INSTALLED_IMAGE = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

const api = (path: string, method = "GET", body?: unknown) =>
  jsonRequest(`${server.url}${path}`, method, body);

async function machine() {
  const found = await server.store.getMachine(ID);
  if (!found) throw new Error("machine vanished");
  return found;
}

async function events(): Promise<string[]> {
  return (await server.store.machineLog(ID)).map((e) => e.event);
}

async function bootScript(): Promise<string> {
  return (await fetch(`${server.url}/boot/${inventory.bootMac}.ipxe?uuid=${ID}`)).text();
}

async function callHome(image = INSTALLED_IMAGE) {
  const planHash = (await machine()).plan?.planHash ?? "";
  return api(`/v1/machines/${ID}/callhome`, "POST", { image, planHash, os: "tiny 6.1" });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function report(command: LeasedCommand, ok = true): MaintenanceReport {
  return {
    image: command.maintenance?.image.sha256 ?? "",
    ok,
    steps: [
      {
        name: "memory-test",
        params: {},
        ok,
        ms: 12,
        data: { errors: 0 },
        error: ok ? null : "boom",
        extra: false,
      },
    ],
  };
}

async function start(body: Record<string, unknown>) {
  return api(`/v1/machines/${ID}/maintenance`, "POST", { image: "diag", ...body });
}

beforeEach(async () => {
  work = makeTempDir("bootwright-maintenance-flow-");
  server = await startApiServer(work.dir, {
    leaseSweepMs: 100,
    maintenanceTickMs: 100,
    maintenanceReportMs: 300,
    healthReportMs: 2_000,
  });
  await api("/v1/inventory", "POST", inventory);
  await serveMaintenanceImages(server.url);
  await installUntilReboot(server.url, ID);
  expect((await callHome()).status).toBe(200);
  expect((await machine()).category).toBe("installed");
});

afterEach(async () => {
  await server.close();
  work.remove();
});

it("operator swap, active: recorded, loader booted, progress polled, extra step delivered, swapped back", async () => {
  const live: LiveEvent[] = [];
  const listening = server.events.subscribe({ machine: ID }, (event) => live.push(event));
  const started = await start({ mode: "active", timeoutMs: 60_000 });
  expect(started.status).toBe(201);
  const run = MaintenanceRun.parse(started.body);
  expect(run).toMatchObject({
    state: "rebooting",
    mode: "active",
    trigger: { kind: "operator" },
    original: { image: INSTALLED_IMAGE, rule: "all", os: "tiny 6.1" },
  });
  expect((await machine()).category).toBe("maintenance");
  // No power driver: the swap waits for the machine to reboot; iPXE then loads the loader.
  expect(run.power).toEqual([]);
  expect(await bootScript()).toContain("loading the loader");

  const command = await leaseCommand(server.url, ID, "run-maintenance");
  expect(command.maintenance).toMatchObject({
    runId: run.id,
    mode: "active",
    image: {
      name: "diag",
      purpose: "diagnostic",
      url: expect.stringMatching(/\/v1\/images\/[0-9a-f]{64}\/blob$/) as unknown,
    },
    reportEveryMs: 300,
  });
  expect(MaintenanceRun.parse((await api(`/v1/maintenance/runs/${run.id}`)).body).state).toBe("running");

  const step = await api(`/v1/machines/${ID}/maintenance/steps`, "POST", {
    name: "disk-read",
    params: { mib: 8 },
  });
  expect(step.status).toBe(200);
  const poll = await api(`/v1/machines/${ID}/maintenance/progress`, "POST", {
    runId: run.id,
    leaseId: command.leaseId,
    step: "memory-test",
    message: "working",
    percent: 40,
    done: [],
  });
  expect(poll.body).toEqual({ extraSteps: [{ name: "disk-read", params: { mib: 8 } }], reportEveryMs: 300 });
  // Handed over once.
  const again = await api(`/v1/machines/${ID}/maintenance/progress`, "POST", {
    runId: run.id,
    leaseId: command.leaseId,
    step: null,
    message: "steps done",
    percent: null,
    done: [],
  });
  expect(again.body).toMatchObject({ extraSteps: [] });

  await postResult(server.url, ID, command, {
    leaseId: command.leaseId,
    outcome: "succeeded",
    output: { kind: "run-maintenance", runId: run.id, report: report(command) },
  });
  expect(MaintenanceRun.parse((await api(`/v1/maintenance/runs/${run.id}`)).body).state).toBe("returning");
  // The loader, still running in the maintenance environment, leases the swap back and reboots.
  await leaseCommand(server.url, ID, "boot-installed");
  expect(await bootScript()).toContain("from its local disk");
  expect((await callHome()).body).toMatchObject({ category: "installed", completedInstall: true });
  const done = MaintenanceRun.parse((await api(`/v1/maintenance/runs/${run.id}`)).body);
  expect(done).toMatchObject({ state: "completed", error: null, report: { ok: true } });
  expect(await events()).toEqual(
    expect.arrayContaining([
      "maintenance-started",
      "maintenance-running",
      "maintenance-step-added",
      "maintenance-progress",
      "maintenance-report",
      "maintenance-returning",
      "maintenance-completed",
    ]),
  );
  const completed = (await server.store.machineLog(ID)).find((e) => e.event === "maintenance-completed");
  expect(completed?.data).toMatchObject({ sameImage: true, image: INSTALLED_IMAGE });
  expect((await machine()).expected).toBe("installed");
  // The live events (GET /v1/events) followed the run: each state once, the report from when it came.
  listening.close();
  const runEvents = live.flatMap((e) => (e.type === "maintenance" ? [e.data] : []));
  expect(runEvents.map((e) => [e.runId, e.state, e.report?.ok])).toEqual([
    [run.id, "rebooting", undefined],
    [run.id, "running", undefined],
    [run.id, "returning", true],
    [run.id, "completed", true],
  ]);
});

it("a maintenance image that never reports fails the machine with the reason; one command restores it", async () => {
  const run = MaintenanceRun.parse((await start({ mode: "passive", timeoutMs: 700 })).body);
  await leaseCommand(server.url, ID, "run-maintenance");
  await until("the run to fail", async () => (await machine()).category === "failed");
  const failed = MaintenanceRun.parse((await api(`/v1/maintenance/runs/${run.id}`)).body);
  expect(failed.state).toBe("failed");
  expect(failed.error).toMatch(/did not report completion by/);
  // Still recorded: what to restore.
  expect(failed.original).toMatchObject({ image: INSTALLED_IMAGE });
  expect(await events()).toContain("maintenance-failed");

  const restore = await api(`/v1/machines/${ID}/maintenance/restore`, "POST");
  expect(restore.status).toBe(200);
  expect(MaintenanceRun.parse(restore.body).state).toBe("restoring");
  expect((await machine()).category).toBe("maintenance");
  await leaseCommand(server.url, ID, "boot-installed");
  expect(await bootScript()).toContain("from its local disk");
  expect((await callHome()).body).toMatchObject({ category: "installed", completedInstall: true });
  const restored = (await server.store.machineLog(ID)).find((e) => e.event === "maintenance-completed");
  expect(restored?.data).toMatchObject({ run: run.id, restored: true, sameImage: true });
});

it("a machine that never boots the maintenance image, and an active run that stops reporting, fail with why", async () => {
  const never = MaintenanceRun.parse((await start({ timeoutMs: 300 })).body);
  await until("the reboot deadline", async () => (await machine()).category === "failed");
  expect(MaintenanceRun.parse((await api(`/v1/maintenance/runs/${never.id}`)).body).error).toMatch(
    /did not boot maintenance image diag by .* \(reboots: none\)/,
  );
  await api(`/v1/machines/${ID}/maintenance/restore`, "POST");
  await leaseCommand(server.url, ID, "boot-installed");
  await callHome();

  const stalled = MaintenanceRun.parse((await start({ mode: "active", timeoutMs: 60_000 })).body);
  await leaseCommand(server.url, ID, "run-maintenance");
  await until("the stall", async () => (await machine()).category === "failed");
  expect(MaintenanceRun.parse((await api(`/v1/maintenance/runs/${stalled.id}`)).body).error).toMatch(
    /active maintenance run stopped reporting/,
  );
});

it("a failed step fails the run with the step's error, and the report is kept", async () => {
  const run = MaintenanceRun.parse((await start({})).body);
  const command = await leaseCommand(server.url, ID, "run-maintenance");
  await postResult(server.url, ID, command, {
    leaseId: command.leaseId,
    outcome: "succeeded",
    output: { kind: "run-maintenance", runId: run.id, report: report(command, false) },
  });
  const failed = MaintenanceRun.parse((await api(`/v1/maintenance/runs/${run.id}`)).body);
  expect(failed).toMatchObject({ state: "failed", report: { ok: false } });
  expect(failed.error).toMatch(/memory-test: boom/);
  expect((await machine()).category).toBe("failed");
});

it("a health figure past its threshold starts maintenance once, asks the OS to reboot, and re-arms on recovery", async () => {
  const policy = {
    rules: [{ name: "all", match: [], plan: { image: "tiny" } }],
    health: [
      {
        name: "slow-memory",
        match: [{ fact: "product", equals: "X1" }],
        figure: "memoryBandwidthMBs",
        below: 500,
        maintenance: { image: "diag", mode: "passive", timeoutMinutes: 10 },
      },
    ],
  };
  expect((await api("/v1/policy", "PUT", { format: "json", source: JSON.stringify(policy) })).status).toBe(
    200,
  );
  const post = async (mbs: number) =>
    HealthAnswer.parse(
      (
        await api(`/v1/machines/${ID}/health`, "POST", {
          image: INSTALLED_IMAGE,
          planHash: "x",
          os: "tiny 6.1",
          figures: { memoryBandwidthMBs: mbs, cpuMhz: 2000 },
        })
      ).body,
    );
  expect(await post(900)).toEqual({ nextReportMs: 2_000, action: "none" });
  expect(MaintenanceRunList.parse((await api(`/v1/machines/${ID}/maintenance`)).body).runs).toHaveLength(0);

  expect(await post(120)).toEqual({ nextReportMs: 2_000, action: "reboot" });
  const [run] = MaintenanceRunList.parse((await api(`/v1/machines/${ID}/maintenance`)).body).runs;
  expect(run).toMatchObject({
    mode: "passive",
    trigger: {
      kind: "health",
      rule: "slow-memory",
      figure: "memoryBandwidthMBs",
      value: 120,
      comparison: "below",
      threshold: 500,
    },
    power: [{ via: "in-band", ok: true }],
  });
  // Still below while the swap waits: told to reboot again, but no second run.
  expect((await post(110)).action).toBe("reboot");
  expect(MaintenanceRunList.parse((await api(`/v1/machines/${ID}/maintenance`)).body).runs).toHaveLength(1);
  const history = (await api(`/v1/machines/${ID}/health`)).body as { reports: { crossed: string[] }[] };
  expect(history.reports.map((r) => r.crossed)).toEqual([[], ["slow-memory"], []]);

  // Finish the cycle, recover, cross again: a second run.
  const command = await leaseCommand(server.url, ID, "run-maintenance");
  await postResult(server.url, ID, command, {
    leaseId: command.leaseId,
    outcome: "succeeded",
    output: { kind: "run-maintenance", runId: run?.id ?? "", report: report(command) },
  });
  await leaseCommand(server.url, ID, "boot-installed");
  await callHome();
  expect((await post(100)).action).toBe("none");
  expect(MaintenanceRunList.parse((await api(`/v1/machines/${ID}/maintenance`)).body).runs).toHaveLength(1);
  await post(800);
  expect(await events()).toContain("health-recovered");
  expect((await post(90)).action).toBe("reboot");
  expect(MaintenanceRunList.parse((await api(`/v1/machines/${ID}/maintenance`)).body).runs).toHaveLength(2);
});

it("refuses what cannot be done, saying why", async () => {
  expect((await start({ image: "tiny" })).body).toMatchObject({
    code: "maintenance_refused",
    message: expect.stringMatching(/raw.zst os image, not a maintenance image/) as unknown,
  });
  expect((await start({ image: "nope" })).body).toMatchObject({
    message: "image nope is not in the image store",
  });
  const passive = MaintenanceRun.parse((await start({ mode: "passive" })).body);
  expect((await start({})).body).toMatchObject({
    message: expect.stringMatching(/already in maintenance run/) as unknown,
  });
  const step = await api(`/v1/machines/${ID}/maintenance/steps`, "POST", { name: "memory-test" });
  expect(step.status).toBe(409);
  expect(step.body).toMatchObject({ message: `run ${passive.id} is passive: it takes no extra steps` });
  const command = await leaseCommand(server.url, ID, "run-maintenance");
  const stale = await api(`/v1/machines/${ID}/maintenance/progress`, "POST", {
    runId: passive.id,
    leaseId: "not-the-lease",
    step: null,
    message: "x",
    percent: null,
    done: [],
  });
  expect(stale.status).toBe(409);
  expect(command.maintenance?.runId).toBe(passive.id);
  const badSchedule = await api("/v1/maintenance/schedules", "POST", {
    target: { machine: ID },
    cron: "61 * * * *",
    image: "diag",
  });
  expect(badSchedule.status).toBe(422);
  expect(badSchedule.body).toMatchObject({
    code: "schedule_invalid",
    message: expect.stringMatching(/minute 61/) as unknown,
  });
});

it("a one-time schedule fires once at its time", async () => {
  const at = new Date(Date.now() + 600).toISOString();
  const added = await api("/v1/maintenance/schedules", "POST", {
    target: { machine: ID },
    at,
    image: "diag",
  });
  expect(added.status).toBe(201);
  await until("the schedule to fire", async () => (await machine()).category === "maintenance");
  await new Promise((resolve) => setTimeout(resolve, 500));
  const runs = MaintenanceRunList.parse((await api(`/v1/machines/${ID}/maintenance`)).body).runs;
  expect(runs).toHaveLength(1);
  expect(runs[0]?.trigger).toMatchObject({ kind: "schedule", when: at });
  const schedules = (await api("/v1/maintenance/schedules")).body as {
    schedules: { fired: number; nextFireAt: string | null }[];
  };
  expect(schedules.schedules).toMatchObject([{ fired: 1, nextFireAt: null }]);
});
