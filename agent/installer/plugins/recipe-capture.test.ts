// The recipe's room (growRootMiB) over a fake root whose "disk" is a file holding an sfdisk-made image
// with its root partition last: the table moves out and the root grows before anything is mounted, and
// resize2fs runs on the mounted root before the script. The kernel's re-read is faked; mount, resize2fs,
// chroot and the rest are recorded, not run (test-vm/capture.test.ts runs them for real).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import type { AgentPlan } from "../../../protocol/index.js";
import { readGptTable } from "../gpt.js";
import { MiB } from "../gpt-write.js";
import { PARTITION_TYPE } from "../partition-layout.js";
import { fakeDiskMachine, fakeKernelExec, stepContext, writeSfdiskImage } from "../test-support.js";
import { recipeCapture } from "./recipe-capture.js";

const IMAGE_BYTES = 20 * MiB;
const RECORDED = /^(modprobe|mount|umount|resize2fs|chroot|sync)$/;

function plan(growRootMiB: number): AgentPlan {
  return {
    planHash: "sha256:plan",
    image: "debian-12",
    imageSource: {
      sha256: "a".repeat(64),
      format: "raw.zst",
      sizeBytes: 1,
      rawBytes: IMAGE_BYTES,
      rawSha256: "b".repeat(64),
    },
    capture: {
      recipe: "web",
      script: "true",
      filesUrl: "http://server.test/v1/recipes/web/files",
      growRootMiB,
      imageName: "web-0123456789ab",
      fingerprint: `sha256:${"c".repeat(64)}`,
      inventorySummary: {},
    },
  };
}

/** As build-os-image lays out the Debian image: an ESP, then the root up to the image's last whole MiB. */
function machineWithImage(): { root: string; disk: string } {
  const machine = fakeDiskMachine(64);
  writeSfdiskImage(
    machine.disk,
    IMAGE_BYTES,
    `label: gpt\nsize=4MiB, type=${PARTITION_TYPE.esp}, name="esp"\nsize=14MiB, name="root"\n`,
  );
  return machine;
}

const runScript = recipeCapture.steps.find((s) => s.name === "run-script");

it("grows the root into the recipe's room, then resize2fs on the mounted root before the script", async () => {
  const { root, disk } = machineWithImage();
  const calls: string[][] = [];
  const data = await runScript?.run(stepContext(root, plan(8), fakeKernelExec(root, calls, RECORDED)));
  expect(data).toMatchObject({ grown: { partition: 2, fromMiB: 19, toMiB: 27 } });
  // The table ends where the captured extent ends (image + room), not at the disk's end.
  const { header } = await readGptTable(disk, 512);
  expect(header.alternateLba).toBe(BigInt((IMAGE_BYTES + 8 * MiB) / 512 - 1));
  const sfdisk = JSON.parse(execFileSync("sfdisk", ["--json", disk], { stdio: "pipe" }).toString()) as {
    partitiontable: { partitions: { name: string; start: number; size: number }[] };
  };
  expect(sfdisk.partitiontable.partitions.map((p) => [p.name, p.start, p.size])).toEqual([
    ["esp", 2048, 8192],
    ["root", 10_240, (27 - 5) * 2048],
  ]);
  const order = calls.map((c) => c[0]).filter((c) => c !== "modprobe");
  expect(order.slice(0, 5)).toEqual(["blockdev", "blockdev", "mount", "resize2fs", "mount"]);
  expect(calls.find((c) => c[0] === "resize2fs")).toEqual(["resize2fs", "<root>/dev/vda2"]);
  expect(order.indexOf("chroot")).toBeGreaterThan(order.indexOf("resize2fs"));
});

it("refuses room the disk does not have, before it writes or mounts anything", async () => {
  const { root, disk } = machineWithImage();
  const before = readFileSync(disk);
  const calls: string[][] = [];
  await expect(
    runScript?.run(stepContext(root, plan(64), fakeKernelExec(root, calls, RECORDED))),
  ).rejects.toThrow(/growRootMiB \(64\) does not fit vda: the image and its room take 88080384 bytes/);
  expect(readFileSync(disk).equals(before)).toBe(true);
  expect(calls.some((c) => c[0] === "mount")).toBe(false);
});
