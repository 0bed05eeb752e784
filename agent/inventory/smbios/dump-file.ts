// The single-file layout of `dmidecode --dump-bin` (dmidecode.c, dmi_table_dump): the entry point at
// offset 0 with its table address rewritten to 32 (0x20) and its checksum fixed up, the table at 32.
// `dmidecode --from-dump` and `bootwright smbios --from-dump` read it back.
import { u8 } from "./bytes.js";
import { parseEntryPoint } from "./entry-point.js";
import { fail, type SmbiosResult } from "./errors.js";

export const DUMP_TABLE_OFFSET = 32;

/** Lays the kernel's two sysfs files out as dmidecode's --dump-bin does. */
export function toDumpBin(entryPoint: Uint8Array, table: Uint8Array): Uint8Array {
  const out = new Uint8Array(DUMP_TABLE_OFFSET + table.length);
  out.set(entryPoint.subarray(0, Math.min(entryPoint.length, DUMP_TABLE_OFFSET)));
  const sm3 = String.fromCharCode(...entryPoint.subarray(0, 5)) === "_SM3_";
  // 3.x: QWORD address at 0x10, checksum at 0x05. 2.x: DWORD address at 0x18, fixed in the _DMI_
  // intermediate checksum at 0x15 (which keeps the outer checksum at 0x04 right, as dmidecode relies on).
  const addressAt = sm3 ? 0x10 : 0x18;
  const checksumAt = sm3 ? 0x05 : 0x15;
  const width = sm3 ? 8 : 4;
  let delta = 0;
  for (let i = 0; i < width; i++) {
    delta += u8(out, addressAt + i);
    out[addressAt + i] = i === 0 ? DUMP_TABLE_OFFSET : 0;
  }
  out[checksumAt] = (u8(out, checksumAt) + delta - DUMP_TABLE_OFFSET) & 0xff;
  out.set(table, DUMP_TABLE_OFFSET);
  return out;
}

/** Splits a --dump-bin file back into entry point and table (the table at the address the entry point gives). */
export function fromDumpBin(file: Uint8Array): SmbiosResult<{ entryPoint: Uint8Array; table: Uint8Array }> {
  const entry = parseEntryPoint(file.subarray(0, DUMP_TABLE_OFFSET));
  if (!entry.ok) return entry;
  const { tableAddress, tableLength, length } = entry.value;
  if (tableAddress >= file.length)
    return fail("dump_truncated", file.length, `table address ${tableAddress} is past the end of the dump`);
  // 2.x declares the exact length; for 3.x it is a maximum and the file may end sooner.
  const end = Math.min(file.length, tableAddress + tableLength);
  return {
    ok: true,
    value: { entryPoint: file.subarray(0, length), table: file.subarray(tableAddress, end) },
  };
}
