// BootNext before the reboot into the installed system, over a fake root: efivarfs as a directory holding
// a real OVMF's Boot#### variables (../installer/fixtures/ovmf-boot-options.json: Boot0001 is the virtio
// disk, Boot0002 the NIC's IPv4 PXE this boot came from; sysfs as in uefi-vars.test.ts).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { EFIVARS_DIR, GLOBAL_GUID } from "../installer/efivarfs.js";
import { pointNextBootAtDisk } from "./disk-boot.js";

const fixture = JSON.parse(
  readFileSync(new URL("../installer/fixtures/ovmf-boot-options.json", import.meta.url), "utf8"),
) as { variables: Record<string, string> };

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A root whose efivarfs holds the fixture's options, booted from Boot0002, plus `extra` variables. */
function fakeUefiRoot(extra: Record<string, string> = {}): string {
  const root = mkdtempSync(join(tmpdir(), "bootwright-disk-boot-"));
  roots.push(root);
  const vars = join(root, EFIVARS_DIR);
  mkdirSync(vars, { recursive: true });
  for (const [name, hex] of Object.entries({ ...fixture.variables, BootCurrent: "0200", ...extra }))
    writeFileSync(join(vars, `${name}-${GLOBAL_GUID}`), Buffer.from(`07000000${hex}`, "hex"));
  mkdirSync(join(root, "proc"));
  writeFileSync(join(root, "proc/mounts"), `efivarfs ${vars} efivarfs rw,nosuid,nodev,noexec 0 0\n`);
  // sysfs places the disk at PCI 00:03.0 and the NIC at 00:02.0: how an option's device path is classed.
  const disk = "sys/devices/pci0000:00/0000:00:03.0/virtio1/block/vda";
  const nic = "sys/devices/pci0000:00/0000:00:02.0/virtio0/net/eth0";
  for (const dir of [disk, nic, "sys/block", "sys/class/net"])
    mkdirSync(join(root, dir), { recursive: true });
  symlinkSync(join(root, disk), join(root, "sys/block/vda"));
  symlinkSync(join(root, nic), join(root, "sys/class/net/eth0"));
  return root;
}

const bootNext = (root: string): string =>
  readFileSync(join(root, EFIVARS_DIR, `BootNext-${GLOBAL_GUID}`)).toString("hex");

it("points the next boot at the disk's option, not the network option this boot came from", async () => {
  const root = fakeUefiRoot();
  await pointNextBootAtDisk(root);
  // Attributes NV+BS+RT, then option 0x0001 little-endian.
  expect(bootNext(root)).toBe("070000000100");
});

it("keeps a BootNext this boot's plan already set (disk-first sends the reboot back to the server)", async () => {
  const root = fakeUefiRoot({ BootNext: "0200" });
  await pointNextBootAtDisk(root);
  expect(bootNext(root)).toBe("070000000200");
});
