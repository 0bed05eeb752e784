// Builds GPT partition tables (UEFI spec §5.3) as the byte ranges to write: a fresh table, or an existing
// one (a whole-disk image's) moved out to the end of a bigger device with partitions added after its last
// one. Pure: the partition plugin does the writing. Written here rather than shipping sfdisk and its
// libraries in the initramfs: ~200 lines, checked against sfdisk on the host (gpt-write.test.ts).
import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { encodeGuid, GptError, parseGptEntries, type GptTableOnDisk } from "./gpt.js";

export const MiB = 2 ** 20;
/** Partition starts and ends on 1 MiB boundaries, as sfdisk and parted align them. */
const ALIGN_BYTES = MiB;
const HEADER_BYTES = 92;
const STANDARD_ENTRIES = 128;
const ENTRY_BYTES = 128;
const NAME_CHARS = 36;

export interface GptEntry {
  typeGuid: string;
  uniqueGuid: string;
  firstLba: bigint;
  lastLba: bigint;
  /** Attribute bits (bit 0 required, bit 2 legacy BIOS bootable…). */
  attributes?: bigint;
  /** Up to 36 UTF-16 code units. */
  name: string;
}

export interface GptTable {
  sectorBytes: number;
  /** The device's size in sectors: the backup header goes in the last one. */
  totalSectors: bigint;
  diskGuid: string;
  entriesLba: bigint;
  entryCount: number;
  entrySize: number;
  firstUsableLba: bigint;
  /** The raw entry array, entryCount × entrySize bytes. */
  entries: Buffer;
  /** An existing MBR sector to keep (its boot code: syslinux's gptmbr.bin); a bare one otherwise. */
  mbr?: Buffer;
}

export interface DiskWrite {
  what: string;
  offset: number;
  bytes: Buffer;
}

/** Sectors the entry array takes. */
export function entrySectors(table: Pick<GptTable, "entryCount" | "entrySize" | "sectorBytes">): bigint {
  return BigInt(Math.ceil((table.entryCount * table.entrySize) / table.sectorBytes));
}

/** The last LBA a partition may use: before the backup entry array and header. */
export function lastUsableLba(
  table: Pick<GptTable, "entryCount" | "entrySize" | "sectorBytes" | "totalSectors">,
): bigint {
  return table.totalSectors - 2n - entrySectors(table);
}

/** A GUID derived from `seed`: the same machine + plan gives the same disk, so a rerun changes nothing. */
export function guidFromSeed(seed: string): string {
  const bytes = createHash("sha256").update(seed).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40; // version 4 layout (RFC 4122 §4.4)
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80; // RFC 4122 variant
  const hex = bytes.toString("hex").toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** An empty table covering the whole device, entries from LBA 2, partitions from 1 MiB. */
export function emptyTable(sectorBytes: number, totalSectors: bigint, diskGuid: string): GptTable {
  const table = {
    sectorBytes,
    totalSectors,
    diskGuid,
    entriesLba: 2n,
    entryCount: STANDARD_ENTRIES,
    entrySize: ENTRY_BYTES,
    firstUsableLba: 0n,
    entries: Buffer.alloc(STANDARD_ENTRIES * ENTRY_BYTES),
  };
  table.firstUsableLba = table.entriesLba + entrySectors(table);
  if (lastUsableLba(table) < BigInt(ALIGN_BYTES / sectorBytes))
    throw new GptError(`a ${totalSectors}-sector device is too small for a GPT`);
  return table;
}

/**
 * An existing table (read with readGptTable) moved out to a device of `totalSectors`: same disk GUID,
 * entries and boot code; the backup copy goes to the new end. `stale` zeroes the old backup copy, which
 * would otherwise lie inside a partition added after the image and confuse tools that scan for it.
 */
export function extendTable(
  onDisk: GptTableOnDisk,
  sectorBytes: number,
  totalSectors: bigint,
): { table: GptTable; stale: DiskWrite[] } {
  const { header } = onDisk;
  const table: GptTable = {
    sectorBytes,
    totalSectors,
    diskGuid: header.diskGuid,
    entriesLba: header.entriesLba,
    entryCount: header.count,
    entrySize: header.entrySize,
    firstUsableLba: header.firstUsableLba,
    entries: Buffer.from(onDisk.entries),
    mbr: onDisk.mbr,
  };
  if (header.alternateLba > totalSectors - 1n)
    throw new GptError(`the GPT's backup header (LBA ${header.alternateLba}) lies past the device's end`);
  const stale: DiskWrite[] = [];
  if (header.alternateLba !== totalSectors - 1n && header.alternateLba > header.lastUsableLba) {
    const from = header.alternateLba - entrySectors(table);
    stale.push({
      what: "old backup copy",
      offset: Number(from * BigInt(sectorBytes)),
      bytes: Buffer.alloc(Number(header.alternateLba - from + 1n) * sectorBytes),
    });
  }
  return { table, stale };
}

/**
 * Places partitions one after another from `startLba` (rounded up to 1 MiB), each a whole number of
 * MiB; "rest" (last only) runs to the last whole MiB before `endLba`. Throws when they do not fit.
 */
export function placePartitions(
  sizes: readonly (number | "rest")[],
  startLba: bigint,
  endLba: bigint,
  sectorBytes: number,
): { firstLba: bigint; lastLba: bigint }[] {
  const align = BigInt(ALIGN_BYTES / sectorBytes);
  const alignUp = (lba: bigint): bigint => ((lba + align - 1n) / align) * align;
  const end = ((endLba + 1n) / align) * align; // first LBA past the last whole MiB
  let next = alignUp(startLba);
  return sizes.map((size, i) => {
    const firstLba = next;
    const sectors = size === "rest" ? end - firstLba : BigInt(size) / BigInt(sectorBytes);
    if (size === "rest" && i !== sizes.length - 1) throw new GptError(`"rest" must be the last partition`);
    if (sectors <= 0n || firstLba + sectors > end)
      throw new GptError(
        `partition ${i + 1} (${size === "rest" ? "rest" : `${size} bytes`}) does not fit: ` +
          `${((end - firstLba) * BigInt(sectorBytes)) / BigInt(MiB)} MiB left at LBA ${firstLba}`,
      );
    next = alignUp(firstLba + sectors);
    return { firstLba, lastLba: firstLba + sectors - 1n };
  });
}

/**
 * Grows partition `name`, which must be the table's last, to the last whole MiB before the table's usable
 * end (a table extendTable moved out): the room a recipe asks for under its installed root. Returns the
 * partition's old and new last LBA; the same when it already ends there.
 */
export function growLastPartition(
  table: GptTable,
  name: string,
): { number: number; fromLba: bigint; toLba: bigint } {
  const parts = parseGptEntries(table.entries, table.entryCount, table.entrySize);
  const part = parts.find((p) => p.name === name);
  if (!part) throw new GptError(`the table has no partition named ${name}`);
  const after = parts.find((p) => p.index !== part.index && p.firstLba > part.lastLba);
  if (after)
    throw new GptError(
      `partition ${name} cannot grow: partition ${after.index} (${after.name}) lies after it`,
    );
  const align = BigInt(ALIGN_BYTES / table.sectorBytes);
  const toLba = ((lastUsableLba(table) + 1n) / align) * align - 1n;
  if (toLba < part.lastLba)
    throw new GptError(`partition ${name} ends at LBA ${part.lastLba}, past the table's usable end ${toLba}`);
  table.entries.writeBigUInt64LE(toLba, (part.index - 1) * table.entrySize + 40);
  return { number: part.index, fromLba: part.lastLba, toLba };
}

/** Puts `entry` in the first free slot of the table's entry array; returns its 1-based number. */
export function addEntry(table: GptTable, entry: GptEntry): number {
  if (entry.name.length > NAME_CHARS)
    throw new GptError(`partition name "${entry.name}" is over 36 characters`);
  const used = new Set(parseGptEntries(table.entries, table.entryCount, table.entrySize).map((p) => p.index));
  let slot = 1;
  while (used.has(slot)) slot++;
  if (slot > table.entryCount) throw new GptError(`all ${table.entryCount} GPT entries are in use`);
  const at = (slot - 1) * table.entrySize;
  const record = table.entries.subarray(at, at + table.entrySize);
  record.fill(0);
  encodeGuid(entry.typeGuid).copy(record, 0);
  encodeGuid(entry.uniqueGuid).copy(record, 16);
  record.writeBigUInt64LE(entry.firstLba, 32);
  record.writeBigUInt64LE(entry.lastLba, 40);
  record.writeBigUInt64LE(entry.attributes ?? 0n, 48);
  record.write(entry.name, 56, NAME_CHARS * 2, "utf16le");
  return slot;
}

function header(table: GptTable, primary: boolean): Buffer {
  const last = table.totalSectors - 1n;
  const buf = Buffer.alloc(table.sectorBytes);
  buf.write("EFI PART", 0, "latin1");
  buf.writeUInt32LE(0x00010000, 8);
  buf.writeUInt32LE(HEADER_BYTES, 12);
  buf.writeBigUInt64LE(primary ? 1n : last, 24);
  buf.writeBigUInt64LE(primary ? last : 1n, 32);
  buf.writeBigUInt64LE(table.firstUsableLba, 40);
  buf.writeBigUInt64LE(lastUsableLba(table), 48);
  encodeGuid(table.diskGuid).copy(buf, 56);
  buf.writeBigUInt64LE(primary ? table.entriesLba : last - entrySectors(table), 72);
  buf.writeUInt32LE(table.entryCount, 80);
  buf.writeUInt32LE(table.entrySize, 84);
  buf.writeUInt32LE(crc32(table.entries), 88);
  buf.writeUInt32LE(crc32(buf.subarray(0, HEADER_BYTES)), 16);
  return buf;
}

/**
 * The protective MBR (§5.2.3): one 0xEE partition from LBA 1 over the whole device (0xFFFFFFFF when
 * larger). A kept MBR keeps its boot code, disk signature and entry flags; only the size is updated.
 */
function protectiveMbr(table: GptTable): Buffer {
  const mbr = Buffer.alloc(512);
  table.mbr?.copy(mbr, 0, 0, 512);
  const size = table.totalSectors - 1n > 0xffffffffn ? 0xffffffff : Number(table.totalSectors - 1n);
  const slots = [0, 1, 2, 3].map((i) => 446 + i * 16);
  const existing = slots.find((at) => mbr[at + 4] === 0xee);
  if (existing !== undefined) {
    mbr.writeUInt32LE(size, existing + 12);
  } else {
    mbr.fill(0, 446, 510);
    Buffer.from([0x00, 0x00, 0x02, 0x00, 0xee, 0xff, 0xff, 0xff]).copy(mbr, 446);
    mbr.writeUInt32LE(1, 446 + 8);
    mbr.writeUInt32LE(size, 446 + 12);
  }
  mbr.writeUInt16LE(0xaa55, 510);
  return mbr;
}

/**
 * What to write for `table`, backup copy first (an interrupted write leaves the old primary intact and
 * readable), then the primary, then the protective MBR.
 */
export function gptWrites(table: GptTable): DiskWrite[] {
  const sector = BigInt(table.sectorBytes);
  const last = table.totalSectors - 1n;
  const arrayBytes = Buffer.alloc(Number(entrySectors(table)) * table.sectorBytes);
  table.entries.copy(arrayBytes);
  const at = (lba: bigint): number => Number(lba * sector);
  return [
    { what: "backup entries", offset: at(last - entrySectors(table)), bytes: arrayBytes },
    { what: "backup header", offset: at(last), bytes: header(table, false) },
    { what: "primary entries", offset: at(table.entriesLba), bytes: arrayBytes },
    { what: "primary header", offset: at(1n), bytes: header(table, true) },
    { what: "protective MBR", offset: 0, bytes: protectiveMbr(table) },
  ];
}
