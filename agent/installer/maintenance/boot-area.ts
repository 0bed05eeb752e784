// The boot area an install leaves (protective MBR with its boot code, primary GPT up to the first
// partition, backup GPT at the disk's end) and how a disk's differs from a recorded copy (seed 004: "a
// disk boot sector repair after an infection"). Pure: the boot-area plugin records it, the repair image
// compares and restores it; the reads and writes live with them.
import { GptError, parseGptHeader, type GptHeader, type GptPartition } from "../gpt.js";

/** Differences are counted in 512-byte sectors whatever the disk's logical block size. */
export const DIFF_SECTOR_BYTES = 512;
/** The head stops at the first partition, and at 1 MiB (where partitioners put the first one). */
export const MAX_HEAD_BYTES = 2 ** 20;
/** A backup GPT is 33 sectors of 512 (or 5 of 4096) with the usual 128 entries; anything past 1 MiB is not one. */
const MAX_TAIL_BYTES = 2 ** 20;

export interface DiskGeometry {
  diskBytes: number;
  sectorBytes: number;
}

export interface BootAreaExtents {
  /** The disk's first headBytes. */
  headBytes: number;
  /** The disk's last tailBytes; 0 when the backup GPT is not at the disk's end (then tailNote says why). */
  tailBytes: number;
  tailNote: string | null;
}

/** Sectors the entry array takes, rounded up. */
function entrySectors(header: GptHeader, sectorBytes: number): bigint {
  return BigInt(Math.ceil((header.count * header.entrySize) / sectorBytes));
}

/**
 * The extents to record for a disk whose primary GPT header is `header`: the head from LBA 0 to the
 * first partition (at most 1 MiB), and the tail from the backup entry array through the backup header,
 * which UEFI §5.3.2 puts at the disk's last LBA.
 */
export function bootAreaExtents(
  header: GptHeader,
  partitions: readonly GptPartition[],
  disk: DiskGeometry,
): BootAreaExtents {
  const { diskBytes, sectorBytes } = disk;
  if (diskBytes % sectorBytes !== 0)
    throw new GptError(`disk size ${diskBytes} is not a whole number of ${sectorBytes}-byte sectors`);
  const firstPartition = partitions.reduce<bigint | null>(
    (first, p) => (first === null || p.firstLba < first ? p.firstLba : first),
    null,
  );
  const headEnd = firstPartition ?? header.firstUsableLba;
  const headBytes = Math.min(Number(headEnd) * sectorBytes, MAX_HEAD_BYTES);
  if (headBytes < 2 * sectorBytes)
    throw new GptError(`the first partition starts at LBA ${headEnd}, inside the GPT itself`);

  const lastLba = BigInt(diskBytes / sectorBytes) - 1n;
  let tailBytes = 0;
  let tailNote: string | null = null;
  if (header.alternateLba === lastLba) {
    const tailStart = header.alternateLba - entrySectors(header, sectorBytes);
    tailBytes = Number(lastLba - tailStart + 1n) * sectorBytes;
    if (tailBytes > MAX_TAIL_BYTES)
      throw new GptError(`a backup GPT of ${tailBytes} bytes (${header.count} entries) is implausible`);
  } else {
    // A raw image written to a bigger disk without a table grown to fit (no plan partitions): its
    // backup sits where the image ended, which the record's head + tail shape cannot name.
    tailNote = `the backup GPT header is at LBA ${header.alternateLba}, not the disk's last LBA ${lastLba}: only the head is recorded`;
  }
  if (headBytes + tailBytes > diskBytes)
    throw new GptError(`head (${headBytes}) and tail (${tailBytes}) overlap on a ${diskBytes}-byte disk`);
  return { headBytes, tailBytes, tailNote };
}

export type BootRegion =
  /** LBA 0: boot code, disk signature, the protective partition table. */
  | "mbr"
  | "gpt-header"
  | "gpt-entries"
  /** The backup entry array and header at the disk's end. */
  | "backup-gpt"
  /** Anything else in the extents: the gap before the first partition (a BIOS boot loader's core image…). */
  | "other";

export interface BootAreaLayout extends DiskGeometry {
  headBytes: number;
  tailBytes: number;
}

export interface BootAreaBytes {
  head: Uint8Array;
  tail: Uint8Array;
}

/** A run of adjacent differing 512-byte sectors in one region. */
export interface DifferingRun {
  region: BootRegion;
  area: "head" | "tail";
  /** Absolute 512-byte sector number on the disk, and the byte offset it starts at. */
  firstSector: number;
  sectors: number;
  offsetBytes: number;
  /** For the MBR: which of its parts differ (boot code, disk signature, partition table, boot signature). */
  detail: string | null;
}

export interface BootAreaDiff {
  differingSectors: number;
  runs: DifferingRun[];
}

/** Where LBA `lba` is in a disk whose primary GPT header is `header` (null: no readable header). */
export function classifyLba(lba: bigint, header: GptHeader | null, sectorBytes: number): BootRegion {
  if (lba === 0n) return "mbr";
  if (!header) return "other";
  if (lba === header.myLba) return "gpt-header";
  const entries = entrySectors(header, sectorBytes);
  if (lba >= header.entriesLba && lba < header.entriesLba + entries) return "gpt-entries";
  if (lba >= header.alternateLba - entries && lba <= header.alternateLba) return "backup-gpt";
  return "other";
}

/** The primary GPT header in a recorded head, or null when it has none (the regions are then coarser). */
export function recordedHeader(head: Uint8Array, sectorBytes: number): GptHeader | null {
  if (head.length < 2 * sectorBytes) return null;
  try {
    return parseGptHeader(head.subarray(sectorBytes, 2 * sectorBytes), "the recorded boot area");
  } catch {
    return null; // not a GPT: every sector but LBA 0 is "other"
  }
}

/** The MBR's parts (its classic layout): which differ between two copies of LBA 0. */
const MBR_PARTS: readonly [string, number, number][] = [
  ["boot code", 0, 440],
  ["disk signature", 440, 446],
  ["partition table", 446, 510],
  ["boot signature", 510, 512],
];

function mbrDetail(recorded: Uint8Array, current: Uint8Array): string {
  return MBR_PARTS.filter(([, from, to]) =>
    recorded.subarray(from, to).some((byte, i) => byte !== current[from + i]),
  )
    .map(([name]) => name)
    .join(", ");
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

/** Every 512-byte sector where `current` differs from `recorded`, grouped into runs by region. */
export function diffBootArea(
  layout: BootAreaLayout,
  recorded: BootAreaBytes,
  current: BootAreaBytes,
): BootAreaDiff {
  for (const [what, bytes, size] of [
    ["recorded head", recorded.head, layout.headBytes],
    ["recorded tail", recorded.tail, layout.tailBytes],
    ["disk's head", current.head, layout.headBytes],
    ["disk's tail", current.tail, layout.tailBytes],
  ] as const)
    if (bytes.length !== size) throw new Error(`the ${what} is ${bytes.length} bytes, expected ${size}`);
  const header = recordedHeader(recorded.head, layout.sectorBytes);
  const runs: DifferingRun[] = [];
  let differingSectors = 0;
  const areas = [
    { area: "head", base: 0, recorded: recorded.head, current: current.head },
    {
      area: "tail",
      base: layout.diskBytes - layout.tailBytes,
      recorded: recorded.tail,
      current: current.tail,
    },
  ] as const;
  for (const { area, base, recorded: want, current: have } of areas) {
    for (let at = 0; at < want.length; at += DIFF_SECTOR_BYTES) {
      const end = Math.min(at + DIFF_SECTOR_BYTES, want.length);
      if (sameBytes(want.subarray(at, end), have.subarray(at, end))) continue;
      differingSectors += 1;
      const offsetBytes = base + at;
      const region = classifyLba(
        BigInt(Math.floor(offsetBytes / layout.sectorBytes)),
        header,
        layout.sectorBytes,
      );
      const last = runs.at(-1);
      if (
        last?.area === area &&
        last.region === region &&
        last.offsetBytes + last.sectors * DIFF_SECTOR_BYTES === offsetBytes
      ) {
        last.sectors += 1;
        continue;
      }
      runs.push({
        region,
        area,
        firstSector: offsetBytes / DIFF_SECTOR_BYTES,
        sectors: 1,
        offsetBytes,
        detail: offsetBytes === 0 ? mbrDetail(want.subarray(0, 512), have.subarray(0, 512)) : null,
      });
    }
  }
  return { differingSectors, runs };
}

/** One line for a report or an error: "mbr (boot code): sector 0; backup-gpt: sectors 131039-131071". */
export function describeRuns(runs: readonly DifferingRun[]): string {
  if (!runs.length) return "nothing differs";
  return runs
    .map((run) => {
      const where =
        run.sectors === 1
          ? `sector ${run.firstSector}`
          : `sectors ${run.firstSector}-${run.firstSector + run.sectors - 1}`;
      return `${run.region}${run.detail ? ` (${run.detail})` : ""}: ${where}`;
    })
    .join("; ");
}

/** The record's bytes (head then tail) split, after checking their length. */
export function splitBootArea(
  bytes: Uint8Array,
  layout: Pick<BootAreaLayout, "headBytes" | "tailBytes">,
): BootAreaBytes {
  if (bytes.length !== layout.headBytes + layout.tailBytes)
    throw new Error(
      `the boot area's bytes are ${bytes.length} long, the record says ${layout.headBytes} + ${layout.tailBytes}`,
    );
  return { head: bytes.subarray(0, layout.headBytes), tail: bytes.subarray(layout.headBytes) };
}
