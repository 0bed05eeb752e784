// Brings up the boot NIC with DHCP (busybox udhcpc + our lease script), then the others in the background.
import { readFile } from "node:fs/promises";
import { hasCode, type MacAddress, type NicInfo } from "../../protocol/index.js";
import { readNics } from "../inventory/minimal.js";
import { backoffDelayMs, DEFAULT_BACKOFF, sleep } from "../shared/backoff.js";
import { leaseFile, parseLease, type Lease } from "../shared/dhcp-lease.js";
import { run } from "../shared/run-command.js";
import { say } from "./console.js";

const UDHCPC_SCRIPT = "/etc/bootwright/udhcpc.script";

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
  const lease = parseLease(await readFile(leaseFile(iface), "utf8"));
  if (!lease) throw new Error(`udhcpc on ${iface} succeeded but wrote no usable lease`);
  return lease;
}

function describe(err: unknown): string {
  if (hasCode(err, "command_failed"))
    return err.context.exitCode === null
      ? err.message
      : `no DHCP lease (${err.context.stderrTail || "no offer"})`;
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
