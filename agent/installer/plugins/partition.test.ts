// The partition plugins over a fake root whose "disk" is a file: a fresh table (configure phase) and
// partitions added behind an sfdisk-made whole-disk image (image phase). sfdisk reads back what was
// written; the kernel's partition re-read is faked (it makes the sysfs entries and device nodes), and the
// mkfs command lines are recorded, not run.
import { execFileSync } from "node:child_process";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import type { AgentPlan } from "../../../protocol/index.js";
import { readGpt } from "../gpt.js";
import { PARTITION_TYPE } from "../partition-layout.js";
import type { Exec } from "../plugin.js";
import { stepContext } from "../test-support.js";
import { partition, partitionAfterImage } from "./partition.js";

const MiB = 2 ** 20;
const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A machine whose disk vda is a 64 MiB file. */
function fakeMachine(): { root: string; disk: string } {
  const root = mkdtempSync(join(tmpdir(), "bootwright-partition-"));
  roots.push(root);
  mkdirSync(join(root, "sys/block/vda/queue"), { recursive: true });
  mkdirSync(join(root, "dev"));
  writeFileSync(join(root, "sys/block/vda/size"), `${(64 * MiB) / 512}\n`);
  writeFileSync(join(root, "sys/block/vda/queue/logical_block_size"), "512\n");
  const disk = join(root, "dev/vda");
  closeSync(openSync(disk, "w"));
  truncateSync(disk, 64 * MiB);
  return { root, disk };
}

/** blockdev --rereadpt does what the kernel would: a sysfs entry and a device node per partition. */
function fakeExec(root: string, calls: string[][]): Exec {
  return async (command, argv) => {
    calls.push([command.slice(command.lastIndexOf("/") + 1), ...argv.map((a) => a.replace(root, "<root>"))]);
    if (command === "blockdev" && argv[0] === "--rereadpt") {
      for (const p of await readGpt(join(root, "dev/vda"))) {
        mkdirSync(join(root, "sys/block/vda", `vda${p.index}`), { recursive: true });
        writeFileSync(join(root, "sys/block/vda", `vda${p.index}`, "partition"), `${p.index}\n`);
        writeFileSync(join(root, "dev", `vda${p.index}`), "");
      }
    } else if (!/^(mke2fs|mkfs\.fat|mkfs\.xfs|mkswap)$/.test(command.slice(command.lastIndexOf("/") + 1))) {
      throw new Error(`program not faked: ${command}`);
    }
    return { stdout: "", stderr: "" };
  };
}

async function runPlugin(
  plugin: typeof partition,
  root: string,
  plan: AgentPlan,
  calls: string[][],
): Promise<Record<string, unknown>[]> {
  const data = [];
  for (const step of plugin.steps) data.push(await step.run(stepContext(root, plan, fakeExec(root, calls))));
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
  const { root, disk } = fakeMachine();
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
  const image = `${disk}.image`;
  closeSync(openSync(image, "w"));
  truncateSync(image, 20 * MiB);
  execFileSync("sfdisk", ["--quiet", image], {
    input: `label: gpt\nsize=16MiB, type=${PARTITION_TYPE.esp}, name="esp"\nsize=1MiB, name="bootwright-marker"\n`,
  });
  const bytes = readFileSync(image);
  const fd = openSync(disk, "r+");
  try {
    writeSync(fd, bytes, 0, bytes.length, 0);
  } finally {
    closeSync(fd);
  }
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
  const { root, disk } = fakeMachine();
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
  const { root, disk } = fakeMachine();
  writeImage(disk);
  const before = readFileSync(disk);
  const plan = { ...rawPlan, partitions: [{ label: "esp", size: "rest" as const, fs: "none" as const }] };
  await expect(
    partitionAfterImage.steps[0]?.run(stepContext(root, plan, fakeExec(root, []))),
  ).rejects.toThrow(/image tiny already has partitions named esp/);
  expect(readFileSync(disk).equals(before)).toBe(true);
});

it("the probes split the work by image format", () => {
  const inventory = stepContext("/", rawPlan, fakeExec("/", [])).inventory;
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
