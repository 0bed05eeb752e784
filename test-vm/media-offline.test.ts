// Offline media end to end (issue 22 item 2): a store with the tiny image (a test server that is then
// stopped), `bootwright media build --offline --image tiny --policy <file>`, and one OVMF VM booting the
// media as a USB stick (usb-storage) with no server running anywhere: the loader resolves the media's
// policy itself, writes the image from the stick (sha256, size and marker checked by the agent code) and
// leaves its report on the stick's ESP. `bootwright media import <stick>` then brings the machine, its
// inventory and step log into a fresh store, and a second import adds nothing.
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { OFFLINE_MANIFEST_FILE, OfflineManifest, parseMbr } from "../protocol/index.js";
import { SqliteStore } from "../server/db/sqlite/store.js";
import { chooseAccelerator, type Accelerator } from "./accelerator.js";
import { readBytes } from "./disk-bytes.js";
import { buildTestMedia, usbStickArgs } from "./media-iso.js";
import { REPO_ROOT, requireBootArtefacts } from "./paths.js";
import { Vm } from "./qemu.js";
import { serveTinyImage, startTestServer } from "./test-server.js";

const exec = promisify(execFile);
const BIN = join(REPO_ROOT, "bin/bootwright");
const ID = "0e0c8a6a-6f5f-4c43-9d57-0000000000b1";

let accel: Accelerator;
let dir: string;
let stick: string;
let vm: Vm | undefined;

beforeAll(async () => {
  requireBootArtefacts();
  accel = await chooseAccelerator();
  dir = mkdtempSync(join(tmpdir(), "bootwright-offline-"));
  // The store that holds the image: filled through a server as an operator would, which then stops.
  const server = await startTestServer(join(dir, "var"));
  try {
    await serveTinyImage(server, "OFF-*");
  } finally {
    await server.close();
  }
  const policy = join(dir, "policy.yaml");
  writeFileSync(
    policy,
    "rules:\n  - name: offline-tiny\n    match: [{ fact: product, glob: 'OFF-*' }]\n    plan: { image: tiny }\n",
  );
  stick = join(dir, "stick.img");
  const iso = join(dir, "offline.iso");
  await buildTestMedia(null, iso, [
    "--offline",
    "--image",
    "tiny",
    "--policy",
    policy,
    "--data-dir",
    join(dir, "var"),
  ]);
  // dd to a stick: the ISO's bytes on a writable USB disk.
  copyFileSync(iso, stick);
}, 300_000);

afterAll(async () => {
  await vm?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function manifestOn(image: string): Promise<OfflineManifest> {
  const part = parseMbr(readBytes(image, 0, 512)).find((p) => p.type === 0xef);
  const esp = `${image}@@${String((part?.startLba ?? 0) * 512)}`;
  return OfflineManifest.parse(
    JSON.parse((await exec("mtype", ["-i", esp, `::/${OFFLINE_MANIFEST_FILE}`])).stdout),
  );
}

it("installs from a USB stick with no server, and `media import` brings the machine and its log into a store", async () => {
  const disk = join(dir, "disk.img");
  writeFileSync(disk, "");
  truncateSync(disk, 512 * 2 ** 20);
  vm = Vm.start({
    name: "media-offline",
    workDir: dir,
    accel,
    firmware: "uefi",
    boot: { kind: "firmware", order: "cd" },
    mac: "52:54:00:a2:00:b1",
    uuid: ID,
    smbios: ["type=1,manufacturer=Acme,product=OFF-1,serial=OFF-0001"],
    allowReboot: true,
    extraArgs: [
      "-drive",
      `file=${disk},if=none,id=disk0,format=raw`,
      "-device",
      "virtio-blk-pci,drive=disk0,bootindex=1",
      ...usbStickArgs(stick),
    ],
  });
  await vm.waitForConsole(/ok offline install done/, 150_000);
  await vm.stop();
  const console = vm.console();
  expect(console).toMatch(/ok offline plan rule=offline-tiny image=tiny/);
  expect(console).toMatch(/ok step image-stream\/stream/);
  expect(console).toMatch(
    /ok offline report written file=reports\/525400a200b1-\d+\/report\.json outcome=installed/,
  );

  // The disk holds the image and the marker naming it (written by the same plugin as online).
  const { image } = await manifestOn(stick);
  const written = readBytes(disk, 0, image.source.rawBytes).toString("latin1");
  expect(written).toContain(`{"image":"sha256:${image.source.sha256}","planHash":"sha256:`);

  const store = `sqlite:${join(dir, "fresh.sqlite")}`;
  const imported = JSON.parse(
    (await exec(BIN, ["media", "import", stick, "--store", store, "--json"], { timeout: 60_000 })).stdout,
  ) as { runs: { machineId: string; outcome: string; imported: boolean }[] };
  expect(imported.runs).toEqual([
    expect.objectContaining({ machineId: ID, outcome: "installed", imported: true }),
  ]);
  const again = JSON.parse(
    (await exec(BIN, ["media", "import", stick, "--store", store, "--json"], { timeout: 60_000 })).stdout,
  ) as { runs: { imported: boolean }[] };
  expect(again.runs.map((r) => r.imported)).toEqual([false]);

  const opened = SqliteStore.open(join(dir, "fresh.sqlite"));
  try {
    const machine = await opened.read((rows) => rows.machines.get(ID));
    expect(machine).toMatchObject({ category: "installed", plan: { rule: "offline-tiny" } });
    expect(machine?.inventory?.system).toMatchObject({ product: "OFF-1", serial: "OFF-0001" });
    const log = await opened.read((rows) => rows.log.forMachine(ID));
    const steps = log
      .filter((e) => e.event === "offline-step")
      .map((e) => `${String(e.data.plugin)}/${String(e.data.step)}`);
    expect(steps).toEqual(expect.arrayContaining(["image-stream/stream", "image-stream/write-marker"]));
    expect(log.filter((e) => e.event === "offline-run")).toHaveLength(1);
  } finally {
    await opened.close();
  }
}, 300_000);
