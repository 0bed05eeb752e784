// Decoders for SMBIOS type 16 (Physical Memory Array, DSP0134 §7.17) and 17 (Memory Device, §7.18).
import { u16, u32, u64, u8 } from "./bytes.js";
import {
  lookup,
  MEMORY_ARRAY_LOCATIONS,
  MEMORY_ARRAY_USES,
  MEMORY_ERROR_CORRECTION,
  MEMORY_FORM_FACTORS,
  MEMORY_TYPES,
} from "./names.js";
import { str, type SmbiosStructure } from "./table.js";

const KIB = 1024;
const MIB = 1024 * KIB;

export interface MemoryArray {
  handle: number;
  location: string | null;
  use: string | null;
  errorCorrection: string | null;
  /** 0x07 in KiB, or the extended QWORD in bytes at 0x0F when 0x07 is 0x80000000; null when unknown. */
  maxCapacityBytes: number | null;
  deviceCount: number;
}

function arrayLocation(code: number): string | null {
  // 0xA0-0xA4 are PC-98 add-on locations; the generic table covers 1-10.
  return lookup(MEMORY_ARRAY_LOCATIONS, code);
}

export function decodeMemoryArray(s: SmbiosStructure): MemoryArray {
  const d = s.data;
  const max = u32(d, 0x07);
  let maxCapacityBytes: number | null = max * KIB;
  if (max === 0x8000_0000) maxCapacityBytes = s.length >= 0x17 ? u64(d, 0x0f) : null;
  return {
    handle: s.handle,
    location: arrayLocation(u8(d, 0x04)),
    use: lookup(MEMORY_ARRAY_USES, u8(d, 0x05)),
    errorCorrection: lookup(MEMORY_ERROR_CORRECTION, u8(d, 0x06)),
    maxCapacityBytes,
    deviceCount: u16(d, 0x0d),
  };
}

export interface MemoryDevice {
  handle: number;
  arrayHandle: number;
  /** Bits; null when 0xFFFF (unknown). */
  totalWidth: number | null;
  dataWidth: number | null;
  /** 0 when no module is installed; null when unknown (0xFFFF). */
  sizeBytes: number | null;
  formFactor: string | null;
  locator: string | null;
  bankLocator: string | null;
  type: string | null;
  /** MT/s (0x15; 0x54 when 0x15 is 0xFFFF, SMBIOS 3.3); null when unknown. */
  speedMts: number | null;
  manufacturer: string | null;
  serial: string | null;
  assetTag: string | null;
  partNumber: string | null;
  /** 0x1B bits 3:0; null when 0 (unknown) or absent. */
  rank: number | null;
  configuredSpeedMts: number | null;
}

/**
 * 0x0C size: bit 15 set = KiB units, clear = MiB; 0x7FFF means the extended size at 0x1C (MiB, bits 30:0,
 * SMBIOS 2.7) for modules of 32 GiB and more.
 */
function deviceSize(s: SmbiosStructure): number | null {
  const code = u16(s.data, 0x0c);
  if (code === 0xffff) return null;
  if (code === 0x7fff && s.length >= 0x20) return (u32(s.data, 0x1c) & 0x7fff_ffff) * MIB;
  return code & 0x8000 ? (code & 0x7fff) * KIB : code * MIB;
}

function speed(s: SmbiosStructure, at: number, extendedAt: number): number | null {
  const code = u16(s.data, at);
  if (code === 0xffff && s.length >= extendedAt + 4) return u32(s.data, extendedAt) & 0x7fff_ffff;
  return code === 0 ? null : code;
}

export function decodeMemoryDevice(s: SmbiosStructure): MemoryDevice {
  const d = s.data;
  const width = (at: number): number | null => (u16(d, at) === 0xffff ? null : u16(d, at));
  const v23 = s.length >= 0x1b;
  return {
    handle: s.handle,
    arrayHandle: u16(d, 0x04),
    totalWidth: width(0x08),
    dataWidth: width(0x0a),
    sizeBytes: deviceSize(s),
    formFactor: lookup(MEMORY_FORM_FACTORS, u8(d, 0x0e)),
    locator: str(s, 0x10),
    bankLocator: str(s, 0x11),
    type: lookup(MEMORY_TYPES, u8(d, 0x12)),
    speedMts: v23 ? speed(s, 0x15, 0x54) : null,
    manufacturer: v23 ? str(s, 0x17) : null,
    serial: v23 ? str(s, 0x18) : null,
    assetTag: v23 ? str(s, 0x19) : null,
    partNumber: v23 ? str(s, 0x1a) : null,
    rank: s.length >= 0x1c && (u8(d, 0x1b) & 0x0f) !== 0 ? u8(d, 0x1b) & 0x0f : null,
    configuredSpeedMts: s.length >= 0x22 ? speed(s, 0x20, 0x58) : null,
  };
}
