// Seed 003 claim 14, end to end: a VM whose disk already carries the marker of the plan the policy
// resolves for it is not reinstalled: the server marks it installed and iPXE boots its own disk. The plan
// allows kexec, but this disk holds only the marker: the loader says why it cannot, and reboots.
import { execFileSync } from "node:child_process";
import { mkdtempSync, openSync, rmSync, truncateSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { PlanSpec } from "../protocol/index.js";
import { planHash } from "../server/policy/resolve.js";
import { jsonRequest } from "../server/test-support.js";
import { chooseAccelerator } from "./accelerator.js";
import { requireBootArtefacts } from "./paths.js";
import { Vm } from "./qemu.js";
import { startTestServer } from "./test-server.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A GPT disk whose first partition, named bootwright-marker, holds the marker JSON (as an install leaves it). */
function markedDisk(path: string, marker: { image: string; planHash: string }): void {
  writeFileSync(path, "");
  truncateSync(path, 64 * 2 ** 20);
  execFileSync("sfdisk", ["--quiet", path], {
    input: "label: gpt\nsize=1MiB, name=bootwright-marker\nname=root\n",
  });
  const table = JSON.parse(execFileSync("sfdisk", ["--json", path]).toString()) as {
    partitiontable: { sectorsize?: number; partitions: { start: number }[] };
  };
  const start = (table.partitiontable.partitions[0]?.start ?? 0) * (table.partitiontable.sectorsize ?? 512);
  const fd = openSync(path, "r+");
  writeSync(fd, Buffer.from(JSON.stringify(marker)), 0, undefined, start);
  closeSync(fd);
}

it.each([
  ["bios", "52:54:00:d1:00:01", "0e0c8a6a-6f5f-4c43-9d57-0000000000d1"],
  ["uefi", "52:54:00:d1:00:02", "0e0c8a6a-6f5f-4c43-9d57-0000000000d2"],
] as const)(
  "%s: a disk carrying the marker of its resolved plan boots from disk, with no reinstall",
  async (firmware, mac, UUID) => {
    requireBootArtefacts();
    const accel = await chooseAccelerator();
    const dir = mkdtempSync(join(tmpdir(), "bootwright-local-"));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    });
    const server = await startTestServer(dir);
    cleanups.push(() => server.close());
    const plan = { image: "debian-12", reboot: "kexec" };
    const policy = { rules: [{ name: "marked", match: [{ fact: "product", glob: "BFD-*" }], plan }] };
    expect(
      (
        await jsonRequest(`${server.url}/v1/policy`, "PUT", {
          format: "json",
          source: JSON.stringify(policy),
        })
      ).status,
    ).toBe(200);
    const hash = planHash(PlanSpec.parse(plan));
    const disk = join(dir, "installed.img");
    markedDisk(disk, { image: "debian-12", planHash: hash });

    const vm = Vm.start({
      name: `boot-from-disk-${firmware}`,
      workDir: dir,
      accel,
      firmware,
      boot: { kind: "network", bootfileUrl: `${server.advertiseUrl}/boot.ipxe` },
      mac,
      uuid: UUID,
      smbios: ["type=1,manufacturer=Acme,product=BFD-1,serial=BFD-0001"],
      allowReboot: true,
      extraArgs: ["-drive", `file=${disk},if=virtio,format=raw`],
    });
    cleanups.push(() => vm.stop());

    // The loader reports the marker, the server matches it, the loader reboots, iPXE asks again.
    await vm.waitForConsole(/bootwright: booting \S+ from its local disk/, 240_000);
    const machine = await server.store.getMachine(UUID);
    expect(machine).toMatchObject({ category: "installed", plan: { rule: "marked", planHash: hash } });
    expect(machine?.inventory?.installedMarker).toEqual({
      image: "debian-12",
      planHash: hash,
      partition: "vda1",
    });
    const events = (await server.store.machineLog(UUID))
      // The drivers the loader fetched for QEMU's IDE and power-management functions: drivers.test.ts.
      .filter((e) => !e.event.startsWith("driver"))
      .map((e) => [e.event, e.data.answer ?? e.data.to ?? e.data.via ?? null]);
    expect(events).toEqual([
      ["discovered", "ipxe"],
      ["inventory", "inventoried"],
      ["already-installed", null],
      ["category", "installed"],
      ["credential-issued", null],
      ["boot-script", "local-disk"],
    ]);
    const console = vm.console();
    expect(console).toMatch(
      /ok already runs its plan: starting its own disk image=debian-12 planHash=sha256:/,
    );
    expect(console).toMatch(
      /kexec not possible: rebooting through the firmware reason=the installed disk's filesystems \(none mounted\) hold no boot configuration/,
    );
    // Nothing was queued, so nothing was installed: the loader was loaded once, the disk booted second.
    expect(console.match(/loading the loader for/g)).toHaveLength(1);
  },
);
