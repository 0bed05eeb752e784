// BootNext before the reboot into the installed system, over a fake UEFI root holding a real OVMF's boot
// options (fakeOvmfMachine: Boot0001 is the virtio disk, Boot0002 the NIC's IPv4 PXE this boot came from).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { EFIVARS_DIR, GLOBAL_GUID } from "../installer/efivarfs.js";
import { fakeOvmfMachine } from "../installer/test-support.js";
import { pointNextBootAtDisk } from "./disk-boot.js";

const bootNext = (root: string): string =>
  readFileSync(join(root, EFIVARS_DIR, `BootNext-${GLOBAL_GUID}`)).toString("hex");

it("points the next boot at the disk's option, not the network option this boot came from", async () => {
  const root = fakeOvmfMachine();
  await pointNextBootAtDisk(root);
  // Attributes NV+BS+RT, then option 0x0001 little-endian.
  expect(bootNext(root)).toBe("070000000100");
});

it("keeps a BootNext this boot's plan already set (disk-first sends the reboot back to the server)", async () => {
  const root = fakeOvmfMachine({ BootNext: "0200" });
  await pointNextBootAtDisk(root);
  expect(bootNext(root)).toBe("070000000200");
});
