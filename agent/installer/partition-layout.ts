// The pure half of the partition plugin: GPT type GUIDs for the plan's partitions, the labels each
// filesystem accepts, and the mkfs command lines.
import type { AgentPlan } from "../../protocol/index.js";
import { guidFromSeed } from "./gpt-write.js";
import { TOOLS } from "./tools.js";

export type PlanPartition = NonNullable<AgentPlan["partitions"]>[number];

/** GPT partition types (UEFI spec §5.3.3 for the ESP; the rest from the Discoverable Partitions Spec). */
export const PARTITION_TYPE = {
  esp: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
  linuxData: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
  linuxRootX86_64: "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
  linuxHome: "933AC7E1-2EB4-4F13-B844-0E14E2AEF915",
  linuxSwap: "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
} as const;

/** The type GUID that tells an OS (systemd-gpt-auto-generator, installers) what the partition is for. */
export function partitionType(part: PlanPartition): string {
  if (part.fs === "swap") return PARTITION_TYPE.linuxSwap;
  if (part.fs === "vfat" && ["/boot/efi", "/efi", "/boot"].includes(part.mount ?? ""))
    return PARTITION_TYPE.esp;
  if (part.mount === "/") return PARTITION_TYPE.linuxRootX86_64;
  if (part.mount === "/home") return PARTITION_TYPE.linuxHome;
  return PARTITION_TYPE.linuxData;
}

/** Filesystem label limits: ext4 16 bytes, XFS 12, FAT 11 (upper case: DOS names), swap 16. */
export function filesystemLabel(part: PlanPartition): string {
  switch (part.fs) {
    case "vfat":
      return part.label.slice(0, 11).toUpperCase();
    case "xfs":
      return part.label.slice(0, 12);
    case "ext4":
    case "swap":
    case "none":
      return part.label.slice(0, 16);
  }
}

export interface MkfsCommand {
  command: string;
  argv: string[];
  /** The filesystem's UUID (or FAT volume id) it will carry, derived from the seed so reruns match; null when the tool makes its own. */
  uuid: string | null;
}

/**
 * How to make the plan's filesystem on `device`; undefined for "none" (left unformatted). `seed` names
 * this machine, plan and partition: the filesystem UUID is derived from it.
 */
export function mkfsCommand(part: PlanPartition, device: string, seed: string): MkfsCommand | undefined {
  const label = filesystemLabel(part);
  const uuid = guidFromSeed(`${seed}/fs`).toLowerCase();
  switch (part.fs) {
    case "ext4":
      // Lazy inode table and journal init: a multi-TB disk formats in seconds; the kernel finishes the
      // zeroing in the background once the installed OS mounts it.
      return {
        command: TOOLS.mke2fs.path,
        argv: [
          "-F",
          "-q",
          "-t",
          "ext4",
          "-L",
          label,
          "-U",
          uuid,
          "-E",
          "lazy_itable_init=1,lazy_journal_init=1",
          device,
        ],
        uuid,
      };
    case "xfs":
      return {
        command: TOOLS.mkfsXfs.path,
        argv: ["-f", "-q", "-L", label, "-m", `uuid=${uuid}`, device],
        uuid,
      };
    case "vfat": {
      const volumeId = uuid.slice(0, 8).toUpperCase();
      return { command: TOOLS.mkfsFat.path, argv: ["-n", label, "-i", volumeId, device], uuid: volumeId };
    }
    case "swap":
      // busybox mkswap makes its own UUID (it has no -U).
      return { command: "mkswap", argv: ["-L", label, device], uuid: null };
    case "none":
      return undefined;
  }
}

/** Problems that make a plan's partition list impossible to lay out, before anything is written. */
export function layoutProblems(parts: readonly PlanPartition[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const part of parts) {
    if (seen.has(part.label))
      problems.push(`two partitions are labelled "${part.label}": labels name the GPT entries`);
    seen.add(part.label);
  }
  return problems;
}
