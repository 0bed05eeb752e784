// Reads a GPT partition table straight from a disk (or image file): after writing a whole-disk image
// the kernel's view of the partitions is stale until a re-read, so the installer finds the marker
// partition from the bytes it just wrote. Pure parsing is separate from the read.
import { open } from "node:fs/promises";

export interface GptPartition {
  /** 1-based, as Linux numbers them (vda1 = index 1). */
  index: number;
  name: string;
  firstLba: bigint;
  lastLba: bigint;
}

export class GptError extends Error {
  readonly code = "gpt_invalid";
}

const SIGNATURE = "EFI PART";
const EMPTY_TYPE = "00000000000000000000000000000000";

/** The header at LBA 1: where the entry array is and how it is laid out. */
export function parseGptHeader(
  block: Uint8Array,
  where: string,
): { entriesLba: bigint; count: number; entrySize: number } {
  const buf = Buffer.from(block.buffer, block.byteOffset, block.byteLength);
  if (buf.length < 92 || buf.toString("latin1", 0, 8) !== SIGNATURE)
    throw new GptError(`${where}: no GPT header at LBA 1 (signature "${SIGNATURE}" missing)`);
  const entriesLba = buf.readBigUInt64LE(72);
  const count = buf.readUInt32LE(80);
  const entrySize = buf.readUInt32LE(84);
  if (entrySize < 128 || count > 1024)
    throw new GptError(`${where}: implausible GPT header (${count} entries of ${entrySize} bytes)`);
  return { entriesLba, count, entrySize };
}

/** The used entries of a partition entry array. */
export function parseGptEntries(bytes: Uint8Array, count: number, entrySize: number): GptPartition[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: GptPartition[] = [];
  for (let i = 0; i < count && (i + 1) * entrySize <= buf.length; i++) {
    const entry = buf.subarray(i * entrySize, (i + 1) * entrySize);
    if (entry.toString("hex", 0, 16) === EMPTY_TYPE) continue;
    const rawName = entry.toString("utf16le", 56, 128);
    const end = rawName.indexOf("\u0000");
    parts.push({
      index: i + 1,
      name: end === -1 ? rawName : rawName.slice(0, end),
      firstLba: entry.readBigUInt64LE(32),
      lastLba: entry.readBigUInt64LE(40),
    });
  }
  return parts;
}

/** The partitions on `path`, reading its GPT with `sectorBytes`-byte logical blocks. */
export async function readGpt(path: string, sectorBytes = 512): Promise<GptPartition[]> {
  const handle = await open(path, "r");
  try {
    const header = Buffer.alloc(sectorBytes);
    await handle.read(header, 0, sectorBytes, sectorBytes);
    const { entriesLba, count, entrySize } = parseGptHeader(header, path);
    const entries = Buffer.alloc(count * entrySize);
    await handle.read(entries, 0, entries.length, Number(entriesLba) * sectorBytes);
    return parseGptEntries(entries, count, entrySize);
  } finally {
    await handle.close();
  }
}
