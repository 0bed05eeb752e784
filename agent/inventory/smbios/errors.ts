// The SMBIOS parser's expected failures: a result keyed by `code` with the byte offset, never a throw.

/** Every code the parser can return, with what it means (a test checks each is documented here). */
export const SMBIOS_ERROR_CODES = {
  entry_point_truncated: "the entry point is shorter than its anchor or its own length field says",
  entry_point_unknown_anchor: "the entry point starts with neither _SM_ (SMBIOS 2.x) nor _SM3_ (SMBIOS 3.x)",
  entry_point_bad_checksum: "an entry point checksum does not sum to zero (offset: the checksum byte)",
  entry_point_bad_length: "the entry point's length field is outside what the spec allows",
  table_truncated: "the structure table ends inside a structure (header, formatted area or string set)",
  table_shorter_than_declared: "the table holds fewer bytes than the entry point declares (SMBIOS 2.x)",
  structure_bad_length: "a structure's length byte is below the 4-byte header, or below its type's minimum",
  no_end_of_table: "the table ends without an end-of-table (type 127) structure",
  dump_truncated: "a dmidecode --dump-bin file is shorter than its entry point says",
} as const;

export type SmbiosErrorCode = keyof typeof SMBIOS_ERROR_CODES;

export interface SmbiosError {
  code: SmbiosErrorCode;
  /** Byte offset of the problem: in the entry point for entry_point_* codes, else in the table. */
  offset: number;
  message: string;
}

export type SmbiosResult<T> = { ok: true; value: T } | { ok: false; error: SmbiosError };

export function fail(
  code: SmbiosErrorCode,
  offset: number,
  message: string,
): { ok: false; error: SmbiosError } {
  return { ok: false, error: { code, offset, message } };
}
