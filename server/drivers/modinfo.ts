// What a kernel module says about itself: the `.modinfo` section of its ELF file, read without kmod's
// `modinfo` (the server may run where kmod is not installed, and one read beats a process per module).

/** The key=value strings of a module's .modinfo section, e.g. firmware=bnx2x/bnx2x-e2-7.13.21.0.fw. */
export function readModinfo(elf: Buffer): { key: string; value: string }[] {
  const section = modinfoSection(elf);
  if (!section) return [];
  return section
    .toString("latin1")
    .split("\0")
    .flatMap((entry) => {
      const eq = entry.indexOf("=");
      return eq > 0 ? [{ key: entry.slice(0, eq), value: entry.slice(eq + 1) }] : [];
    });
}

/** The firmware files a module may ask for (modinfo's `firmware:` lines), in the order it lists them. */
export function moduleFirmware(elf: Buffer): string[] {
  return readModinfo(elf)
    .filter((entry) => entry.key === "firmware")
    .map((entry) => entry.value);
}

/** ELF64 little-endian (x86-64 modules): the section headers, then the one named .modinfo. */
function modinfoSection(elf: Buffer): Buffer | null {
  const ELF_MAGIC = 0x464c457f;
  if (elf.length < 64 || elf.readUInt32LE(0) !== ELF_MAGIC || elf[4] !== 2 || elf[5] !== 1) return null;
  const sectionHeaders = Number(elf.readBigUInt64LE(0x28));
  const headerSize = elf.readUInt16LE(0x3a);
  const count = elf.readUInt16LE(0x3c);
  const namesIndex = elf.readUInt16LE(0x3e);
  const header = (i: number): { name: number; offset: number; size: number } => {
    const at = sectionHeaders + i * headerSize;
    return {
      name: elf.readUInt32LE(at),
      offset: Number(elf.readBigUInt64LE(at + 0x18)),
      size: Number(elf.readBigUInt64LE(at + 0x20)),
    };
  };
  if (sectionHeaders + count * headerSize > elf.length || namesIndex >= count) return null;
  const names = header(namesIndex);
  for (let i = 0; i < count; i++) {
    const { name, offset, size } = header(i);
    const nameAt = names.offset + name;
    const end = elf.indexOf(0, nameAt);
    if (end === -1 || elf.toString("latin1", nameAt, end) !== ".modinfo") continue;
    return offset + size <= elf.length ? elf.subarray(offset, offset + size) : null;
  }
  return null;
}
