// The DHCP lease file initramfs/udhcpc.script writes for each interface: where it lives and how to read
// it. The loader reads it after udhcpc; the full inventory reads the boot NIC's for its network location.
import { join } from "node:path";

/** Where initramfs/udhcpc.script writes (its `lease_dir`), one `lease-<interface>` file per interface. */
export const LEASE_DIR = "/run/bootwright";

export interface Lease {
  interface: string;
  ip: string;
  prefixLength: number | null;
  router: string | null;
  dns: string[];
  dhcpServer: string | null;
}

/** The lease file of `iface` under `root` (tests point it elsewhere). */
export function leaseFile(iface: string, root = "/"): string {
  return join(root, LEASE_DIR, `lease-${iface}`);
}

/** Parses the `key=value` lines the lease script writes. */
export function parseLease(text: string): Lease | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1).trim());
  }
  const ip = fields.get("ip");
  const iface = fields.get("interface");
  if (!ip || !iface) return undefined;
  const mask = Number(fields.get("mask"));
  return {
    interface: iface,
    ip,
    prefixLength: Number.isInteger(mask) && mask > 0 ? mask : null,
    router: fields.get("router")?.split(" ")[0] || null,
    dns: (fields.get("dns") ?? "").split(" ").filter(Boolean),
    dhcpServer: fields.get("serverid") || null,
  };
}
