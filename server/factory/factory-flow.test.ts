// The factory line over the real HTTP API and a real SQLite file, the test playing each unit's loader
// and agent: a unit through every stage, the station restarted mid-shift (nothing lost, nothing twice),
// a unit pulled mid-install (its traveler says where it stopped; its next boot installs again), a unit
// failing burn-in (marked, no image, its next boot repeats burn-in) and one failing its inventory check.
import { afterEach, beforeEach, expect, it } from "vitest";
import {
  NextAction,
  Traveler,
  TravelerList,
  type CommandResult,
  type Inventory,
  type LeasedCommand,
  type MaintenanceReport,
} from "../../protocol/index.js";
import type { RunningServer } from "../server.js";
import {
  inventoryFor,
  jsonRequest,
  leaseCommand,
  makeTempDir,
  postResult,
  serveMaintenanceImages,
  startApiServer,
} from "../test-support.js";

const STATION = {
  name: "line-a",
  image: "tiny",
  inventory: { product: "U1*", diskCount: 1 },
  burnIn: {
    image: "diag",
    steps: [{ name: "memory-test", params: { mib: 8 } }],
    thresholds: [
      { step: "memory-test", figure: "mismatches", max: 0 },
      { step: "memory-test", figure: "writeMBs", min: 1e9, serial: "BAD-*" },
    ],
  },
};

let work: { dir: string; remove: () => void };
let server: RunningServer;

const api = (path: string, method = "GET", body?: unknown) =>
  jsonRequest(`${server.url}${path}`, method, body);

function unit(n: number, serial: string, product = "U1-blade"): { id: string; inventory: Inventory } {
  const id = `0e0c8a6a-6f5f-4c43-9d57-00000000f0${String(n).padStart(2, "0")}`;
  return {
    id,
    inventory: inventoryFor(`52:54:00:f0:00:${String(n).padStart(2, "0")}`, { product, serial, uuid: id }),
  };
}

async function traveler(serial: string): Promise<Traveler> {
  return Traveler.parse((await api(`/v1/factory/travelers/${serial}`)).body);
}

/** The kinds of the machine's queued and leased commands. */
async function pending(id: string): Promise<string[]> {
  return (await server.store.machineQueue(id))
    .filter((c) => c.state === "queued" || c.state === "leased")
    .map((c) => c.kind);
}

async function boot(u: { inventory: Inventory }): Promise<void> {
  expect((await api("/v1/inventory", "POST", u.inventory)).status).toBe(200);
}

/** The diagnostic image's report, as the loader posts it (its figures are the agent's; here, given). */
function report(writeMBs: number): MaintenanceReport {
  return {
    image: "0".repeat(64),
    ok: true,
    steps: [
      {
        name: "memory-test",
        params: { mib: 8 },
        ok: true,
        ms: 900,
        data: { mib: 8, mismatches: 0, writeMBs, readMBs: 2000 },
        error: null,
        extra: false,
      },
    ],
  };
}

async function runBurnIn(id: string, writeMBs: number): Promise<LeasedCommand> {
  const command = await leaseCommand(server.url, id, "run-maintenance");
  await postResult(server.url, id, command, {
    leaseId: command.leaseId,
    outcome: "succeeded",
    output: { kind: "run-maintenance", runId: command.maintenance?.runId ?? "", report: report(writeMBs) },
  });
  return command;
}

/** check-disks and run-agent, then write-image leased: returns it (not yet reported). */
async function installUpToWrite(id: string): Promise<LeasedCommand> {
  const check = await leaseCommand(server.url, id, "check-disks");
  await postResult(server.url, id, check, {
    leaseId: check.leaseId,
    outcome: "succeeded",
    output: { kind: "check-disks", disks: [{ name: "vda", sizeBytes: 2 ** 29, bytesRead: 2 ** 21, ms: 2 }] },
  });
  const agent = await leaseCommand(server.url, id, "run-agent");
  await postResult(server.url, id, agent, {
    leaseId: agent.leaseId,
    outcome: "succeeded",
    output: { kind: "run-agent", sha256: agent.agent?.sha256 ?? "", steps: [] },
  });
  return leaseCommand(server.url, id, "write-image");
}

function written(command: LeasedCommand, rawSha256: string, readBack: string): CommandResult {
  const step = (name: string, data: Record<string, unknown>) => ({
    plugin: "image-stream",
    step: name,
    ok: true,
    ms: 10,
    data,
    error: null,
  });
  return {
    leaseId: command.leaseId,
    outcome: "succeeded",
    output: {
      kind: "write-image",
      sha256: command.agent?.sha256 ?? "",
      steps: [
        step("stream", { sha256: "f".repeat(64), bytes: 1000, rawBytes: 2000 }),
        step("read-back", {
          image: "tiny",
          sha256: readBack,
          expectedSha256: rawSha256,
          matches: readBack === rawSha256,
        }),
      ],
    },
  };
}

/** Image leases short enough for a test to outlive one (a pulled unit's lease must run out). */
const IMAGE_LEASE_MS = 400;

async function restartServer(): Promise<void> {
  await server.close();
  server = await startApiServer(work.dir, { imageLeaseMs: IMAGE_LEASE_MS });
}

beforeEach(async () => {
  work = makeTempDir("bootwright-factory-flow-");
  server = await startApiServer(work.dir);
  await serveMaintenanceImages(server.url);
  const set = await api("/v1/factory/station", "PUT", { format: "json", source: JSON.stringify(STATION) });
  expect(set.status).toBe(200);
});

afterEach(async () => {
  await server.close();
  work.remove();
});

it("a unit through every stage, the station restarted mid-shift and the unit pulled mid-install: one traveler, where it stopped, installed again", async () => {
  const a = unit(1, "GOOD-1");
  await boot(a);
  expect(await traveler("GOOD-1")).toMatchObject({ state: "in-progress", stage: "burn-in" });
  const burnIn = await runBurnIn(a.id, 5000);
  expect(burnIn.maintenance).toMatchObject({
    runId: "factory-GOOD-1-1",
    mode: "passive",
    image: { name: "diag" },
  });
  expect(burnIn.maintenance?.steps).toEqual(STATION.burnIn.steps);

  // Mid-shift: the station restarts; the traveler is there once, at the install.
  await restartServer();
  const afterRestart = TravelerList.parse((await api("/v1/factory/travelers")).body).travelers;
  expect(afterRestart.map((t) => [t.serial, t.stage, t.state])).toEqual([
    ["GOOD-1", "install", "in-progress"],
  ]);

  // Pulled while the image was being written: once the write's lease has run out (until then a second
  // enrollment under its identity is held), its next boot says where it stopped and installs again.
  await installUpToWrite(a.id);
  await new Promise((done) => setTimeout(done, IMAGE_LEASE_MS + 100));
  await boot(a);
  const pulled = await traveler("GOOD-1");
  const interrupted = pulled.stages.find((s) => s.stage === "install" && s.attempt === 1);
  expect(interrupted).toMatchObject({ result: "interrupted" });
  expect(interrupted?.reason).toMatch(/stopped during write-image/);
  expect(pulled.stages.at(-1)).toMatchObject({ stage: "install", attempt: 2, result: "running" });
  // Burn-in is not repeated: it passed.
  expect(pulled.stages.filter((s) => s.stage === "burn-in")).toHaveLength(1);

  const write = await installUpToWrite(a.id);
  const raw = "a".repeat(64);
  await postResult(server.url, a.id, write, written(write, raw, raw));
  await leaseCommand(server.url, a.id, "boot-installed");
  const planHash = (await server.store.getMachine(a.id))?.plan?.planHash ?? "";
  const call = await api(`/v1/machines/${a.id}/callhome`, "POST", {
    image: "sha256:x",
    planHash,
    os: "tiny",
  });
  expect(call.body).toMatchObject({ completedInstall: true });
  const done = await traveler("GOOD-1");
  expect(done).toMatchObject({ state: "passed", image: { readBackMatches: true, readBackSha256: raw } });
  expect(done.stages.map((s) => `${s.stage}#${s.attempt}:${s.result}`)).toEqual([
    "inventory#1:passed",
    "burn-in#1:passed",
    "install#1:interrupted",
    "install#2:passed",
    "verification#1:passed",
    // No power driver on this unit: recorded, not hidden.
    "power-off#1:skipped",
  ]);
  expect(done.stages.at(-1)?.reason).toMatch(/no power driver/);
  expect((await api("/v1/factory/line")).body).toMatchObject({ passed: 1, failed: 0 });
});

it("a unit failing burn-in is failed with its figure, never queued an install, marked on its console; its next boot repeats burn-in", async () => {
  const bad = unit(2, "BAD-7");
  await boot(bad);
  await runBurnIn(bad.id, 812);
  const failed = await traveler("BAD-7");
  expect(failed).toMatchObject({ state: "failed", stage: "burn-in", image: null });
  expect(failed.stages.at(-1)?.reason).toBe("memory-test.writeMBs 812 below min 1000000000");
  const machine = await server.store.getMachine(bad.id);
  expect(machine).toMatchObject({ category: "failed", expected: null });
  expect(await pending(bad.id)).toEqual([]);
  const next = NextAction.parse((await api(`/v1/machines/${bad.id}/next`)).body);
  expect(next).toMatchObject({
    action: "wait",
    notice: "factory: unit BAD-7 FAILED at burn-in: memory-test.writeMBs 812 below min 1000000000",
  });
  // The operator reseats the memory and boots it again: burn-in runs again, attempt 2.
  await boot(bad);
  const again = await traveler("BAD-7");
  expect(again.stages.at(-1)).toMatchObject({ stage: "burn-in", attempt: 2, result: "running" });
  expect((await server.store.getMachine(bad.id))?.category).toBe("inventoried");
  await leaseCommand(server.url, bad.id, "run-maintenance");
  const failedOnly = TravelerList.parse((await api("/v1/factory/travelers?failed=true")).body);
  expect(failedOnly.travelers).toEqual([]);
});

it("a unit that is not the station's product fails its inventory check and gets no burn-in", async () => {
  const other = unit(3, "ODD-1", "Z9-tower");
  await boot(other);
  const t = await traveler("ODD-1");
  expect(t).toMatchObject({ state: "failed", stage: "inventory" });
  expect(t.stages[0]?.reason).toBe("product Z9-tower is not U1*");
  expect(await pending(other.id)).toEqual([]);
  const bad = await api("/v1/factory/station", "PUT", {
    format: "yaml",
    source: "name: x\nimage: tiny\nburnIn:\n  steps: []\n",
  });
  expect(bad.status).toBe(422);
  expect(bad.body).toMatchObject({
    code: "invalid_station",
    details: { issues: [{ path: "burnIn.steps", line: 4 }] },
  });
});
