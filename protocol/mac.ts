// MAC addresses and machine identity: the conventions of architecture.md, as pure functions.
import * as z from "zod";

const MAC_PATTERN = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** A MAC written lower-case with colons, e.g. `52:54:00:12:34:56`. Accepts `-` separators and upper case. */
export const MacAddress = z
  .string()
  .transform((raw) => raw.trim().toLowerCase().replaceAll("-", ":"))
  .pipe(z.string().regex(MAC_PATTERN, "expected a MAC address like 52:54:00:12:34:56"));
export type MacAddress = z.infer<typeof MacAddress>;

/** Normalises a MAC, or returns undefined when it is not one. */
export function normalizeMac(raw: string): MacAddress | undefined {
  const parsed = MacAddress.safeParse(raw);
  return parsed.success ? parsed.data : undefined;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Whether an SMBIOS system UUID identifies a machine. Firmware that has none reports all zeros or
 * all FF (SMBIOS 3.x §7.2.1: "not present" / "not set"), and some vendors ship such placeholders.
 */
export function isRealSmbiosUuid(uuid: string | undefined | null): uuid is string {
  if (!uuid) return false;
  const lower = uuid.trim().toLowerCase();
  if (!UUID_PATTERN.test(lower)) return false;
  const digits = lower.replaceAll("-", "");
  return !/^0+$/.test(digits) && !/^f+$/.test(digits);
}

/** A machine is its SMBIOS UUID when that is real, otherwise its boot NIC's MAC. */
export function machineIdentity(uuid: string | undefined | null, bootMac: MacAddress): string {
  return isRealSmbiosUuid(uuid) ? uuid.trim().toLowerCase() : bootMac;
}
