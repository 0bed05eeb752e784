// BootNext before the reboot into the installed system, over a fake UEFI root holding a real OVMF's boot
// options (fakeOvmfMachine: Boot0001 is the virtio disk, Boot0002 the NIC's IPv4 PXE this boot came from).
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { EFIVARS_DIR, GLOBAL_GUID } from "../installer/efivarfs.js";
import { fakeOvmfMachine } from "../installer/test-support.js";
import { pointNextBootAtDisk } from "./disk-boot.js";

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

function fakeUefiRoot(extra: Record<string, string> = {}): string {
  const root = fakeOvmfMachine(extra);
  roots.push(root);
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
