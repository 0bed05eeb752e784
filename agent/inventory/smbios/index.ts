// parseSmbios: the kernel's two DMI files (or a dmidecode dump, split by fromDumpBin) → decoded
// structures of the types the inventory uses. Pure; expected failures are results (style.md §8).
import { parseEntryPoint, type SmbiosEntryPoint } from "./entry-point.js";
import { fail, type SmbiosResult } from "./errors.js";
import { decodeMemoryArray, decodeMemoryDevice, type MemoryArray, type MemoryDevice } from "./memory.js";
import { decodeProcessor, type Processor } from "./processor.js";
import { decodeOnboardDevice, decodeSystemSlot, type OnboardDevice, type SystemSlot } from "./slots.js";
import {
  decodeBaseboard,
  decodeBios,
  decodeChassis,
  decodeOemStrings,
  decodeSystem,
  type Baseboard,
  type BiosInfo,
  type Chassis,
  type SystemIdentity,
} from "./system.js";
import { walkStructures, type SmbiosStructure } from "./table.js";

export { SMBIOS_ERROR_CODES, type SmbiosError, type SmbiosErrorCode, type SmbiosResult } from "./errors.js";
export { fromDumpBin, toDumpBin } from "./dump-file.js";
export type { SmbiosEntryPoint } from "./entry-point.js";
export type { MemoryArray, MemoryDevice } from "./memory.js";
export type { Processor } from "./processor.js";
export type { OnboardDevice, SystemSlot } from "./slots.js";
export type { Baseboard, BiosInfo, Chassis, SystemIdentity } from "./system.js";

export interface Smbios {
  entryPoint: SmbiosEntryPoint;
  /** "major.minor" of the spec the table follows. */
  version: string;
  /** Every structure's type, handle and length, in table order (types we do not decode included). */
  structures: { type: number; handle: number; length: number }[];
  bios: BiosInfo | null;
  system: SystemIdentity | null;
  baseboards: Baseboard[];
  chassis: Chassis[];
  processors: Processor[];
  slots: SystemSlot[];
  oemStrings: string[];
  memoryArrays: MemoryArray[];
  memoryDevices: MemoryDevice[];
  onboardDevices: OnboardDevice[];
}

/**
 * The smallest formatted length each decoded type has in its first spec version (DSP0134 §7): a
 * shorter structure is corrupt, and decoding it would read fields that are not there.
 */
const MIN_LENGTH: Readonly<Record<number, number>> = {
  0: 0x12,
  1: 0x08,
  2: 0x08,
  3: 0x09,
  4: 0x1a,
  9: 0x0c,
  11: 0x05,
  16: 0x0f,
  17: 0x15,
  41: 0x0b,
};

export function parseSmbios(entryPointBytes: Uint8Array, table: Uint8Array): SmbiosResult<Smbios> {
  const entry = parseEntryPoint(entryPointBytes);
  if (!entry.ok) return entry;
  const ep = entry.value;
  if (ep.anchor === "_SM_" && table.length < ep.tableLength)
    return fail(
      "table_shorter_than_declared",
      table.length,
      `table is ${table.length} bytes, the entry point declares ${ep.tableLength}`,
    );
  // 3.x gives a maximum size: look no further than it (the sysfs file may be exactly that long).
  const bytes = table.subarray(0, ep.tableLength);
  const walked = walkStructures(bytes, {
    structureCount: ep.structureCount,
    requireEnd: ep.anchor === "_SM3_",
  });
  if (!walked.ok) return walked;

  const out: Smbios = {
    entryPoint: ep,
    version: `${ep.major}.${ep.minor}`,
    structures: walked.value.map(({ type, handle, length }) => ({ type, handle, length })),
    bios: null,
    system: null,
    baseboards: [],
    chassis: [],
    processors: [],
    slots: [],
    oemStrings: [],
    memoryArrays: [],
    memoryDevices: [],
    onboardDevices: [],
  };
  for (const s of walked.value) {
    const min = MIN_LENGTH[s.type];
    if (min !== undefined && s.length < min)
      return fail(
        "structure_bad_length",
        s.offset + 1,
        `type ${s.type} structure at ${s.offset} is ${s.length} bytes (minimum ${min})`,
      );
    decodeInto(out, s, ep);
  }
  return { ok: true, value: out };
}

function decodeInto(out: Smbios, s: SmbiosStructure, ep: SmbiosEntryPoint): void {
  switch (s.type) {
    case 0:
      out.bios ??= decodeBios(s);
      break;
    case 1:
      out.system ??= decodeSystem(s, ep);
      break;
    case 2:
      out.baseboards.push(decodeBaseboard(s));
      break;
    case 3:
      out.chassis.push(decodeChassis(s));
      break;
    case 4:
      out.processors.push(decodeProcessor(s));
      break;
    case 9:
      out.slots.push(decodeSystemSlot(s));
      break;
    case 11:
      out.oemStrings.push(...decodeOemStrings(s));
      break;
    case 16:
      out.memoryArrays.push(decodeMemoryArray(s));
      break;
    case 17:
      out.memoryDevices.push(decodeMemoryDevice(s));
      break;
    case 41:
      out.onboardDevices.push(decodeOnboardDevice(s));
      break;
    default:
      break;
  }
}
