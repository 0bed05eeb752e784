// The install end to end on the PostgreSQL store (issue 15): the same server, its services over a real
// PostgreSQL (Debian's, started here in a temp directory on a Unix socket, stopped by its PID), one VM
// network-boots, enrolls, gets its tailored agent and the tiny image, reboots and calls home.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startLocalPostgres, type LocalPostgres } from "../server/db/postgres/local-server.js";
import type { RunningServer } from "../server/server.js";
import { chooseAccelerator, type Accelerator } from "./accelerator.js";
import { requireBootArtefacts } from "./paths.js";
import { Vm } from "./qemu.js";
import { installAndWaitForCallHome, serveTinyImage, startTestServer } from "./test-server.js";

let accel: Accelerator;
let dir: string;
let postgres: LocalPostgres | undefined;
let server: RunningServer | undefined;
const vms: Vm[] = [];

beforeAll(async () => {
  requireBootArtefacts();
  accel = await chooseAccelerator();
  dir = mkdtempSync(join(tmpdir(), "bootwright-install-pg-"));
  postgres = await startLocalPostgres();
  const running = await startTestServer(dir, 0, { store: await postgres.createDatabase("site") });
  server = running;
  await serveTinyImage(running, "PG-*");
}, 10 * 60_000);

afterAll(async () => {
  await Promise.all(vms.map((vm) => vm.stop()));
  await server?.close();
  await postgres?.stop();
  if (!process.env.BOOTWRIGHT_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
});

it("on PostgreSQL: netboot → tailored agent → image streamed and verified → reboot → the OS calls home", async () => {
  if (!server) throw new Error("the server did not start");
  const id = "0e0c8a6a-6f5f-4c43-9d57-0000000000b9";
  const vm = Vm.start({
    name: "install-postgres",
    workDir: join(dir, "vm"),
    accel,
    firmware: "bios",
    boot: { kind: "network", bootfileUrl: `${server.advertiseUrl}/boot.ipxe` },
    mac: "52:54:00:e1:00:b9",
    uuid: id,
    smbios: ["type=1,manufacturer=Acme,product=PG-1,serial=PG-0001"],
    disksMiB: [128],
    allowReboot: true,
  });
  vms.push(vm);
  await installAndWaitForCallHome(server, vm, id, { enroll: 240_000, install: 600_000 });
  const log = await server.store.machineLog(id);
  expect(log.filter((e) => e.event === "category").map((e) => e.data.to)).toEqual([
    "ready",
    "planned",
    "configuring",
    "imaging",
    "installed",
  ]);
  const stream = log.find((e) => e.event === "agent-step" && e.data.step === "stream");
  expect(stream?.data.ok).toBe(true);
  expect(log.find((e) => e.event === "called-home")?.data).toMatchObject({
    matchesPlan: true,
    completesInstall: true,
  });
  expect(log.filter((e) => e.event === "boot-script").map((e) => e.data.answer)).toContain("local-disk");
  // The step log's order is the store's: every entry after the one before it.
  expect(log.every((e, i) => i === 0 || e.seq > (log[i - 1]?.seq ?? Infinity))).toBe(true);
  await vm.stop();
}, 900_000);
