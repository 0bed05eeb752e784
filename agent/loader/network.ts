// Brings up the boot NIC with DHCP (busybox udhcpc + our lease script), then the others in the background.
import { readFile } from "node:fs/promises";
import type { MacAddress, NicInfo } from "../../protocol/index.js";
import { readNics } from "../inventory/minimal.js";
import { backoffDelayMs, DEFAULT_BACKOFF, sleep } from "./backoff.js";
import { say } from "./console.js";
import { CommandError, run } from "./run-command.js";

/** Written by initramfs/udhcpc.script on every lease; the loader reads it back. */
export const LEASE_DIR = "/run/bootwright";
const UDHCPC_SCRIPT = "/etc/bootwright/udhcpc.script";

export interface Lease {
  interface: string;
  ip: string;
  prefixLength: number | null;
  router: string | null;
  dns: string[];
  dhcpServer: string | null;
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

/** NICs appear a moment after their driver loads: wait for them (and for the boot NIC, when named). */
export async function waitForNics(bootMac: MacAddress | undefined, timeoutMs: number): Promise<NicInfo[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const nics = await readNics("/");
    const ready = bootMac ? nics.some((nic) => nic.mac === bootMac) : nics.length > 0;
    if (ready || Date.now() > deadline) return nics;
    await sleep(200);
  }
}

/** One DHCP attempt on one interface: about 10 s of DISCOVERs, then a CommandError. */
export async function dhcpOnce(iface: string, signal?: AbortSignal): Promise<Lease> {
  const opts = { timeoutMs: 30_000, ...(signal ? { signal } : {}) };
  await run("ip", ["link", "set", "dev", iface, "up"], opts);
  // -n: exit if no lease; -q: exit once bound; -f: foreground; -t/-T: 5 discovers, 2 s apart.
  await run("udhcpc", ["-i", iface, "-s", UDHCPC_SCRIPT, "-n", "-q", "-f", "-t", "5", "-T", "2"], opts);
  const lease = parseLease(await readFile(`${LEASE_DIR}/lease-${iface}`, "utf8"));
  if (!lease) throw new Error(`udhcpc on ${iface} succeeded but wrote no usable lease`);
  return lease;
}

function describe(err: unknown): string {
  if (err instanceof CommandError)
    return err.exitCode === null ? err.message : `no DHCP lease (${err.stderrTail || "no offer"})`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Gets the boot NIC a lease, retrying with capped backoff until it does. Without BOOTIF (a direct
 * boot), the first NIC to get a lease becomes the boot NIC. Never returns without a lease.
 */
export async function bringUpBootNic(
  nics: NicInfo[],
  bootMac: MacAddress | undefined,
): Promise<{ nic: NicInfo; lease: Lease }> {
  const candidates = bootMac ? nics.filter((nic) => nic.mac === bootMac) : nics;
  for (let attempt = 1; ; attempt++) {
    for (const nic of candidates) {
      say("step", "DHCP", { interface: nic.name, mac: nic.mac, attempt });
      try {
        const lease = await dhcpOnce(nic.name);
        say("ok", "lease", {
          interface: nic.name,
          ip: lease.ip,
          router: lease.router,
          dhcpServer: lease.dhcpServer,
        });
        return { nic, lease };
      } catch (err) {
        say("fail", "DHCP failed", { interface: nic.name, reason: describe(err) });
      }
    }
    const wait = backoffDelayMs(attempt, DEFAULT_BACKOFF);
    say("warn", "no lease on any boot candidate, retrying", { inSeconds: (wait / 1000).toFixed(1) });
    await sleep(wait);
  }
}

/** The other NICs: one DHCP attempt each, in the background, so they never delay the inventory post. */
export function bringUpOtherNics(nics: NicInfo[], bootNic: NicInfo): void {
  for (const nic of nics) {
    if (nic.name === bootNic.name) continue;
    dhcpOnce(nic.name).then(
      (lease) => {
        say("ok", "lease", { interface: nic.name, ip: lease.ip });
      },
      (err: unknown) => {
        say("warn", "no lease on secondary NIC", { interface: nic.name, reason: describe(err) });
      },
    );
  }
}
