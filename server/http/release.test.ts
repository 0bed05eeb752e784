// Releasing machines (issue 18) over the real API, the loader played with its own credential: the
// difference list shows the erase that closes it, the lease says how to erase, the result's per-disk
// report goes in the step log and the machine is `released`, booting the loader from then on. An
// installed machine is told to reboot at its OS's next health report; one mid-install has its install
// cancelled first (its agent's result is refused), then is erased.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DifferenceList,
  InventoryAccepted,
  NextAction,
  type CallHomeAccepted,
  type DiskErase,
  type Inventory,
  type LeasedCommand,
} from "../../protocol/index.js";
import type { RunningServer } from "../server.js";
import {
  jsonRequest,
  makeTempDir,
  startApiServer,
  serveTestImage,
  installUntilReboot,
  inventoryFor,
} from "../test-support.js";

let work: ReturnType<typeof makeTempDir>;
let server: RunningServer;
let imageSha = "";

const inventory = (mac: string): Inventory =>
  inventoryFor(mac, { product: "R1", serial: `SER-${mac}`, uuid: null });

function as(credential: string) {
  return (path: string, method = "GET", body?: unknown) =>
    jsonRequest(`${server.url}${path}`, method, body, credential);
}

/** The loader's credential from its enrollment. */
async function credentialOf(mac: string): Promise<string> {
  const answer = await jsonRequest(`${server.url}/v1/inventory`, "POST", inventory(mac), null);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return InventoryAccepted.parse(answer.body).credential;
}

async function enroll(mac: string): Promise<ReturnType<typeof as>> {
  return as(await credentialOf(mac));
}

async function lease(loader: ReturnType<typeof as>, id: string, kind: string): Promise<LeasedCommand> {
  const next = NextAction.parse((await loader(`/v1/machines/${id}/next`)).body);
  if (next.action !== "run" || next.command.kind !== kind)
    throw new Error(`expected ${kind}: ${JSON.stringify(next)}`);
  return next.command;
}

const erased = (name: string, method: string): DiskErase => ({
  name,
  sizeBytes: 2 ** 30,
  method,
  verifiedBytes: 8192,
  ms: 12,
  note: null,
});

beforeAll(async () => {
  work = makeTempDir("bw-release-");
  server = await startApiServer(work.dir);
  imageSha = await serveTestImage(server.url);
});

afterAll(async () => {
  await server.close();
  work.remove();
});

describe("release", () => {
  it("erases as asked, logs each disk, ends released, and boots the loader from then on", async () => {
    const mac = "52:54:00:e5:00:01";
    const loader = await enroll(mac);
    const released = await jsonRequest(`${server.url}/v1/machines/${mac}/release`, "POST", { erase: "full" });
    expect(released.body).toMatchObject({ category: "inventoried", expected: "released" });
    const diff = DifferenceList.parse((await jsonRequest(`${server.url}/v1/differences`, "GET")).body);
    expect(diff.differences).toContainEqual({
      machineId: mac,
      current: "inventoried",
      expected: "released",
      commands: [{ kind: "erase-disks", onSuccess: "released" }],
      blocked: null,
    });
    const command = await lease(loader, mac, "erase-disks");
    expect(command.erase).toEqual({ mode: "full" });
    const disks = [erased("vda", "zeros"), erased("vdb", "zeros")];
    const result = await loader(`/v1/machines/${mac}/commands/${command.id}/result`, "POST", {
      leaseId: command.leaseId,
      outcome: "succeeded",
      output: { kind: "erase-disks", mode: "full", disks },
    });
    expect(result.body).toMatchObject({ category: "released" });
    const log = await server.store.machineLog(mac);
    expect(log.filter((e) => e.event === "disk-erased").map((e) => e.data)).toEqual(
      disks.map((d) => ({ mode: "full", ...d })),
    );
    expect(log.find((e) => e.event === "release-requested")?.data).toMatchObject({ erase: "full" });
    // Released, it waits in the loader: its boot script is the loader's, and nothing more is queued.
    const script = await (await fetch(`${server.url}/boot/${mac}.ipxe`)).text();
    expect(script).toContain("/assets/vmlinuz");
    expect(NextAction.parse((await loader(`/v1/machines/${mac}/next`)).body)).toMatchObject({
      action: "wait",
    });
  });

  it("an installed machine is told to reboot at its next health report, and gets the loader, not its disk", async () => {
    const mac = "52:54:00:e5:00:02";
    let osCredential = "";
    const keepOsCredential = (_kind: string, command: LeasedCommand): Promise<void> => {
      osCredential = command.osCredential ?? osCredential;
      return Promise.resolve();
    };
    await installUntilReboot(server.url, mac, keepOsCredential, await credentialOf(mac));
    const planHash = (await server.store.getMachine(mac))?.plan?.planHash ?? "";
    const call = { image: `sha256:${imageSha}`, planHash, os: "tiny 6.1" };
    const home = await as(osCredential)(`/v1/machines/${mac}/callhome`, "POST", call);
    expect(home.body).toMatchObject({ category: "installed" });
    const os = as((home.body as CallHomeAccepted).credential);
    const health = { ...call, figures: { load1: 0.1 } };
    expect((await os(`/v1/machines/${mac}/health`, "POST", health)).body).toMatchObject({ action: "none" });
    expect(await (await fetch(`${server.url}/boot/${mac}.ipxe`)).text()).not.toContain("/assets/vmlinuz");

    await jsonRequest(`${server.url}/v1/machines/${mac}/release`, "POST", { erase: "quick" });
    expect((await os(`/v1/machines/${mac}/health`, "POST", health)).body).toMatchObject({ action: "reboot" });
    expect(await (await fetch(`${server.url}/boot/${mac}.ipxe`)).text()).toContain("/assets/vmlinuz");
    // Its loader enrolls again, is not sent back to the disk, and erases.
    const again = await jsonRequest(`${server.url}/v1/inventory`, "POST", inventory(mac), null);
    expect(again.body).toMatchObject({ category: "installed", bootFromDisk: false });
    const reloader = as(InventoryAccepted.parse(again.body).credential);
    const command = await lease(reloader, mac, "erase-disks");
    expect(command.erase).toEqual({ mode: "quick" });
    const done = await reloader(`/v1/machines/${mac}/commands/${command.id}/result`, "POST", {
      leaseId: command.leaseId,
      outcome: "succeeded",
      output: { kind: "erase-disks", mode: "quick", disks: [erased("vda", "wipefs")] },
    });
    expect(done.body).toMatchObject({ category: "released" });
  });

  it("mid-install: the install is cancelled first (its result refused), then the disks are erased", async () => {
    const mac = "52:54:00:e5:00:03";
    const loader = await enroll(mac);
    await jsonRequest(`${server.url}/v1/machines/${mac}/expected`, "PUT", { category: "installed" });
    const check = await lease(loader, mac, "check-disks");
    await loader(`/v1/machines/${mac}/commands/${check.id}/result`, "POST", {
      leaseId: check.leaseId,
      outcome: "succeeded",
      output: {
        kind: "check-disks",
        disks: [{ name: "vda", sizeBytes: 2 ** 30, bytesRead: 2 ** 21, ms: 2 }],
      },
    });
    const agent = await lease(loader, mac, "run-agent");
    expect((await server.store.getMachine(mac))?.category).toBe("configuring");
    await jsonRequest(`${server.url}/v1/release`, "POST", {
      erase: "secure",
      where: { path: "bootMac", equals: mac },
    });
    const late = await loader(`/v1/machines/${mac}/commands/${agent.id}/result`, "POST", {
      leaseId: agent.leaseId,
      outcome: "succeeded",
      output: { kind: "run-agent", sha256: agent.agent?.sha256 ?? "", steps: [] },
    });
    expect(late.body).toMatchObject({ code: "lease_refused" });
    const erase = await lease(loader, mac, "erase-disks");
    expect(erase.erase).toEqual({ mode: "secure" });
    // A device that cannot erase itself fails the machine with the reason; nothing is claimed.
    const failed = await loader(`/v1/machines/${mac}/commands/${erase.id}/result`, "POST", {
      leaseId: erase.leaseId,
      outcome: "failed",
      error: "secure erase not done on vda (vda is neither NVMe nor ATA: it has no device-level erase)",
    });
    expect(failed.body).toMatchObject({ category: "failed" });
    const log = await server.store.machineLog(mac);
    expect(log.some((e) => e.event === "disk-erased")).toBe(false);
  });
});
