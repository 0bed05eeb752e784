// GPT partitions and filesystems per plan.partitions (seed 002 claim 10), on the RAID array when the plan
// has one, else on the first disk. The table is written by our own GPT writer (gpt-write.ts), the
// filesystems by mke2fs / mkfs.xfs / mkfs.fat (shipped in the initramfs) and busybox mkswap.
//
// Two plugins, by the image's format:
// - `partition` (configure phase): an image that is a filesystem tree (tar.zst) needs the partitions
//   made first; the whole target gets a fresh table.
// - `partition-after-image` (image phase, after image-stream): a whole-disk raw.zst image brings its own
//   partition table and would overwrite one made before it. So the plan's partitions are ADDED after the
//   image's last partition, in the space the image leaves free on a bigger disk: the image's entries, disk
//   GUID and boot code stay as they are, the backup table moves to the device's real end, and a plan
//   partition whose label the image already uses, or that does not fit, fails the step with the reason.
//   The partitions exist and are formatted; mounting them is the installed OS's business (its fstab is
//   part of the image): the step data lists each one's device, label and filesystem UUID for that.
// Both are safe to rerun: GUIDs are derived from machine + plan + label, so a rerun writes the same table,
// and image-stream rewrites the image (and with it the original table) before partition-after-image runs.
import {
  installTarget,
  partitionDevice,
  rereadPartitions,
  writeRanges,
  type BlockTarget,
} from "../block-device.js";
import { GptError, parseGptEntries, readGptTable } from "../gpt.js";
import {
  addEntry,
  emptyTable,
  extendTable,
  gptWrites,
  guidFromSeed,
  lastUsableLba,
  placePartitions,
  type DiskWrite,
  type GptTable,
} from "../gpt-write.js";
import { layoutProblems, mkfsCommand, partitionType, type PlanPartition } from "../partition-layout.js";
import type { InstallerPlugin, Step, StepContext } from "../plugin.js";
import { partitionAfterImageProbe, partitionProbe } from "../probes/partition.js";

const MKFS_TIMEOUT_MS = 10 * 60_000;

function planPartitions(ctx: StepContext): PlanPartition[] {
  const parts = ctx.plan.partitions;
  if (!parts?.length) throw new Error("plan has no partitions");
  const problems = layoutProblems(parts);
  if (problems.length) throw new GptError(`the plan's partitions cannot be laid out: ${problems.join("; ")}`);
  return parts;
}

function seedOf(ctx: StepContext, label: string): string {
  return `${ctx.machine.id}/${ctx.plan.planHash}/${label}`;
}

/** Adds the plan's partitions to `table` from `startLba` on; returns what was placed where. */
function addPlanPartitions(
  ctx: StepContext,
  table: GptTable,
  parts: readonly PlanPartition[],
  startLba: bigint,
) {
  const placed = placePartitions(
    parts.map((p) => p.size),
    startLba,
    lastUsableLba(table),
    table.sectorBytes,
  );
  return parts.map((part, i) => {
    const at = placed[i];
    if (!at) throw new GptError(`no place computed for partition ${part.label}`);
    const number = addEntry(table, {
      name: part.label,
      typeGuid: partitionType(part),
      uniqueGuid: guidFromSeed(seedOf(ctx, part.label)),
      ...at,
    });
    return {
      number,
      label: part.label,
      fs: part.fs,
      mount: part.mount ?? null,
      startBytes: Number(at.firstLba) * table.sectorBytes,
      sizeBytes: Number(at.lastLba - at.firstLba + 1n) * table.sectorBytes,
    };
  });
}

async function commit(ctx: StepContext, target: BlockTarget, writes: readonly DiskWrite[]): Promise<void> {
  await writeRanges(target, writes);
  await rereadPartitions(target, ctx.exec, ctx.signal);
}

/** Configure phase: a fresh table over the whole target. */
const writeFreshTable: Step = {
  name: "write-table",
  run: async (ctx) => {
    const parts = planPartitions(ctx);
    const target = await installTarget(ctx.root, ctx.plan);
    const table = emptyTable(
      target.sectorBytes,
      BigInt(target.sizeBytes / target.sectorBytes),
      guidFromSeed(seedOf(ctx, "disk")),
    );
    const partitions = addPlanPartitions(ctx, table, parts, table.firstUsableLba);
    await commit(ctx, target, gptWrites(table));
    ctx.progress("partition table written", { target: target.name, partitions: partitions.length });
    return { target: target.name, mode: "fresh", diskGuid: table.diskGuid, partitions };
  },
};

/** Image phase: the image's table grown to the device, the plan's partitions after its last one. */
const addAfterImage: Step = {
  name: "add-partitions",
  run: async (ctx) => {
    const parts = planPartitions(ctx);
    const target = await installTarget(ctx.root, ctx.plan);
    const onDisk = await readGptTable(target.path, target.sectorBytes);
    const { table, stale } = extendTable(
      onDisk,
      target.sectorBytes,
      BigInt(target.sizeBytes / target.sectorBytes),
    );
    const image = parseGptEntries(table.entries, table.entryCount, table.entrySize);
    const clash = parts.filter((p) => image.some((e) => e.name === p.label)).map((p) => p.label);
    if (clash.length)
      throw new GptError(
        `image ${ctx.plan.image} already has partitions named ${clash.join(", ")}: rename the plan's partitions`,
      );
    const imageEnd = image.reduce(
      (end, e) => (e.lastLba + 1n > end ? e.lastLba + 1n : end),
      table.firstUsableLba,
    );
    const partitions = addPlanPartitions(ctx, table, parts, imageEnd);
    await commit(ctx, target, [...stale, ...gptWrites(table)]);
    ctx.progress("partitions added after the image", {
      target: target.name,
      imagePartitions: image.length,
      added: partitions.map((p) => `${p.number}:${p.label}`).join(","),
    });
    return {
      target: target.name,
      mode: "after-image",
      imagePartitions: image.map((e) => ({ number: e.index, name: e.name })),
      imageEndBytes: Number(imageEnd) * target.sectorBytes,
      partitions,
    };
  },
};

/** Makes each plan partition's filesystem, finding the partition by its GPT name. */
const makeFilesystems: Step = {
  name: "make-filesystems",
  run: async (ctx) => {
    const parts = planPartitions(ctx);
    const target = await installTarget(ctx.root, ctx.plan);
    const { header, entries } = await readGptTable(target.path, target.sectorBytes);
    const table = parseGptEntries(entries, header.count, header.entrySize);
    const made = [];
    for (const part of parts) {
      const entry = table.find((e) => e.name === part.label);
      if (!entry)
        throw new Error(`${target.name} has no partition named ${part.label} (did the table step run?)`);
      const device = await partitionDevice(ctx.root, target, entry.index);
      const mkfs = mkfsCommand(part, device, seedOf(ctx, part.label));
      const started = performance.now();
      if (mkfs) await ctx.exec(mkfs.command, mkfs.argv, { timeoutMs: MKFS_TIMEOUT_MS, signal: ctx.signal });
      const ms = Math.round(performance.now() - started);
      ctx.progress("filesystem made", { device, label: part.label, fs: part.fs, ms });
      made.push({
        device,
        label: part.label,
        fs: part.fs,
        mount: part.mount ?? null,
        uuid: mkfs?.uuid ?? null,
        ms,
      });
    }
    return { target: target.name, filesystems: made };
  },
};

export const partition: InstallerPlugin = {
  ...partitionProbe,
  steps: [writeFreshTable, makeFilesystems],
};

export const partitionAfterImage: InstallerPlugin = {
  ...partitionAfterImageProbe,
  steps: [addAfterImage, makeFilesystems],
};
