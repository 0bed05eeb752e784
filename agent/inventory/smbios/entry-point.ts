// Decodes the SMBIOS entry point (/sys/firmware/dmi/tables/smbios_entry_point): the 2.x "_SM_" and
// 3.x "_SM3_" structures of DMTF DSP0134 §5.2.1 and §5.2.2, checksums included.
import { ascii, checksumOk, u16, u32, u64, u8 } from "./bytes.js";
import { fail, type SmbiosResult } from "./errors.js";

export interface SmbiosEntryPoint {
  anchor: "_SM_" | "_SM3_";
  /** Spec version the table follows, after dmidecode's fix-ups of known-wrong firmware values. */
  major: number;
  minor: number;
  /** Docrev: only 3.x entry points carry it. */
  docrev: number | null;
  /** Length of the entry point structure itself. */
  length: number;
  /** Physical address of the table (as the firmware placed it; dumps rewrite it to 32). */
  tableAddress: number;
  /** 2.x: the table's exact length. 3.x: its maximum size (the end-of-table structure ends it). */
  tableLength: number;
  /** 2.x: number of structures; 3.x: null (not given). */
  structureCount: number | null;
}

/** 2.x entry points are 0x1F bytes; SMBIOS 2.1 firmware often says 0x1E (a spec erratum dmidecode accepts). */
const SM2_MIN_LENGTH = 0x1e;
const SM3_MIN_LENGTH = 0x18;
/** dmidecode refuses anything longer than this as corrupt. */
const MAX_LENGTH = 0x20;

function sm2(b: Uint8Array): SmbiosResult<SmbiosEntryPoint> {
  if (b.length < 6) return fail("entry_point_truncated", b.length, "2.x entry point has no length byte");
  const length = u8(b, 0x05);
  if (length < SM2_MIN_LENGTH || length > MAX_LENGTH)
    return fail("entry_point_bad_length", 0x05, `2.x entry point length ${length} (expected 0x1E-0x20)`);
  if (b.length < length)
    return fail("entry_point_truncated", b.length, `2.x entry point is ${b.length} of ${length} bytes`);
  if (!checksumOk(b, 0, length)) return fail("entry_point_bad_checksum", 0x04, "2.x entry point checksum");
  if (ascii(b, 0x10, 5) !== "_DMI_")
    return fail("entry_point_unknown_anchor", 0x10, "2.x entry point has no _DMI_ intermediate anchor");
  if (!checksumOk(b, 0x10, 0x0f))
    return fail("entry_point_bad_checksum", 0x15, "2.x intermediate (_DMI_) checksum");
  const major = u8(b, 0x06);
  let minor = u8(b, 0x07);
  // dmidecode's fix-ups: some firmware wrote the entry point length (0x1F/0x21) or 3.3 as the version.
  if (major === 2 && (minor === 0x1f || minor === 0x21)) minor = 3;
  else if (major === 2 && minor === 0x33) minor = 6;
  return {
    ok: true,
    value: {
      anchor: "_SM_",
      major,
      minor,
      docrev: null,
      length,
      tableAddress: u32(b, 0x18),
      tableLength: u16(b, 0x16),
      structureCount: u16(b, 0x1c),
    },
  };
}

function sm3(b: Uint8Array): SmbiosResult<SmbiosEntryPoint> {
  if (b.length < 7) return fail("entry_point_truncated", b.length, "3.x entry point has no length byte");
  const length = u8(b, 0x06);
  if (length < SM3_MIN_LENGTH || length > MAX_LENGTH)
    return fail("entry_point_bad_length", 0x06, `3.x entry point length ${length} (expected 0x18-0x20)`);
  if (b.length < length)
    return fail("entry_point_truncated", b.length, `3.x entry point is ${b.length} of ${length} bytes`);
  if (!checksumOk(b, 0, length)) return fail("entry_point_bad_checksum", 0x05, "3.x entry point checksum");
  return {
    ok: true,
    value: {
      anchor: "_SM3_",
      major: u8(b, 0x07),
      minor: u8(b, 0x08),
      docrev: u8(b, 0x09),
      length,
      tableAddress: u64(b, 0x10),
      tableLength: u32(b, 0x0c),
      structureCount: null,
    },
  };
}

export function parseEntryPoint(b: Uint8Array): SmbiosResult<SmbiosEntryPoint> {
  if (ascii(b, 0, 5) === "_SM3_") return sm3(b);
  if (ascii(b, 0, 4) === "_SM_") return sm2(b);
  const start = ascii(b, 0, 5);
  if (b.length < 5 && ("_SM3_".startsWith(start) || "_SM_".startsWith(start)))
    return fail("entry_point_truncated", b.length, `entry point is only ${b.length} bytes`);
  return fail("entry_point_unknown_anchor", 0, "entry point anchor is neither _SM_ nor _SM3_");
}
