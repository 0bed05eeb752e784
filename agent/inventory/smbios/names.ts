// Enumerated SMBIOS field values as DSP0134 names them (and dmidecode prints them).

/** names[code - first] or null when the code is out of the spec's range. */
export function lookup(names: readonly string[], code: number, first = 1): string | null {
  return names[code - first] ?? null;
}

/** Type 1 offset 0x18 (§7.2.2). */
export const WAKE_UP_TYPES = [
  "Reserved",
  "Other",
  "Unknown",
  "APM Timer",
  "Modem Ring",
  "LAN Remote",
  "Power Switch",
  "PCI PME#",
  "AC Power Restored",
] as const;

/** Type 2 offset 0x0D (§7.3.2). */
export const BOARD_TYPES = [
  "Unknown",
  "Other",
  "Server Blade",
  "Connectivity Switch",
  "System Management Module",
  "Processor Module",
  "I/O Module",
  "Memory Module",
  "Daughter Board",
  "Motherboard",
  "Processor+Memory Module",
  "Processor+I/O Module",
  "Interconnect Board",
] as const;

/** Type 3 offset 0x05 bits 6:0 (§7.4.1). */
export const CHASSIS_TYPES = [
  "Other",
  "Unknown",
  "Desktop",
  "Low Profile Desktop",
  "Pizza Box",
  "Mini Tower",
  "Tower",
  "Portable",
  "Laptop",
  "Notebook",
  "Hand Held",
  "Docking Station",
  "All In One",
  "Sub Notebook",
  "Space-saving",
  "Lunch Box",
  "Main Server Chassis",
  "Expansion Chassis",
  "Sub Chassis",
  "Bus Expansion Chassis",
  "Peripheral Chassis",
  "RAID Chassis",
  "Rack Mount Chassis",
  "Sealed-case PC",
  "Multi-system",
  "CompactPCI",
  "AdvancedTCA",
  "Blade",
  "Blade Enclosing",
  "Tablet",
  "Convertible",
  "Detachable",
  "IoT Gateway",
  "Embedded PC",
  "Mini PC",
  "Stick PC",
] as const;

/** Type 3 boot-up, power supply and thermal states (§7.4.2). */
export const CHASSIS_STATES = ["Other", "Unknown", "Safe", "Warning", "Critical", "Non-recoverable"] as const;

/** Type 3 offset 0x0C (§7.4.3). */
export const CHASSIS_SECURITY = [
  "Other",
  "Unknown",
  "None",
  "External Interface Locked Out",
  "External Interface Enabled",
] as const;

/** Type 4 offset 0x05 (§7.5.1). */
export const PROCESSOR_TYPES = [
  "Other",
  "Unknown",
  "Central Processor",
  "Math Processor",
  "DSP Processor",
  "Video Processor",
] as const;

/** Type 4 offset 0x18 bits 2:0 (§7.5). 5 and 6 are reserved. */
export const PROCESSOR_STATUS = [
  "Unknown",
  "Enabled",
  "Disabled By User",
  "Disabled By BIOS",
  "Idle",
  null,
  null,
  "Other",
] as const;

/** Type 9 offset 0x07 (§7.10.3). */
export const SLOT_USAGE = ["Other", "Unknown", "Available", "In Use", "Unavailable"] as const;

/** Type 16 offset 0x04 (§7.17.1); 0xA0.. are the PC-98 codes. */
export const MEMORY_ARRAY_LOCATIONS = [
  "Other",
  "Unknown",
  "System Board Or Motherboard",
  "ISA Add-on Card",
  "EISA Add-on Card",
  "PCI Add-on Card",
  "MCA Add-on Card",
  "PCMCIA Add-on Card",
  "Proprietary Add-on Card",
  "NuBus",
] as const;

/** Type 16 offset 0x05 (§7.17.2). */
export const MEMORY_ARRAY_USES = [
  "Other",
  "Unknown",
  "System Memory",
  "Video Memory",
  "Flash Memory",
  "Non-volatile RAM",
  "Cache Memory",
] as const;

/** Type 16 offset 0x06 (§7.17.3). */
export const MEMORY_ERROR_CORRECTION = [
  "Other",
  "Unknown",
  "None",
  "Parity",
  "Single-bit ECC",
  "Multi-bit ECC",
  "CRC",
] as const;

/** Type 17 offset 0x0E (§7.18.1). */
export const MEMORY_FORM_FACTORS = [
  "Other",
  "Unknown",
  "SIMM",
  "SIP",
  "Chip",
  "DIP",
  "ZIP",
  "Proprietary Card",
  "DIMM",
  "TSOP",
  "Row Of Chips",
  "RIMM",
  "SODIMM",
  "SRIMM",
  "FB-DIMM",
  "Die",
] as const;

/** Type 17 offset 0x12 (§7.18.2). */
export const MEMORY_TYPES = [
  "Other",
  "Unknown",
  "DRAM",
  "EDRAM",
  "VRAM",
  "SRAM",
  "RAM",
  "ROM",
  "Flash",
  "EEPROM",
  "FEPROM",
  "EPROM",
  "CDRAM",
  "3DRAM",
  "SDRAM",
  "SGRAM",
  "RDRAM",
  "DDR",
  "DDR2",
  "DDR2 FB-DIMM",
  "Reserved",
  "Reserved",
  "Reserved",
  "DDR3",
  "FBD2",
  "DDR4",
  "LPDDR",
  "LPDDR2",
  "LPDDR3",
  "LPDDR4",
  "Logical non-volatile device",
  "HBM",
  "HBM2",
  "DDR5",
  "LPDDR5",
] as const;

/** Type 41 offset 0x05 bits 6:0 (§7.42.2). */
export const ONBOARD_DEVICE_TYPES = [
  "Other",
  "Unknown",
  "Video",
  "SCSI Controller",
  "Ethernet",
  "Token Ring",
  "Sound",
  "PATA Controller",
  "SATA Controller",
  "SAS Controller",
] as const;
