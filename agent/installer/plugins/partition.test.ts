// The partition plugins over a fake root whose "disk" is a file: a fresh table (configure phase) and
// partitions added behind an sfdisk-made whole-disk image (image phase). sfdisk reads back what was
// written; the kernel's partition re-read is faked (it makes the sysfs entries and device nodes), and the
// mkfs command lines are recorded, not run.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import type { AgentPlan } from "../../../protocol/index.js";
import { MiB } from "../gpt-write.js";
import { PARTITION_TYPE } from "../partition-layout.js";
import { fakeDiskMachine, fakeKernelExec, stepContext, writeSfdiskImage } from "../test-support.js";
import { partition, partitionAfterImage } from "./partition.js";

/** The filesystem makers the plugins run: recorded, not run. */
const MKFS = /^(mke2fs|mkfs\.fat|mkfs\.xfs|mkswap)$/;
async function runPlugin(
  plugin: typeof partition,
  root: string,
  plan: AgentPlan,
  calls: string[][],
): Promise<Record<string, unknown>[]> {
  const data = [];
  for (const step of plugin.steps)
    data.push(await step.run(stepContext(root, plan, fakeKernelExec(root, calls, MKFS))));
  return data;
}

interface SfdiskPartition {
  start: number;
  size: number;
  type: string;
  name?: string;
}
const sfdisk = (path: string): SfdiskPartition[] =>
  (
    JSON.parse(execFileSync("sfdisk", ["--json", path]).toString()) as {
      partitiontable: { partitions: SfdiskPartition[] };
    }
  ).partitiontable.partitions;

const tarPlan: AgentPlan = {
  planHash: "sha256:plan",
  image: "rootfs",
  imageSource: {
    sha256: "a".repeat(64),
    format: "tar.zst",
    sizeBytes: 1,
    rawBytes: 1,
    rawSha256: "b".repeat(64),
  },
  partitions: [
    { label: "efi", mount: "/boot/efi", size: 16 * MiB, fs: "vfat" },
    { label: "swap", size: 8 * MiB, fs: "swap" },
    { label: "root", mount: "/", size: "rest", fs: "ext4" },
  ],
};

it("configure phase (a tar.zst image): a fresh GPT over the disk, typed by use, then each filesystem", async () => {
  const { root, disk } = fakeDiskMachine();
  const calls: string[][] = [];
  const [table, fs] = await runPlugin(partition, root, tarPlan, calls);
  expect(sfdisk(disk).map((p) => [p.name, p.start, p.size, p.type])).toEqual([
    ["efi", 2048, 32_768, PARTITION_TYPE.esp],
    ["swap", 34_816, 16_384, PARTITION_TYPE.linuxSwap],
    ["root", 51_200, 129_024 - 51_200, PARTITION_TYPE.linuxRootX86_64],
  ]);
  expect(execFileSync("sfdisk", ["--verify", disk]).toString()).toMatch(/No errors detected/);
  expect(table).toMatchObject({ mode: "fresh", target: "vda" });
  expect(calls.map((c) => c.slice(0, 2).concat(c.slice(-1)))).toEqual([
    ["blockdev", "--rereadpt", "<root>/dev/vda"],
    ["mkfs.fat", "-n", "<root>/dev/vda1"],
    ["mkswap", "-L", "<root>/dev/vda2"],
    ["mke2fs", "-F", "<root>/dev/vda3"],
  ]);
  expect(fs).toMatchObject({
    filesystems: [
      { label: "efi", fs: "vfat", mount: "/boot/efi", device: `${root}/dev/vda1` },
      { label: "swap", fs: "swap", mount: null, uuid: null },
      { label: "root", fs: "ext4", mount: "/" },
    ],
  });

  // A rerun writes the very same table: GUIDs come from machine + plan + label.
  const first = readFileSync(disk);
  await runPlugin(partition, root, tarPlan, []);
  expect(readFileSync(disk).equals(first)).toBe(true);
});

/** An image as build-os-image makes them (20 MiB: ESP + marker), written at the start of the disk. */
function writeImage(disk: string): void {
  writeSfdiskImage(
    disk,
    20 * MiB,
    `label: gpt\nsize=16MiB, type=${PARTITION_TYPE.esp}, name="esp"\nsize=1MiB, name="bootwright-marker"\n`,
  );
}

const rawPlan: AgentPlan = {
  planHash: "sha256:plan",
  image: "tiny",
  imageSource: {
    sha256: "a".repeat(64),
    format: "raw.zst",
    sizeBytes: 1,
    rawBytes: 1,
    rawSha256: "b".repeat(64),
  },
  partitions: [{ label: "data", mount: "/data", size: "rest", fs: "ext4" }],
};

it("image phase (a raw.zst image): the plan's partition goes after the image's, which stay as they are", async () => {
  const { root, disk } = fakeDiskMachine();
  writeImage(disk);
  const before = sfdisk(disk);
  const calls: string[][] = [];
  const [added] = await runPlugin(partitionAfterImage, root, rawPlan, calls);
  const after = sfdisk(disk);
  expect(after.slice(0, 2)).toEqual(before);
  expect(after[2]).toMatchObject({ name: "data", start: 36_864, type: PARTITION_TYPE.linuxData });
  expect(execFileSync("sfdisk", ["--verify", disk]).toString()).toMatch(/No errors detected/);
  expect(added).toMatchObject({
    mode: "after-image",
    imagePartitions: [
      { number: 1, name: "esp" },
      { number: 2, name: "bootwright-marker" },
    ],
    imageEndBytes: 18 * MiB,
    partitions: [{ number: 3, label: "data", startBytes: 18 * MiB, sizeBytes: 45 * MiB }],
  });
  expect(
    calls
      .at(-1)
      ?.slice(0, 1)
      .concat(calls.at(-1)?.slice(-1) ?? []),
  ).toEqual(["mke2fs", "<root>/dev/vda3"]);
});

it("refuses a plan partition whose label the image already uses, before writing anything", async () => {
  const { root, disk } = fakeDiskMachine();
  writeImage(disk);
  const before = readFileSync(disk);
  const plan = { ...rawPlan, partitions: [{ label: "esp", size: "rest" as const, fs: "none" as const }] };
  await expect(
    partitionAfterImage.steps[0]?.run(stepContext(root, plan, fakeKernelExec(root, [], MKFS))),
  ).rejects.toThrow(/image tiny already has partitions named esp/);
  expect(readFileSync(disk).equals(before)).toBe(true);
});

it("the probes split the work by image format", () => {
  const inventory = stepContext("/", rawPlan, fakeKernelExec("/", [], MKFS)).inventory;
  expect([partition.probe(inventory, rawPlan), partitionAfterImage.probe(inventory, rawPlan)]).toEqual([
    "none",
    "generic",
  ]);
  expect([partition.probe(inventory, tarPlan), partitionAfterImage.probe(inventory, tarPlan)]).toEqual([
    "generic",
    "none",
  ]);
  const noParts: AgentPlan = { planHash: rawPlan.planHash, image: rawPlan.image };
  expect(partitionAfterImage.probe(inventory, noParts)).toBe("none");
});
