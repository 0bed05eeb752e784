// Install end to end (seed 002): a VM network-boots, enrolls, and with `installed` expected gets its
// tailored agent, the Debian 12 image (debootstrap, build-scripts/build-os-image.ts) streamed onto its
// disk (verified, with the marker), and Debian calls home: its category becomes `installed`. The BIOS
// machine reboots through the firmware (iPXE sends it to its disk); the UEFI machine's plan says
// `reboot: kexec`, so the loader starts the installed kernel itself, as the disk's boot entry names it. The batch and fault tests use the
// tiny busybox image (fast to boot). Needs the debian image: on a fresh machine the suite builds it in
// the background and starts this file after the others (test-vm/timing/sequencer.ts).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildOsImage } from "../build-scripts/build-os-image.js";
import { ImageDetail } from "../protocol/index.js";
import { uploadImage } from "../server/cli/image-commands.js";
import type { RunningServer } from "../server/server.js";
import { TEST_ADMIN_TOKEN, jsonRequest } from "../server/test-support.js";
import { chooseAccelerator, type Accelerator } from "./accelerator.js";
import { requireBootArtefacts } from "./paths.js";
import { Vm } from "./qemu.js";
import { installAndWaitForCallHome, startTestServer, waitForMachine } from "./test-server.js";

let accel: Accelerator;
let dir: string;
let server: RunningServer;
const vms: Vm[] = [];

beforeAll(async () => {
  requireBootArtefacts();
  accel = await chooseAccelerator();
  const tiny = await buildOsImage({ kind: "tiny" });
  const debian = await buildOsImage({
    kind: "debian",
    log: (line) => {
      console.log(line);
    },
  });
  dir = mkdtempSync(join(tmpdir(), "bootwright-install-"));
  // A long batch window: four TCG guests on two cores reach the transfer step minutes apart at worst.
  server = await startTestServer(dir, 0, { batchWindowMs: 120_000 });
  const policy = {
    rules: [
      {
        name: "debian-kexec",
        match: [{ fact: "product", equals: "DEB-uefi" }],
        plan: { image: "debian-12", reboot: "kexec" },
      },
      { name: "debian", match: [{ fact: "product", glob: "DEB-*" }], plan: { image: "debian-12" } },
      { name: "tiny", match: [{ fact: "product", glob: "INS-*" }], plan: { image: "tiny" } },
    ],
  };
  const set = await jsonRequest(`${server.url}/v1/policy`, "PUT", {
    format: "json",
    source: JSON.stringify(policy),
  });
  expect(set.status).toBe(200);
  await uploadImage(
    server.url,
    tiny.paths.zst,
    { name: "tiny", format: "raw.zst", purpose: "os" },
    TEST_ADMIN_TOKEN,
  );
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

it.each([
  ["bios", "52:54:00:e1:00:01", "0e0c8a6a-6f5f-4c43-9d57-0000000000e1"],
  ["uefi", "52:54:00:e1:00:02", "0e0c8a6a-6f5f-4c43-9d57-0000000000e2"],
] as const)(
  "%s: netboot → tailored agent → image streamed and verified → into the OS → it calls home",
  async (firmware, mac, id) => {
    const started = Date.now();
    const vm = Vm.start({
      name: `install-${firmware}`,
      workDir: join(dir, firmware),
      accel,
      firmware,
      boot: { kind: "network", bootfileUrl: `${server.advertiseUrl}/boot.ipxe` },
      mac,
      uuid: id,
      smbios: [
        `type=1,manufacturer=Acme,product=DEB-${firmware},serial=DEB-000${firmware === "bios" ? 1 : 2}`,
      ],
      disksMiB: [1024],
      allowReboot: true,
    });
    vms.push(vm);
    await installAndWaitForCallHome(server, vm, id, { enroll: 240_000, install: 600_000 });
    const machine = await server.store.getMachine(id);
    const log = await server.store.machineLog(id);

    const events = log.map((e) => e.event);
    const categories = log.filter((e) => e.event === "category").map((e) => e.data.to);
    expect(categories).toEqual(["ready", "planned", "configuring", "imaging", "installed"]);
    // Every step of the install is in the log, with its timing; the stream step with its rate.
    const steps = log
      .filter((e) => e.event === "agent-step")
      .map((e) => `${String(e.data.plugin)}/${String(e.data.step)}`);
    expect(steps).toEqual(
      expect.arrayContaining([
        "disk-report/list-disks",
        "image-stream/check-target",
        "image-stream/stream",
        "image-stream/write-marker",
      ]),
    );
    const stream = log.find((e) => e.event === "agent-step" && e.data.step === "stream");
    expect(stream?.data.ok).toBe(true);
    expect(Number((stream?.data.data as { rateMBs?: number } | undefined)?.rateMBs)).toBeGreaterThan(0);
    expect(events).toContain("agent-progress");
    const callHome = log.find((e) => e.event === "called-home");
    expect(callHome?.data).toMatchObject({
      matchesPlan: true,
      completesInstall: true,
      planHash: machine?.plan?.planHash,
    });
    // After the image was written: on BIOS the reboot asked iPXE, which the server sent to its own disk.
    // On UEFI (reboot: kexec) nothing went through the firmware again: no boot script after the image,
    // and the loader started the kernel and command line of the disk's own boot entry.
    const written = log.findIndex((e) => e.event === "command-succeeded" && e.data.kind === "write-image");
    const answers = log
      .slice(written)
      .filter((e) => e.event === "boot-script")
      .map((e) => e.data.answer);
    if (firmware === "bios") expect(answers).toContain("local-disk");
    else {
      expect(answers).toEqual([]);
      const kexec = log.find((e) => e.event === "agent-progress" && e.data.step === "kexec");
      expect(kexec?.data).toMatchObject({
        plugin: "boot",
        config: "syslinux.cfg",
        kernel: "/vmlinuz",
        initrds: "/initrd.img",
        cmdline: expect.stringMatching(/^root=PARTUUID=\S+ rw console=ttyS0/) as unknown,
        // The ESP and the ext4 root (ext4's mount needs crc32c loaded first); not the raw marker.
        searched: "vda1,vda3",
      });
      expect(vm.console()).toMatch(/starting the installed kernel \(kexec\)/);
      expect(vm.console()).not.toMatch(/next boot: the disk/);
    }
    console.log(
      `[install ${firmware}] power-on → installed OS called home: ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    await vm.stop();
  },
  900_000,
);

it("4 VMs installing the same image form one batch: the store is read once for all", async () => {
  const before = ImageDetail.parse((await jsonRequest(`${server.url}/v1/images/tiny`, "GET")).body).reads;
  const machines = [1, 2, 3, 4].map((n) => ({
    n,
    mac: `52:54:00:e2:00:0${n}`,
    id: `0e0c8a6a-6f5f-4c43-9d57-0000000000f${n}`,
  }));
  const started = Date.now();
  const batch = machines.map(({ n, mac, id }) =>
    Vm.start({
      name: `install-batch-${n}`,
      workDir: join(dir, `batch-${n}`),
      accel,
      firmware: "bios",
      boot: { kind: "network", bootfileUrl: `${server.advertiseUrl}/boot.ipxe` },
      mac,
      uuid: id,
      smbios: [`type=1,manufacturer=Acme,product=INS-batch,serial=INS-B00${n}`],
      disksMiB: [128],
      memoryMiB: 768,
      cpus: 1,
      allowReboot: true,
    }),
  );
  vms.push(...batch);
  for (const { id } of machines)
    await waitForMachine(server, id, (m) => m?.category === "inventoried", 480_000);
  const expect4 = await jsonRequest(`${server.url}/v1/expected`, "POST", {
    category: "installed",
    where: { path: "inventory.system.product", equals: "INS-batch" },
  });
  expect(expect4.status).toBe(200);
  for (const { id } of machines)
    await waitForMachine(server, id, (m) => m?.category === "installed" || m?.category === "failed", 600_000);
  for (const { id } of machines) expect((await server.store.getMachine(id))?.category).toBe("installed");
  for (const [i, { id }] of machines.entries())
    await batch[i]?.waitForConsole(new RegExp(`bootwright-os: called home machine=${id}`), 60_000);

  const image = ImageDetail.parse((await jsonRequest(`${server.url}/v1/images/tiny`, "GET")).body);
  const reads = image.reads;
  expect(reads.storeBytesRead - before.storeBytesRead).toBe(image.image.sizeBytes);
  expect(reads.batches - before.batches).toBe(1);
  expect(reads.batchedMembers - before.batchedMembers).toBe(4);
  expect(reads.bytesSent - before.bytesSent).toBe(4 * image.image.sizeBytes);
  console.log(
    `[install batch] 4 VMs power-on → all installed: ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  await Promise.all(batch.map((vm) => vm.stop()));
}, 1_200_000);

it("a flipped byte in the stored image fails the machine with the reason: never installed", async () => {
  const image = ImageDetail.parse((await jsonRequest(`${server.url}/v1/images/tiny`, "GET")).body).image;
  const blob = join(dir, "images/sha256", image.sha256);
  const original = readFileSync(blob);
  const flipped = Buffer.from(original);
  const at = Math.floor(flipped.length / 3);
  flipped[at] = (flipped[at] ?? 0) ^ 0x40;
  writeFileSync(blob, flipped);
  try {
    const id = "0e0c8a6a-6f5f-4c43-9d57-0000000000e9";
    const vm = Vm.start({
      name: "install-corrupt",
      workDir: join(dir, "corrupt"),
      accel,
      firmware: "bios",
      boot: { kind: "network", bootfileUrl: `${server.advertiseUrl}/boot.ipxe` },
      mac: "52:54:00:e1:00:09",
      uuid: id,
      smbios: ["type=1,manufacturer=Acme,product=INS-corrupt,serial=INS-0009"],
      disksMiB: [128],
      allowReboot: true,
    });
    vms.push(vm);
    await waitForMachine(server, id, (m) => m?.category === "inventoried", 240_000);
    await jsonRequest(`${server.url}/v1/machines/${id}/expected`, "PUT", { category: "installed" });
    await waitForMachine(server, id, (m) => m?.category === "failed" || m?.category === "installed", 240_000);
    const log = await server.store.machineLog(id);
    expect((await server.store.getMachine(id))?.category).toBe("failed");
    const failure = log.find((e) => e.event === "command-failed");
    expect(failure?.data.kind).toBe("write-image");
    expect(String(failure?.data.error)).toMatch(
      /image sha256 mismatch: received \d+ bytes with sha256 [0-9a-f]{64}/,
    );
    expect(log.some((e) => e.event === "category" && e.data.to === "installed")).toBe(false);
    await vm.waitForConsole(/command failed kind=write-image/, 30_000);
    await vm.stop();
  } finally {
    writeFileSync(blob, original);
  }
});
