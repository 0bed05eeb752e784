// Decoders for SMBIOS type 9 (System Slots, DSP0134 §7.10) and 41 (Onboard Devices Extended, §7.42):
// both name a PCI segment/bus/device/function, which is how a slot or onboard NIC maps to /sys.
import { u16, u8 } from "./bytes.js";
import { lookup, ONBOARD_DEVICE_TYPES, SLOT_USAGE } from "./names.js";
import { str, type SmbiosStructure } from "./table.js";

/** "ssss:bb:dd.f" as Linux names PCI functions; null when the firmware says "not applicable" (all FF). */
export function pciAddress(segment: number, bus: number, devfn: number): string | null {
  if (segment === 0xffff && bus === 0xff && devfn === 0xff) return null;
  const hex = (n: number, w: number): string => n.toString(16).padStart(w, "0");
  return `${hex(segment, 4)}:${hex(bus, 2)}:${hex(devfn >> 3, 2)}.${(devfn & 7).toString(16)}`;
}

export interface SystemSlot {
  handle: number;
  designation: string | null;
  /** 0x05 slot type code (e.g. 0xA5 PCI Express); the name table is long and policy needs the code. */
  typeCode: number;
  /** 0x06 data bus width code. */
  busWidthCode: number;
  currentUsage: string | null;
  slotId: number;
  /** 0x0D-0x10 (SMBIOS 2.6). */
  busAddress: string | null;
}

export function decodeSystemSlot(s: SmbiosStructure): SystemSlot {
  const d = s.data;
  return {
    handle: s.handle,
    designation: str(s, 0x04),
    typeCode: u8(d, 0x05),
    busWidthCode: u8(d, 0x06),
    currentUsage: lookup(SLOT_USAGE, u8(d, 0x07)),
    slotId: u16(d, 0x09),
    busAddress: s.length >= 0x11 ? pciAddress(u16(d, 0x0d), u8(d, 0x0f), u8(d, 0x10)) : null,
  };
}

export interface OnboardDevice {
  handle: number;
  referenceDesignation: string | null;
  type: string | null;
  enabled: boolean;
  typeInstance: number;
  busAddress: string | null;
}

export function decodeOnboardDevice(s: SmbiosStructure): OnboardDevice {
  const d = s.data;
  return {
    handle: s.handle,
    referenceDesignation: str(s, 0x04),
    type: lookup(ONBOARD_DEVICE_TYPES, u8(d, 0x05) & 0x7f),
    enabled: (u8(d, 0x05) & 0x80) !== 0,
    typeInstance: u8(d, 0x06),
    busAddress: pciAddress(u16(d, 0x07), u8(d, 0x09), u8(d, 0x0a)),
  };
}
