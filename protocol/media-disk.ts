// The bytes that find a media's ESP (pure): the MBR's partition table and a FAT boot sector's label. The
// loader looks for its media with them; `bootwright media import` finds the stick's reports.

export const SECTOR = 512;
/** MBR partition type of an EFI system partition. */
export const ESP_TYPE = 0xef;

export interface MbrPartition {
  /** 1-4, as the kernel numbers them. */
  number: number;
  type: number;
  startLba: number;
  sectors: number;
}

/** The four primary entries of an MBR (empty ones left out); [] when sector 0 has no 0x55AA signature. */
export function parseMbr(sector0: Uint8Array): MbrPartition[] {
  if (sector0.length < SECTOR || sector0[510] !== 0x55 || sector0[511] !== 0xaa) return [];
  const view = new DataView(sector0.buffer, sector0.byteOffset, SECTOR);
  const parts: MbrPartition[] = [];
  for (let i = 0; i < 4; i++) {
    const at = 446 + i * 16;
    const type = view.getUint8(at + 4);
    const startLba = view.getUint32(at + 8, true);
    const sectors = view.getUint32(at + 12, true);
    if (type !== 0 && sectors > 0) parts.push({ number: i + 1, type, startLba, sectors });
  }
  return parts;
}

/** A FAT boot sector's volume label (trimmed), or null when it has none or is not FAT. */
export function fatVolumeLabel(bootSector: Uint8Array): string | null {
  if (bootSector.length < SECTOR || bootSector[510] !== 0x55 || bootSector[511] !== 0xaa) return null;
  const view = new DataView(bootSector.buffer, bootSector.byteOffset, SECTOR);
  // FAT32 has no 16-bit FAT size (BPB_FATSz16 = 0) and its extended BPB 28 bytes further on.
  const ebpb = view.getUint16(0x16, true) === 0 ? 0x40 : 0x24;
  if (bootSector[ebpb + 2] !== 0x29) return null;
  const label = new TextDecoder("latin1").decode(bootSector.subarray(ebpb + 7, ebpb + 18)).trim();
  return label === "" || label === "NO NAME" ? null : label;
}
