// Seed 003 end to end: two VMs of one configuration, in sequence, under a policy whose plan has a recipe.
// The first finds no captured image: it installs the Debian base, runs the recipe's install script in
// the installed root (packages served by our server, nothing from the internet: openssh-server and its
// dependencies, and a .deb of our own), captures its disk, uploads it, boots it and calls home. The
// second gets the captured image with no script run, boots it, and calls home. Their root filesystems
// are then compared on the host: the same recipe's files, and SSH host keys of each machine's own.
// Needs the debian image: on a fresh machine the suite builds it in the background and starts this
// file after the others (test-vm/timing/sequencer.ts).
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildOsImage } from "../build-scripts/build-os-image.js";
import { ImageList } from "../protocol/index.js";
import { MiB } from "../agent/installer/gpt-write.js";
import { uploadImage } from "../server/cli/image-commands.js";
import type { RunningServer } from "../server/server.js";
import { TEST_ADMIN_TOKEN, jsonRequest } from "../server/test-support.js";
import { chooseAccelerator, type Accelerator } from "./accelerator.js";
import { requireBootArtefacts } from "./paths.js";
import { Vm } from "./qemu.js";
import { prepareRecipe } from "./recipe-debs.js";
import { installAndWaitForCallHome, startTestServer } from "./test-server.js";

let accel: Accelerator;
let dir: string;
let server: RunningServer;
const vms: Vm[] = [];

/** The recipe asks for this much room under the root; its script takes most of it (ROOM_FILE_MIB). */
const GROW_ROOT_MIB = 128;
const ROOM_FILE_MIB = 96;
const SCRIPT = [
  'wget -q -O /tmp/hello.deb "$BOOTWRIGHT_FILES/hello-bootwright.deb"',
  "dpkg -i /tmp/hello.deb",
  "rm /tmp/hello.deb",
  // More than the base image's own free space (checked below): only the grown root holds it.
  `fallocate -l ${ROOM_FILE_MIB}M /var/lib/bootwright-room`,
  'echo "built by $BOOTWRIGHT_MACHINE" > /etc/bootwright-recipe',
  // What dbus's postinst does on a fuller image: the builder gets a machine-id, which must not be captured.
  "systemd-machine-id-setup",
].join("\n");
/** Installed with apt from .debs our server serves: its postinst makes host keys in the recipe's chroot. */
const SSHD_PACKAGES = ["openssh-server"];
let baseRoot: { bytes: number; freeBytes: number };
let baseRawBytes: number;

/** Size and free space of an ext4 filesystem, from its superblock (debugfs's stats). */
function fsSize(stats: string): { bytes: number; freeBytes: number } {
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(stats)?.[1]);
  const block = field("Block size");
  return { bytes: field("Block count") * block, freeBytes: field("Free blocks") * block };
}

/** A real .deb (dpkg-deb) the recipe installs from our server. */
function buildDeb(out: string): void {
  const root = join(dir, "deb-root");
  mkdirSync(join(root, "DEBIAN"), { recursive: true });
  mkdirSync(join(root, "usr/local/bin"), { recursive: true });
  writeFileSync(
    join(root, "DEBIAN/control"),
    "Package: hello-bootwright\nVersion: 1.0\nArchitecture: all\nMaintainer: bootwright tests <tests@invalid>\nDescription: installed by a bootwright recipe\n",
  );
  writeFileSync(join(root, "usr/local/bin/hello-bootwright"), "#!/bin/sh\necho hello from a recipe\n");
  chmodSync(join(root, "usr/local/bin/hello-bootwright"), 0o755);
  execFileSync("dpkg-deb", ["--root-owner-group", "--build", root, out], { stdio: "ignore" });
}

/** Runs debugfs against the `root` partition of a VM's disk file (through a read-only loop device). */
function debugfs(disk: string, request: string): string {
  // sfdisk warns (stderr) that the image's backup GPT is not at the end of the bigger disk: expected.
  const output = execFileSync("sfdisk", ["--json", disk], { stdio: ["ignore", "pipe", "ignore"] });
  const table = JSON.parse(output.toString()) as {
    partitiontable: { sectorsize?: number; partitions: { start: number; size: number; name?: string }[] };
  };
  const root = table.partitiontable.partitions.find((p) => p.name === "root");
  if (!root) throw new Error(`${disk} has no root partition`);
  const sector = table.partitiontable.sectorsize ?? 512;
  const loop = execFileSync("losetup", [
    "--find",
    "--show",
    "--read-only",
    "--offset",
    String(root.start * sector),
    "--sizelimit",
    String(root.size * sector),
    disk,
  ])
    .toString()
    .trim();
  try {
    // -c (catastrophic mode) skips the allocation bitmaps: the VM was stopped with its root mounted, and
    // a bitmap whose checksum the unreplayed journal would have fixed makes debugfs refuse to open.
    return execFileSync("debugfs", ["-c", "-R", request, loop], {
      stdio: ["ignore", "pipe", "ignore"],
    }).toString();
  } finally {
    execFileSync("losetup", ["-d", loop]);
  }
}

beforeAll(async () => {
  requireBootArtefacts();
  accel = await chooseAccelerator();
  const debian = await buildOsImage({
    kind: "debian",
    log: (line) => {
      console.log(line);
    },
  });
  dir = mkdtempSync(join(tmpdir(), "bootwright-capture-vm-"));
  const baseDisk = join(dir, "debian-base.img");
  execFileSync("zstd", ["-d", "-q", "-o", baseDisk, debian.paths.zst]);
  baseRawBytes = statSync(baseDisk).size;
  baseRoot = fsSize(debugfs(baseDisk, "stats"));
  rmSync(baseDisk);
  mkdirSync(join(dir, "recipes/web"), { recursive: true });
  const sshd = prepareRecipe(join(dir, "recipes/web"), SSHD_PACKAGES);
  buildDeb(join(dir, "recipes/web/hello-bootwright.deb"));
  server = await startTestServer(dir);
  const policy = {
    rules: [
      {
        name: "web",
        match: [{ fact: "product", glob: "CAP-*" }],
        plan: {
          image: "debian-12",
          recipe: { name: "web", script: `${sshd.script}\n${SCRIPT}`, growRootMiB: GROW_ROOT_MIB },
        },
      },
    ],
  };
  const set = await jsonRequest(`${server.url}/v1/policy`, "PUT", {
    format: "json",
    source: JSON.stringify(policy),
  });
  expect(set.status).toBe(200);
  await uploadImage(
    server.url,
    debian.paths.zst,
    { name: "debian-12", format: "raw.zst", purpose: "os" },
    TEST_ADMIN_TOKEN,
  );
}, 30 * 60_000);

afterAll(async () => {
  await Promise.all(vms.map((vm) => vm.stop()));
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function install(n: number): Promise<{ vm: Vm; id: string; seconds: number }> {
  const id = `0e0c8a6a-6f5f-4c43-9d57-0000000000c${n}`;
  const started = Date.now();
  const vm = Vm.start({
    name: `capture-${n}`,
    workDir: join(dir, `vm-${n}`),
    accel,
    firmware: "bios",
    boot: { kind: "network", bootfileUrl: `${server.advertiseUrl}/boot.ipxe` },
    mac: `52:54:00:ca:00:0${n}`,
    uuid: id,
    // Same product, CPU, memory and disk: the same configuration fingerprint; only the serial differs.
    smbios: [`type=1,manufacturer=Acme,product=CAP-1,serial=CAP-000${n}`],
    disksMiB: [1024],
    allowReboot: true,
  });
  vms.push(vm);
  await installAndWaitForCallHome(server, vm, id, { enroll: 240_000, install: 900_000 });
  return { vm, id, seconds: (Date.now() - started) / 1000 };
}

it("the first machine builds with the recipe and captures; the second of that configuration gets the image", async () => {
  const first = await install(1);
  const firstLog = await server.store.machineLog(first.id);
  const steps = (log: typeof firstLog): string[] =>
    log.filter((e) => e.event === "agent-step").map((e) => `${String(e.data.plugin)}/${String(e.data.step)}`);
  expect(steps(firstLog)).toEqual(
    expect.arrayContaining(["recipe-capture/run-script", "recipe-capture/capture"]),
  );
  expect(firstLog.filter((e) => e.event === "category").map((e) => e.data.to)).toEqual(
    expect.arrayContaining(["imaging", "capturing", "installed"]),
  );
  const images = ImageList.parse((await jsonRequest(`${server.url}/v1/images`, "GET")).body).images;
  const captured = images.find((i) => i.origin !== null);
  expect(captured?.origin).toMatchObject({ recipe: "web", sourceMachine: first.id });
  expect(captured?.origin?.fingerprint).toBe((await server.store.getMachine(first.id))?.fingerprint);
  // The root grew by the recipe's room before the script ran, and the capture covers it.
  expect(baseRoot.freeBytes).toBeLessThan(ROOM_FILE_MIB * MiB);
  expect(captured?.rawBytes).toBe(baseRawBytes + GROW_ROOT_MIB * MiB);
  const script = firstLog.find((e) => e.event === "agent-step" && e.data.step === "run-script");
  expect((script?.data.data as { grown?: unknown } | undefined)?.grown).toMatchObject({ partition: 3 });

  const second = await install(2);
  const secondLog = await server.store.machineLog(second.id);
  expect(steps(secondLog).some((s) => s.startsWith("recipe-capture/"))).toBe(false);
  const stream = secondLog.find((e) => e.event === "agent-step" && e.data.step === "stream");
  expect((stream?.data.data as { sha256?: string } | undefined)?.sha256).toBe(captured?.sha256);
  expect(secondLog.some((e) => e.event === "category" && e.data.to === "capturing")).toBe(false);
  console.log(
    `[capture] first (script + capture) ${first.seconds.toFixed(0)} s, second (captured image) ${second.seconds.toFixed(0)} s`,
  );

  // The builder's identity stayed out of the captured image (agent/installer/generalize.ts)…
  const generalized = (script?.data.data as { generalized?: unknown } | undefined)?.generalized;
  expect(generalized).toMatchObject({ machineIdCleared: true, sshHostKeysUnit: true });
  expect((generalized as { sshHostKeysRemoved: number }).sshHostKeysRemoved).toBeGreaterThanOrEqual(6);
  const capturedDisk = join(dir, "captured.img");
  execFileSync("zstd", ["-d", "-q", "-o", capturedDisk, join(dir, "images/sha256", captured?.sha256 ?? "")]);
  expect(debugfs(capturedDisk, "cat /etc/machine-id")).toBe("");
  const sshFiles = debugfs(capturedDisk, "ls -p /etc/ssh");
  expect(sshFiles).toContain("/sshd_config/");
  expect(sshFiles).not.toContain("ssh_host_");
  expect(debugfs(capturedDisk, "ls -p /etc/systemd/system/ssh.service.wants")).toContain(
    "/bootwright-ssh-host-keys.service/",
  );
  rmSync(capturedDisk);
  // …and each machine made its own SSH host keys at first boot: the unit prints their fingerprints once
  // they are made and synced, and the key on the disk is the one printed.
  const hostKey = async (vm: Vm, n: number): Promise<string> => {
    const printed = (await vm.waitForConsole(/(SHA256:[A-Za-z0-9+/]+) \S+ \(ED25519\)/, 180_000))[1];
    const key = debugfs(join(dir, `vm-${n}`, "disk0.img"), "cat /etc/ssh/ssh_host_ed25519_key.pub").trim();
    const blob = Buffer.from(key.split(" ")[1] ?? "", "base64");
    expect(`SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`).toBe(printed);
    return key;
  };
  const [firstKey, secondKey] = [await hostKey(first.vm, 1), await hostKey(second.vm, 2)];
  expect(firstKey).not.toBe(secondKey);

  await Promise.all([first.vm.stop(), second.vm.stop()]);
  // Both roots hold what the script made on the first machine: the second ran no script.
  for (const n of [1, 2]) {
    const disk = join(dir, `vm-${n}`, "disk0.img");
    expect(debugfs(disk, "cat /etc/bootwright-recipe")).toContain(`built by ${first.id}`);
    expect(debugfs(disk, "ls -p /usr/local/bin")).toContain("hello-bootwright");
    // resize2fs fills the grown partition, which ends on the last whole MiB of the room.
    expect(fsSize(debugfs(disk, "stats")).bytes).toBeGreaterThanOrEqual(baseRoot.bytes + GROW_ROOT_MIB * MiB);
    expect(debugfs(disk, "stat /var/lib/bootwright-room")).toContain(`Size: ${ROOM_FILE_MIB * MiB}`);
  }
  const list = (n: number): string => debugfs(join(dir, `vm-${n}`, "disk0.img"), "ls -p /usr/local/bin");
  expect(list(2)).toBe(list(1));
}, 1_800_000);
