// Decoder for SMBIOS type 4, Processor Information (DSP0134 §7.5).
import { u16, u8 } from "./bytes.js";
import { lookup, PROCESSOR_STATUS, PROCESSOR_TYPES } from "./names.js";
import { str, type SmbiosStructure } from "./table.js";

export interface Processor {
  handle: number;
  socket: string | null;
  type: string | null;
  /** 0x06 family code (0xFE: see family2 at 0x28); kept as the number, names are a long table. */
  familyCode: number;
  manufacturer: string | null;
  /** 0x08: the 8 ID bytes (CPUID leaf 1 EAX, EDX on x86) as hex, e.g. "B1 0F 06 00 FD FB CB 0F". */
  id: string;
  version: string | null;
  /** MHz; null when 0 (unknown). */
  externalClockMhz: number | null;
  maxSpeedMhz: number | null;
  currentSpeedMhz: number | null;
  /** 0x18 bit 6. */
  populated: boolean;
  status: string | null;
  serial: string | null;
  assetTag: string | null;
  partNumber: string | null;
  /** Cores per socket (0x23, or 0x2A when 0x23 is 0xFF); null when 0 (unknown) or absent. */
  coreCount: number | null;
  coreEnabled: number | null;
  threadCount: number | null;
}

/** A count byte that defers to a WORD when it holds 0xFF (SMBIOS 3.0), as dmidecode reads it. */
function count(s: SmbiosStructure, byteAt: number, wordAt: number): number | null {
  if (s.length < 0x28) return null;
  const b = u8(s.data, byteAt);
  if (b === 0) return null;
  return s.length >= 0x30 && b === 0xff ? u16(s.data, wordAt) : b;
}

export function decodeProcessor(s: SmbiosStructure): Processor {
  const d = s.data;
  const mhz = (at: number): number | null => (u16(d, at) === 0 ? null : u16(d, at));
  const statusByte = u8(d, 0x18);
  const v23 = s.length >= 0x23;
  return {
    handle: s.handle,
    socket: str(s, 0x04),
    type: lookup(PROCESSOR_TYPES, u8(d, 0x05)),
    familyCode: u8(d, 0x06),
    manufacturer: str(s, 0x07),
    id: Array.from(d.subarray(0x08, 0x10), (x) => x.toString(16).toUpperCase().padStart(2, "0")).join(" "),
    version: str(s, 0x10),
    externalClockMhz: mhz(0x12),
    maxSpeedMhz: mhz(0x14),
    currentSpeedMhz: mhz(0x16),
    populated: (statusByte & 0x40) !== 0,
    status: PROCESSOR_STATUS[statusByte & 0x07] ?? null,
    serial: v23 ? str(s, 0x20) : null,
    assetTag: v23 ? str(s, 0x21) : null,
    partNumber: v23 ? str(s, 0x22) : null,
    coreCount: count(s, 0x23, 0x2a),
    coreEnabled: count(s, 0x24, 0x2c),
    threadCount: count(s, 0x25, 0x2e),
  };
}
