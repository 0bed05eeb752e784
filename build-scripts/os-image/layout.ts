// Pure parts of the OS image builder: the GPT layout and its sfdisk script, the UKI section
// addresses from `objdump -h`, and the apt mirror from deb822 sources. No I/O, so unit-tested.

export const MiB = 2 ** 20;
const SECTOR = 512;

/** GPT partition type GUIDs (UEFI spec §5.3.3; the Linux one is the Discoverable Partitions Spec's). */
export const PARTITION_TYPE = {
  esp: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
  linuxData: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
  linuxRootX86_64: "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709",
} as const;

export interface PartitionSpec {
  /** The GPT partition name (PARTNAME in the kernel's uevent, /dev/disk/by-partlabel/…). */
  name: string;
  sizeBytes: number;
  type: string;
  /** Fixed, so `root=PARTUUID=…` can be baked into the kernel command line. */
  uuid: string;
  /** GPT attribute names as sfdisk spells them, e.g. LegacyBIOSBootable (bit 2: gptmbr.bin boots it). */
  attrs?: string[];
}

export interface PlacedPartition extends PartitionSpec {
  startBytes: number;
}

export interface DiskLayout {
  /** The GPT disk GUID (fixed: same inputs, same image). */
  diskUuid: string;
  sizeBytes: number;
  partitions: PlacedPartition[];
}

function alignUp(value: number, to: number): number {
  return Math.ceil(value / to) * to;
}

/**
 * Places partitions one after another on 1 MiB boundaries, the first at 1 MiB (room for the
 * protective MBR and the primary GPT), and leaves 1 MiB at the end for the backup GPT (33 sectors).
 */
export function layoutDisk(diskUuid: string, partitions: readonly PartitionSpec[]): DiskLayout {
  let next = MiB;
  const placed = partitions.map((spec) => {
    if (spec.sizeBytes <= 0 || spec.sizeBytes % MiB !== 0)
      throw new Error(`partition ${spec.name}: size ${spec.sizeBytes} is not a positive multiple of 1 MiB`);
    const startBytes = alignUp(next, MiB);
    next = startBytes + spec.sizeBytes;
    return { ...spec, startBytes };
  });
  return { diskUuid, sizeBytes: next + MiB, partitions: placed };
}

/** The sfdisk script for a layout: explicit start and size (sectors), so the disk is exactly `layout`. */
export function sfdiskScript(layout: DiskLayout): string {
  const lines = ["label: gpt", `label-id: ${layout.diskUuid}`, "unit: sectors", ""];
  for (const part of layout.partitions) {
    const fields = [
      `start=${part.startBytes / SECTOR}`,
      `size=${part.sizeBytes / SECTOR}`,
      `type=${part.type}`,
      `uuid=${part.uuid}`,
      `name="${part.name}"`,
    ];
    if (part.attrs?.length) fields.push(`attrs="${part.attrs.join(" ")}"`);
    lines.push(fields.join(", "));
  }
  return lines.join("\n") + "\n";
}

export interface ObjdumpSection {
  name: string;
  size: number;
  vma: number;
}

/** Sections from `objdump -h`: lines like `  7 .sdmagic  00000034  0000000000019100  …`. */
export function parseObjdumpSections(text: string): ObjdumpSection[] {
  const sections: ObjdumpSection[] = [];
  for (const line of text.split("\n")) {
    const match = /^\s*\d+\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+[0-9a-f]+\s/i.exec(line);
    if (match?.[1] && match[2] && match[3])
      sections.push({ name: match[1], size: parseInt(match[2], 16), vma: parseInt(match[3], 16) });
  }
  return sections;
}

/** PE section alignment of systemd's stub (and what the PE loader maps on). */
const UKI_SECTION_ALIGN = 0x1000;

/**
 * VMAs for the sections a unified kernel image adds to systemd's EFI stub, in order: each starts
 * past the end of the previous one (the stub's own last section first), on a 4 KiB boundary.
 * Overlapping sections make the firmware refuse the image, so this is computed, not hard-coded.
 */
export function ukiSectionVmas(
  stub: readonly ObjdumpSection[],
  added: readonly { name: string; size: number }[],
): { name: string; vma: number }[] {
  if (stub.length === 0) throw new Error("objdump listed no sections in the EFI stub");
  let end = Math.max(...stub.map((s) => s.vma + s.size));
  return added.map(({ name, size }) => {
    const vma = alignUp(end, UKI_SECTION_ALIGN);
    end = vma + size;
    return { name, vma };
  });
}

/** The first `URIs:` value of a deb822 sources file: the mirror debootstrap should use. */
export function firstDeb822Uri(text: string): string | undefined {
  for (const line of text.split("\n")) {
    const match = /^URIs:\s*(\S+)/i.exec(line);
    if (match?.[1]) return match[1];
  }
  return undefined;
}
