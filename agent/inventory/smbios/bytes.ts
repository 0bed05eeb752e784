// Little-endian reads that never throw: the callers check bounds first, these return 0 past the end.

export function u8(b: Uint8Array, at: number): number {
  return b[at] ?? 0;
}

export function u16(b: Uint8Array, at: number): number {
  return u8(b, at) | (u8(b, at + 1) << 8);
}

export function u32(b: Uint8Array, at: number): number {
  return (u16(b, at) + u16(b, at + 2) * 0x10000) >>> 0;
}

/** A QWORD as a number: exact up to 2^53, which every size and address we report stays under. */
export function u64(b: Uint8Array, at: number): number {
  return u32(b, at) + u32(b, at + 4) * 0x1_0000_0000;
}

/** True when the bytes [at, at+length) sum to 0 modulo 256 (every SMBIOS checksum). */
export function checksumOk(b: Uint8Array, at: number, length: number): boolean {
  let sum = 0;
  for (let i = at; i < at + length; i++) sum = (sum + u8(b, i)) & 0xff;
  return sum === 0;
}

export function ascii(b: Uint8Array, at: number, length: number): string {
  let text = "";
  for (let i = at; i < at + length && i < b.length; i++) text += String.fromCharCode(u8(b, i));
  return text;
}
