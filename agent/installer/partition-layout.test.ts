// Partition types, filesystem labels and mkfs command lines for the plan's partitions.
import { describe, expect, it } from "vitest";
import {
  filesystemLabel,
  layoutProblems,
  mkfsCommand,
  PARTITION_TYPE,
  partitionType,
  type PlanPartition,
} from "./partition-layout.js";

const part = (p: Partial<PlanPartition> & Pick<PlanPartition, "fs">): PlanPartition => ({
  label: "data",
  size: "rest",
  ...p,
});

describe("partitionType", () => {
  it("types each partition by its use: ESP, root, home, swap, else Linux data", () => {
    expect(partitionType(part({ fs: "vfat", mount: "/boot/efi" }))).toBe(PARTITION_TYPE.esp);
    expect(partitionType(part({ fs: "vfat", mount: "/srv/share" }))).toBe(PARTITION_TYPE.linuxData);
    expect(partitionType(part({ fs: "ext4", mount: "/" }))).toBe(PARTITION_TYPE.linuxRootX86_64);
    expect(partitionType(part({ fs: "xfs", mount: "/home" }))).toBe(PARTITION_TYPE.linuxHome);
    expect(partitionType(part({ fs: "swap" }))).toBe(PARTITION_TYPE.linuxSwap);
    expect(partitionType(part({ fs: "none" }))).toBe(PARTITION_TYPE.linuxData);
  });
});

describe("mkfsCommand", () => {
  it("makes ext4 with a label, a UUID derived from the seed, and lazy init", () => {
    const cmd = mkfsCommand(
      part({ fs: "ext4", mount: "/", label: "a-very-long-root-label" }),
      "/dev/md127p3",
      "m/p/root",
    );
    expect(cmd?.command).toBe("/usr/sbin/mke2fs");
    expect(cmd?.argv).toEqual([
      "-F",
      "-q",
      "-t",
      "ext4",
      "-L",
      "a-very-long-root",
      "-U",
      cmd?.uuid,
      "-E",
      "lazy_itable_init=1,lazy_journal_init=1",
      "/dev/md127p3",
    ]);
    expect(mkfsCommand(part({ fs: "ext4", mount: "/" }), "/dev/vda3", "m/p/root")?.uuid).toBe(cmd?.uuid);
    expect(mkfsCommand(part({ fs: "ext4", mount: "/" }), "/dev/vda3", "m/p/other")?.uuid).not.toBe(cmd?.uuid);
  });

  it("fits each filesystem's label limit: FAT 11 upper-case, XFS 12", () => {
    const fat = mkfsCommand(
      part({ fs: "vfat", mount: "/boot/efi", label: "efi-system-part" }),
      "/dev/vda1",
      "s",
    );
    expect(fat?.argv.slice(0, 2)).toEqual(["-n", "EFI-SYSTEM-"]);
    expect(fat?.argv[3]).toMatch(/^[0-9A-F]{8}$/);
    expect(filesystemLabel(part({ fs: "xfs", mount: "/srv", label: "database-volume" }))).toBe(
      "database-vol",
    );
    expect(mkfsCommand(part({ fs: "swap" }), "/dev/vda2", "s")).toEqual({
      command: "mkswap",
      argv: ["-L", "data", "/dev/vda2"],
      uuid: null,
    });
    expect(mkfsCommand(part({ fs: "none" }), "/dev/vda4", "s")).toBeUndefined();
  });
});

describe("layoutProblems", () => {
  it("refuses two partitions with one label (labels name the GPT entries)", () => {
    expect(layoutProblems([part({ fs: "none" }), part({ fs: "swap" })])).toEqual([
      'two partitions are labelled "data": labels name the GPT entries',
    ]);
    expect(layoutProblems([part({ fs: "none" }), part({ fs: "swap", label: "swap" })])).toEqual([]);
  });
});
