// Walks the SMBIOS structure table (/sys/firmware/dmi/tables/DMI): each structure is a formatted area
// (type, length, handle, fields) followed by its string set, ended by a double NUL (DSP0134 §6.1).
// Bounded: every step advances by at least 6 bytes, so the walk ends after table.length / 6 steps.
import { u16, u8 } from "./bytes.js";
import { fail, type SmbiosResult } from "./errors.js";

export interface SmbiosStructure {
  type: number;
  handle: number;
  /** The formatted area's length (the length byte): fields past it are absent (older spec versions). */
  length: number;
  /** Offset of the structure in the table. */
  offset: number;
  /** The formatted area, header included: field offsets in the spec index into it. */
  data: Uint8Array;
  /** The string set; strings[0] is string number 1. */
  strings: string[];
}

export const END_OF_TABLE = 127;

/** Strings are "ASCII" but firmware writes anything; decode bytes as latin1 so no byte is lost or throws. */
function latin1(b: Uint8Array, from: number, to: number): string {
  let text = "";
  for (let i = from; i < to; i++) text += String.fromCharCode(u8(b, i));
  return text;
}

export interface WalkLimits {
  /** SMBIOS 2.x: the declared structure count; stop after that many (dmidecode does). */
  structureCount: number | null;
  /** SMBIOS 3.x requires an end-of-table structure; 2.x tables may end at the count instead. */
  requireEnd: boolean;
}

export function walkStructures(table: Uint8Array, limits: WalkLimits): SmbiosResult<SmbiosStructure[]> {
  const structures: SmbiosStructure[] = [];
  let at = 0;
  while (limits.structureCount === null || structures.length < limits.structureCount) {
    if (at >= table.length) {
      if (limits.requireEnd || limits.structureCount !== null)
        return fail(
          "no_end_of_table",
          at,
          `table ends after ${structures.length} structures with no type 127`,
        );
      break;
    }
    if (at + 4 > table.length)
      return fail(
        "table_truncated",
        at,
        `structure header at ${at} runs past the table end (${table.length})`,
      );
    const type = u8(table, at);
    const length = u8(table, at + 1);
    if (length < 4)
      return fail("structure_bad_length", at + 1, `structure at ${at} has length ${length} (< 4)`);
    if (at + length > table.length)
      return fail("table_truncated", at, `structure type ${type} at ${at} needs ${length} bytes`);
    // The string set: NUL-terminated strings, then one more NUL; with no strings, two NULs.
    const strings: string[] = [];
    let p = at + length;
    if (u8(table, p) === 0 && p + 1 < table.length && u8(table, p + 1) === 0) {
      p += 2;
    } else {
      for (;;) {
        const start = p;
        while (p < table.length && u8(table, p) !== 0) p++;
        if (p >= table.length)
          return fail(
            "table_truncated",
            start,
            `string set of structure type ${type} at ${at} is unterminated`,
          );
        strings.push(latin1(table, start, p));
        p++;
        if (p >= table.length)
          return fail("table_truncated", p, `string set of structure type ${type} at ${at} has no final NUL`);
        if (u8(table, p) === 0) {
          p++;
          break;
        }
      }
    }
    structures.push({
      type,
      handle: u16(table, at + 2),
      length,
      offset: at,
      data: table.subarray(at, at + length),
      strings,
    });
    at = p;
    if (type === END_OF_TABLE) return { ok: true, value: structures };
  }
  return { ok: true, value: structures };
}

/** String number `n` of a structure (1-based, 0 = none): null when 0, absent or past the set. */
export function str(s: SmbiosStructure, fieldOffset: number): string | null {
  if (fieldOffset >= s.length) return null;
  const n = u8(s.data, fieldOffset);
  return n === 0 ? null : (s.strings[n - 1] ?? null);
}
