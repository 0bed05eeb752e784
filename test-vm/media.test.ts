// Rescue media end to end (issue 22): `bootwright media build` makes one hybrid ISO; one VM boots it as a
// CD (SeaBIOS), another as a USB disk (qemu-xhci + usb-storage, OVMF with Secure Boot); each finds the media's settings
// file, reaches the server (the CD with DHCP; the stick, whose settings file a technician edited, with a
// static address), enrolls, installs the tiny image and reboots into it: on UEFI
// through BootNext (the stick stays first in the boot order), on BIOS after the console said to remove
// the media (this VM's firmware tries the disk before the CD). Both VMs run at once (one vCPU each).
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parseMediaSettings } from "../protocol/index.js";
import type { RunningServer } from "../server/server.js";
import { chooseAccelerator, type Accelerator } from "./accelerator.js";
import {
  buildTestMedia,
  cdromArgs,
  readSettingsOnEsp,
  usbStickArgs,
  writeSettingsOnEsp,
} from "./media-iso.js";
import { requireBootArtefacts } from "./paths.js";
import { Vm } from "./qemu.js";
import { installAndWaitForCallHome, serveTinyImage, startTestServer } from "./test-server.js";

let accel: Accelerator;
let dir: string;
let server: RunningServer;
let iso: string;
const vms: Vm[] = [];

beforeAll(async () => {
  requireBootArtefacts();
  accel = await chooseAccelerator();
  dir = mkdtempSync(join(tmpdir(), "bootwright-media-"));
  server = await startTestServer(dir);
  await serveTinyImage(server, "MED-*");
  iso = join(dir, "bootwright.iso");
  await buildTestMedia(server.advertiseUrl, iso);
}, 300_000);

afterAll(async () => {
  await Promise.all(vms.map((vm) => vm.stop()));
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

it("the ISO is hybrid: an MBR with the ESP, whose settings file names the server", async () => {
  const settings = parseMediaSettings(await readSettingsOnEsp(iso));
  expect(settings).toEqual({ ok: true, settings: { server: server.advertiseUrl } });
  // The MBR signature that makes a dd'd stick bootable on BIOS, and ISO9660's at 32 KiB.
  const head = readFileSync(iso).subarray(0, 0x8006);
  expect(head.readUInt16LE(510)).toBe(0xaa55);
  expect(head.subarray(0x8001, 0x8006).toString("latin1")).toBe("CD001");
});

it("boots as a CD (SeaBIOS) and as a USB disk (OVMF): each enrolls, installs the tiny image and boots it", async () => {
  const machines = [
    { firmware: "bios", mac: "52:54:00:a2:00:01", id: "0e0c8a6a-6f5f-4c43-9d57-0000000000a1" },
    // OVMF with Secure Boot enforced: shim and Debian's signed GRUB and kernel on the media are accepted.
    { firmware: "uefi-secure", mac: "52:54:00:a2:00:02", id: "0e0c8a6a-6f5f-4c43-9d57-0000000000a2" },
  ] as const;
  const started = [];
  for (const { firmware, mac, id } of machines) {
    const workDir = join(dir, firmware);
    const disk = join(workDir, "disk.img");
    const stick = join(workDir, "stick.img");
    mkdirSync(workDir, { recursive: true });
    writeFileSync(disk, "");
    truncateSync(disk, 512 * 2 ** 20);
    if (firmware === "uefi-secure") {
      // A stick written with dd: the ISO's bytes on a writable USB disk; then a technician edits its
      // settings file for a network without DHCP (QEMU's user network: 10.0.2.15, gateway 10.0.2.2).
      copyFileSync(iso, stick);
      await writeSettingsOnEsp(
        stick,
        `server=${server.advertiseUrl}\nstatic=10.0.2.15/24,10.0.2.2,10.0.2.3\n`,
      );
    }
    const vm = Vm.start({
      name: `media-${firmware}`,
      workDir,
      accel,
      firmware,
      // SeaBIOS: the disk, then the CD (an empty disk is skipped). OVMF: the stick first, the disk next.
      boot: { kind: "firmware", order: "cd" },
      mac,
      uuid: id,
      smbios: [
        `type=1,manufacturer=Acme,product=MED-${firmware},serial=MED-000${firmware === "bios" ? 1 : 2}`,
      ],
      allowReboot: true,
      extraArgs: [
        "-drive",
        `file=${disk},if=none,id=disk0,format=raw`,
        "-device",
        `virtio-blk-pci,drive=disk0${firmware === "uefi-secure" ? ",bootindex=1" : ""}`,
        ...(firmware === "bios" ? cdromArgs(iso) : usbStickArgs(stick)),
      ],
    });
    vms.push(vm);
    started.push({ vm, id, firmware });
  }
  await Promise.all(
    started.map(({ vm, id }) =>
      installAndWaitForCallHome(server, vm, id, { enroll: 150_000, install: 150_000 }).then(
        // Done with this VM (its console stays readable): the other one has the cores to itself.
        () => vm.stop(),
        (err: unknown) => {
          throw new Error(
            `${vm.name}: ${err instanceof Error ? err.message : String(err)}\n${vm.describe()}`,
          );
        },
      ),
    ),
  );
  for (const { vm, id, firmware } of started) {
    const console = vm.console();
    expect(console).toMatch(/ok rescue media device=(sr0|sd[a-z]) server=http:\/\/10\.0\.2\.2:/);
    expect(console).toMatch(/ok server answers interface=eth0/);
    // The stick's edited file took effect: a static address, no DHCP.
    expect(console).toMatch(
      firmware === "uefi-secure" ? /\.\. static address interface=eth0/ : /\.\. DHCP interface=eth0/,
    );
    const machine = await server.store.getMachine(id);
    expect(machine).toMatchObject({ category: "installed", bootPath: "media" });
    if (firmware === "uefi-secure") {
      expect(machine?.inventory?.details?.secureBoot).toBe(true);
      expect(console).toMatch(/ok next boot: the disk/);
    } else {
      expect(console).toMatch(/remove the rescue media/);
    }
  }
}, 300_000);
