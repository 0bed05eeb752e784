// Decoders for the system-identity structures: BIOS (type 0), system (1), baseboard (2), chassis (3),
// OEM strings (11). Field offsets are DSP0134 §7.1-§7.4 and §7.12; a field past the structure's length
// is absent (an older spec version) and decodes as null.
import { u16, u8 } from "./bytes.js";
import {
  BOARD_TYPES,
  CHASSIS_SECURITY,
  CHASSIS_STATES,
  CHASSIS_TYPES,
  lookup,
  WAKE_UP_TYPES,
} from "./names.js";
import { str, type SmbiosStructure } from "./table.js";

export interface BiosInfo {
  vendor: string | null;
  version: string | null;
  releaseDate: string | null;
  /** 0x06: segment of the BIOS image, shown by dmidecode as the address 0xSSSS0. */
  startingSegment: number;
  /** 0x09: (n + 1) × 64 KiB; 0xFF means the extended size at 0x18 (SMBIOS 3.1). */
  romSizeBytes: number | null;
  /** 0x14/0x15: "major.minor", null when 0xFF (not supported) or absent. */
  biosRevision: string | null;
  /** 0x16/0x17: embedded controller firmware revision. */
  firmwareRevision: string | null;
  /** 0x13 bit 3 (characteristics extension byte 2): UEFI is supported. */
  uefiSupported: boolean;
  /** 0x13 bit 4: the system is a virtual machine. */
  virtualMachine: boolean;
}

export function decodeBios(s: SmbiosStructure): BiosInfo {
  const d = s.data;
  const revision = (at: number): string | null =>
    u8(d, at) !== 0xff && u8(d, at + 1) !== 0xff ? `${u8(d, at)}.${u8(d, at + 1)}` : null;
  let romSizeBytes: number | null = s.length > 0x09 ? (u8(d, 0x09) + 1) * 64 * 1024 : null;
  if (u8(d, 0x09) === 0xff && s.length >= 0x1a) {
    const ext = u16(d, 0x18);
    const unit = ext >> 14;
    romSizeBytes = unit <= 1 ? (ext & 0x3fff) * 2 ** (unit === 0 ? 20 : 30) : null;
  }
  const ext2 = s.length > 0x13 ? u8(d, 0x13) : 0;
  return {
    vendor: str(s, 0x04),
    version: str(s, 0x05),
    releaseDate: str(s, 0x08),
    startingSegment: u16(d, 0x06),
    romSizeBytes,
    biosRevision: s.length >= 0x18 ? revision(0x14) : null,
    firmwareRevision: s.length >= 0x18 ? revision(0x16) : null,
    uefiSupported: (ext2 & 0x08) !== 0,
    virtualMachine: (ext2 & 0x10) !== 0,
  };
}

export interface SystemIdentity {
  manufacturer: string | null;
  product: string | null;
  version: string | null;
  serial: string | null;
  /** 0x08, lower-case; null when all 0x00 (not settable) or all 0xFF (not present), or absent (2.0). */
  uuid: string | null;
  wakeUpType: string | null;
  sku: string | null;
  family: string | null;
}

/**
 * The UUID at 0x08. Since SMBIOS 2.6 the first three fields are little-endian (§7.2.1, RFC 4122 wire
 * order otherwise); before 2.6 firmware wrote them big-endian, and dmidecode reads them so.
 */
export function formatUuid(b: Uint8Array, version: { major: number; minor: number }): string | null {
  if (b.every((x) => x === 0) || b.every((x) => x === 0xff)) return null;
  const le = version.major > 2 || (version.major === 2 && version.minor >= 6);
  const order = le ? [3, 2, 1, 0, 5, 4, 7, 6] : [0, 1, 2, 3, 4, 5, 6, 7];
  const hex = (i: number): string => (b[i] ?? 0).toString(16).padStart(2, "0");
  const head = order.map(hex).join("");
  const tail = [8, 9, 10, 11, 12, 13, 14, 15].map(hex).join("");
  return `${head.slice(0, 8)}-${head.slice(8, 12)}-${head.slice(12, 16)}-${tail.slice(0, 4)}-${tail.slice(4)}`;
}

export function decodeSystem(s: SmbiosStructure, version: { major: number; minor: number }): SystemIdentity {
  const d = s.data;
  return {
    manufacturer: str(s, 0x04),
    product: str(s, 0x05),
    version: str(s, 0x06),
    serial: str(s, 0x07),
    uuid: s.length >= 0x19 ? formatUuid(d.subarray(0x08, 0x18), version) : null,
    wakeUpType: s.length >= 0x19 ? lookup(WAKE_UP_TYPES, u8(d, 0x18), 0) : null,
    sku: s.length >= 0x1b ? str(s, 0x19) : null,
    family: s.length >= 0x1b ? str(s, 0x1a) : null,
  };
}

export interface Baseboard {
  handle: number;
  manufacturer: string | null;
  product: string | null;
  version: string | null;
  serial: string | null;
  assetTag: string | null;
  /** 0x09 bit 0: hosting board (the motherboard). */
  hostingBoard: boolean;
  /** 0x0A "Location in Chassis": on a blade, the slot the blade sits in (our blade slot). */
  locationInChassis: string | null;
  chassisHandle: number | null;
  boardType: string | null;
}

export function decodeBaseboard(s: SmbiosStructure): Baseboard {
  const d = s.data;
  const full = s.length >= 0x0e;
  return {
    handle: s.handle,
    manufacturer: str(s, 0x04),
    product: str(s, 0x05),
    version: str(s, 0x06),
    serial: str(s, 0x07),
    assetTag: str(s, 0x08),
    hostingBoard: s.length >= 0x0a && (u8(d, 0x09) & 0x01) !== 0,
    locationInChassis: full ? str(s, 0x0a) : null,
    chassisHandle: full ? u16(d, 0x0b) : null,
    boardType: full ? lookup(BOARD_TYPES, u8(d, 0x0d)) : null,
  };
}

export interface Chassis {
  handle: number;
  manufacturer: string | null;
  type: string | null;
  /** 0x05 bit 7: a chassis lock is present. */
  lock: boolean;
  version: string | null;
  serial: string | null;
  /** 0x08: the asset tag an operator writes into the firmware. */
  assetTag: string | null;
  bootUpState: string | null;
  powerSupplyState: string | null;
  thermalState: string | null;
  securityStatus: string | null;
  /** 0x11: height in rack units (U); null when 0 (unspecified) or absent. */
  heightU: number | null;
  /** 0x15 + n × m (SMBIOS 2.7). */
  sku: string | null;
}

export function decodeChassis(s: SmbiosStructure): Chassis {
  const d = s.data;
  const v21 = s.length >= 0x0d;
  const elementsEnd = 0x15 + u8(d, 0x13) * u8(d, 0x14);
  return {
    handle: s.handle,
    manufacturer: str(s, 0x04),
    type: lookup(CHASSIS_TYPES, u8(d, 0x05) & 0x7f),
    lock: (u8(d, 0x05) & 0x80) !== 0,
    version: str(s, 0x06),
    serial: str(s, 0x07),
    assetTag: str(s, 0x08),
    bootUpState: v21 ? lookup(CHASSIS_STATES, u8(d, 0x09)) : null,
    powerSupplyState: v21 ? lookup(CHASSIS_STATES, u8(d, 0x0a)) : null,
    thermalState: v21 ? lookup(CHASSIS_STATES, u8(d, 0x0b)) : null,
    securityStatus: v21 ? lookup(CHASSIS_SECURITY, u8(d, 0x0c)) : null,
    heightU: s.length >= 0x13 && u8(d, 0x11) !== 0 ? u8(d, 0x11) : null,
    sku: s.length >= 0x15 && s.length > elementsEnd ? str(s, elementsEnd) : null,
  };
}

/** Type 11: free-form strings the vendor (or `-smbios type=11,value=`) put there; count at 0x04. */
export function decodeOemStrings(s: SmbiosStructure): string[] {
  const count = s.length > 0x04 ? u8(s.data, 0x04) : 0;
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(s.strings[i] ?? "");
  return out;
}
