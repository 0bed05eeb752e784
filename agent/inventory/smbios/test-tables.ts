// Builds SMBIOS tables byte by byte for tests: structures with string sets, and 2.x/3.x entry points
// with valid checksums. Test support only (imported by *.test.ts).

/** One structure: type, handle, the formatted bytes after the 4-byte header, and its strings. */
export function structure(type: number, handle: number, body: number[], strings: string[] = []): Uint8Array {
  const head = [type, 4 + body.length, handle & 0xff, handle >> 8, ...body];
  const tail =
    strings.length === 0 ? [0, 0] : [...strings.flatMap((s) => [...Buffer.from(s, "latin1"), 0]), 0];
  return Uint8Array.from([...head, ...tail]);
}

export const endOfTable = (handle = 0xfeff): Uint8Array => structure(127, handle, []);

export function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

function fixChecksum(b: Uint8Array, at: number, from: number, length: number): void {
  b[at] = 0;
  let sum = 0;
  for (let i = from; i < from + length; i++) sum += b[i] ?? 0;
  b[at] = (256 - (sum & 0xff)) & 0xff;
}

/** A 3.x entry point for a table of `tableLength` bytes at `address`. */
export function entryPoint3(tableLength: number, major = 3, minor = 0, address = 0x20): Uint8Array {
  const b = new Uint8Array(0x18);
  b.set(Buffer.from("_SM3_", "latin1"), 0);
  b[0x06] = 0x18;
  b[0x07] = major;
  b[0x08] = minor;
  b[0x0a] = 1;
  new DataView(b.buffer).setUint32(0x0c, tableLength, true);
  new DataView(b.buffer).setUint32(0x10, address, true);
  fixChecksum(b, 0x05, 0, 0x18);
  return b;
}

/** A 2.x entry point for `count` structures in `tableLength` bytes at `address`. */
export function entryPoint2(tableLength: number, count: number, minor = 8, address = 0x20): Uint8Array {
  const b = new Uint8Array(0x1f);
  b.set(Buffer.from("_SM_", "latin1"), 0);
  b[0x05] = 0x1f;
  b[0x06] = 2;
  b[0x07] = minor;
  b.set(Buffer.from("_DMI_", "latin1"), 0x10);
  const view = new DataView(b.buffer);
  view.setUint16(0x16, tableLength, true);
  view.setUint32(0x18, address, true);
  view.setUint16(0x1c, count, true);
  b[0x1e] = 0x28;
  fixChecksum(b, 0x15, 0x10, 0x0f);
  fixChecksum(b, 0x04, 0, 0x1f);
  return b;
}

const le16 = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff];

/** A synthetic table with the types QEMU never emits: 9 (two slots) and 41 (an onboard NIC and SAS HBA). */
export function slotsAndOnboardTable(): Uint8Array {
  return concat([
    // Type 9 (SMBIOS 3.x layout up to 0x11): designation 1, PCIe x16 (0xB6), width 0x0D (x16),
    // usage In Use (4), length long (4), id 1, characteristics 0x0C/0x03, segment 0, bus 0x3b, dev 0 fn 0.
    structure(
      9,
      0x0900,
      [1, 0xb6, 0x0d, 4, 4, ...le16(1), 0x0c, 0x03, ...le16(0), 0x3b, 0x00],
      ["PCIE SLOT 1"],
    ),
    // Slot not wired to PCI: segment/bus/devfn all FF ("not applicable"), available (3).
    structure(
      9,
      0x0901,
      [1, 0xa5, 0x0b, 3, 3, ...le16(2), 0x04, 0x00, ...le16(0xffff), 0xff, 0xff],
      ["SLOT 2"],
    ),
    // Type 41: "NIC1", enabled Ethernet (0x80 | 5), instance 1, 0000:19:00.1 (devfn 0x01).
    structure(41, 0x2900, [1, 0x85, 1, ...le16(0), 0x19, 0x01], ["NIC1"]),
    // Disabled SAS controller (type 10), instance 2, 0001:5e:1f.7 (devfn 0xff).
    structure(41, 0x2901, [1, 0x0a, 2, ...le16(1), 0x5e, 0xff], ["Onboard SAS"]),
    endOfTable(),
  ]);
}
