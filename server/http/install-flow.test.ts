// The install commands over the real HTTP API, the test playing the agent's part: the category follows
// the commands as they are leased, iPXE is sent to the disk while the machine reboots into its install,
// the installed OS calling home completes it — and one that never calls home is failed with the reason
// by the server's lease sweep, not left waiting.
import { afterEach, beforeEach, expect, it } from "vitest";
import { compress } from "zstd-napi";
import type { LeasedCommand } from "../../protocol/index.js";
import type { RunningServer } from "../server.js";
import {
  OPERATOR,
  installUntilReboot as driveInstall,
  jsonRequest,
  makeTempDir,
  SAMPLE_UUID as ID,
  sampleInventory,
  startApiServer,
} from "../test-support.js";

let work: { dir: string; remove: () => void };
let server: RunningServer;
const inventory = sampleInventory();

const api = (path: string, method = "GET", body?: unknown) =>
  jsonRequest(`${server.url}${path}`, method, body);

async function category(): Promise<string | undefined> {
  return (await server.store.getMachine(ID))?.category;
}

/** Runs the queue up to the reboot, as the loader and agent would, checking the category on each lease. */
async function installUntilReboot(): Promise<LeasedCommand> {
  const seen: string[] = [];
  const reboot = await driveInstall(server.url, ID, async (kind) => {
    seen.push(`${kind}:${String(await category())}`);
  });
  expect(seen).toEqual(["check-disks:inventoried", "run-agent:configuring", "write-image:imaging"]);
  expect(reboot.kind).toBe("boot-installed");
  expect(await category()).toBe("imaging");
  return reboot;
}

async function bootScript(): Promise<string> {
  const res = await fetch(`${server.url}/boot/${inventory.bootMac}.ipxe?uuid=${ID}`);
  return res.text();
}

beforeEach(async () => {
  work = makeTempDir("bootwright-install-flow-");
  server = await startApiServer(work.dir, { callHomeTimeoutMs: 600, leaseSweepMs: 100 });
  await api("/v1/inventory", "POST", inventory);
  const policy = { rules: [{ name: "all", match: [], plan: { image: "tiny" } }] };
  expect((await api("/v1/policy", "PUT", { format: "json", source: JSON.stringify(policy) })).status).toBe(
    200,
  );
  const put = await fetch(`${server.url}/v1/images?name=tiny&format=raw.zst`, {
    headers: OPERATOR,
    method: "PUT",
    body: compress(Buffer.alloc(1 << 20, 7)),
  });
  expect(put.status).toBe(201);
});

afterEach(async () => {
  await server.close();
  work.remove();
});

it("leases move the category; iPXE boots the disk while the install reboots; the call home installs it", async () => {
  const reboot = await installUntilReboot();
  // The plan names no reboot: through the firmware, and no reboot-way line.
  expect(reboot.reboot).toBeUndefined();
  expect((await server.store.machineLog(ID)).map((e) => e.event)).not.toContain("reboot-way");
  expect(await bootScript()).toContain("from its local disk");
  const planHash = (await server.store.getMachine(ID))?.plan?.planHash ?? "";
  const call = await api(`/v1/machines/${ID}/callhome`, "POST", {
    image: "sha256:x",
    planHash,
    os: "tiny 6.1",
  });
  expect(call.body).toMatchObject({ category: "installed", completedInstall: true });
  expect(await category()).toBe("installed");
  // A later boot of the installed OS is logged, and changes nothing.
  const again = await api(`/v1/machines/${ID}/callhome`, "POST", {
    image: "sha256:x",
    planHash,
    os: "tiny 6.1",
  });
  expect(again.body).toMatchObject({ category: "installed", completedInstall: false });
  expect(await bootScript()).toContain("from its local disk");
  // The plan names no reboot: an installed machine's loader reboots through the firmware.
  const enrolled = await api("/v1/inventory", "POST", inventory);
  expect(enrolled.body).toMatchObject({ bootFromDisk: true });
  expect(enrolled.body).not.toHaveProperty("reboot");
});

it("a plan's reboot: kexec lets the loader start the installed kernel; the step log says so", async () => {
  const policy = { rules: [{ name: "all", match: [], plan: { image: "tiny", reboot: "kexec" } }] };
  expect((await api("/v1/policy", "PUT", { format: "json", source: JSON.stringify(policy) })).status).toBe(
    200,
  );
  const reboot = await installUntilReboot();
  expect(reboot.reboot).toBe("kexec");
  const line = (await server.store.machineLog(ID)).find((e) => e.event === "reboot-way");
  expect(line?.data).toEqual({ command: reboot.id, via: "kexec" });
  // Installed, it enrolls again (UEFI HTTP boot, media: no iPXE to answer "local disk"): kexec again.
  const planHash = (await server.store.getMachine(ID))?.plan?.planHash ?? "";
  await api(`/v1/machines/${ID}/callhome`, "POST", { image: "sha256:x", planHash, os: "tiny 6.1" });
  const again = await api("/v1/inventory", "POST", inventory);
  expect(again.body).toMatchObject({ category: "installed", bootFromDisk: true, reboot: "kexec" });
});

it("an installed OS that never calls home fails the machine with the reason, and iPXE loads the loader again", async () => {
  await installUntilReboot();
  await new Promise((resolve) => setTimeout(resolve, 1_200));
  expect(await category()).toBe("failed");
  const failure = (await server.store.machineLog(ID)).find((e) => e.event === "command-failed");
  expect(failure?.data).toMatchObject({ kind: "boot-installed" });
  expect(String(failure?.data.error)).toMatch(
    /the installed system did not call home by .*: it may not boot/,
  );
  expect(await bootScript()).not.toContain("from its local disk");
});
