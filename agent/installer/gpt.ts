// Reads a GPT partition table straight from a disk (or image file): after writing a whole-disk image
// the kernel's view of the partitions is stale until a re-read, so the installer finds the marker
// partition from the bytes it just wrote. Pure parsing is separate from the read.
import { open } from "node:fs/promises";
// GPT's CRC32 (UEFI spec §5.3.2) is the IEEE 802.3 one, which zlib computes (node:zlib has it from 20.15).
import { crc32 } from "node:zlib";
import { BootwrightError, type FailureContext } from "../../protocol/failure.js";

export interface GptPartition {
  /** 1-based, as Linux numbers them (vda1 = index 1). */
  index: number;
  name: string;
  firstLba: bigint;
  lastLba: bigint;
}

export class GptError extends BootwrightError<"gpt_invalid"> {
  constructor(message: string, context: FailureContext<"gpt_invalid"> = {}, options?: ErrorOptions) {
    super("gpt_invalid", message, context, options);
  }
}

const SIGNATURE = "EFI PART";
const EMPTY_TYPE = "00000000000000000000000000000000";

/** A GPT header's fields (UEFI spec §5.3.2, Table 5-5). */
export interface GptHeader {
  entriesLba: bigint;
  count: number;
  entrySize: number;
  headerSize: number;
  /** Whether the stored HeaderCRC32 matches the header's bytes. */
  headerCrcOk: boolean;
  myLba: bigint;
  alternateLba: bigint;
  firstUsableLba: bigint;
  lastUsableLba: bigint;
  diskGuid: string;
  entriesCrc: number;
}

/** The header at LBA 1: where the entry array is and how it is laid out. */
export function parseGptHeader(block: Uint8Array, where: string): GptHeader {
  const buf = Buffer.from(block.buffer, block.byteOffset, block.byteLength);
  if (buf.length < 92 || buf.toString("latin1", 0, 8) !== SIGNATURE)
    throw new GptError(`${where}: no GPT header at LBA 1 (signature "${SIGNATURE}" missing)`, {
      path: where,
    });
  const entriesLba = buf.readBigUInt64LE(72);
  const count = buf.readUInt32LE(80);
  const entrySize = buf.readUInt32LE(84);
  const headerSize = buf.readUInt32LE(12);
  if (entrySize < 128 || count > 1024 || headerSize < 92 || headerSize > buf.length)
    throw new GptError(`${where}: implausible GPT header (${count} entries of ${entrySize} bytes)`, {
      path: where,
    });
  const forCrc = Buffer.from(buf.subarray(0, headerSize));
  forCrc.writeUInt32LE(0, 16);
  return {
    entriesLba,
    count,
    entrySize,
    headerSize,
    headerCrcOk: crc32(forCrc) === buf.readUInt32LE(16),
    myLba: buf.readBigUInt64LE(24),
    alternateLba: buf.readBigUInt64LE(32),
    firstUsableLba: buf.readBigUInt64LE(40),
    lastUsableLba: buf.readBigUInt64LE(48),
    diskGuid: decodeGuid(buf.subarray(56, 72)),
    entriesCrc: buf.readUInt32LE(88),
  };
}

/** A GUID as GPT stores it: the first three fields little-endian, the last two as bytes (§Appendix A). */
export function decodeGuid(bytes: Uint8Array): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, 16);
  const hex = (from: number, to: number): string => buf.subarray(from, to).toString("hex");
  return [
    buf.readUInt32LE(0).toString(16).padStart(8, "0"),
    buf.readUInt16LE(4).toString(16).padStart(4, "0"),
    buf.readUInt16LE(6).toString(16).padStart(4, "0"),
    hex(8, 10),
    hex(10, 16),
  ]
    .join("-")
    .toUpperCase();
}

/** The 16 bytes GPT stores for a GUID written "C12A7328-F81F-11D2-BA4B-00A0C93EC93B". */
export function encodeGuid(text: string): Buffer {
  const match = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i.exec(text);
  if (!match) throw new GptError(`not a GUID: "${text}"`);
  const [, a = "", b = "", c = "", d = "", e = ""] = match;
  const buf = Buffer.alloc(16);
  buf.writeUInt32LE(parseInt(a, 16), 0);
  buf.writeUInt16LE(parseInt(b, 16), 4);
  buf.writeUInt16LE(parseInt(c, 16), 6);
  Buffer.from(d + e, "hex").copy(buf, 8);
  return buf;
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

/** A table as read for rewriting: the parsed primary header, its raw entry array and the MBR sector. */
export interface GptTableOnDisk {
  header: GptHeader;
  entries: Buffer;
  mbr: Buffer;
}

/**
 * The primary GPT of `path` with its raw entry array, refusing a table whose CRCs do not match (a
 * rewrite must never spread a corrupt table to both copies).
 */
export async function readGptTable(path: string, sectorBytes: number): Promise<GptTableOnDisk> {
  const handle = await open(path, "r");
  try {
    const first = Buffer.alloc(2 * sectorBytes);
    await handle.read(first, 0, first.length, 0);
    const header = parseGptHeader(first.subarray(sectorBytes), path);
    if (!header.headerCrcOk) throw new GptError(`${path}: the GPT header's CRC32 does not match`, { path });
    const entries = Buffer.alloc(header.count * header.entrySize);
    await handle.read(entries, 0, entries.length, Number(header.entriesLba) * sectorBytes);
    if (crc32(entries) !== header.entriesCrc)
      throw new GptError(`${path}: the GPT entry array's CRC32 does not match its header`, { path });
    return { header, entries, mbr: Buffer.from(first.subarray(0, 512)) };
  } finally {
    await handle.close();
  }
}
