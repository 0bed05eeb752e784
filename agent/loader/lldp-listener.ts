// Listens for the switch's LLDP frames on every NIC while the loader gets its lease and inventory, for
// the network location (seed 003's "network location identifier"). Bounded: a switch with LLDP fast
// start sends within a second of link-up; one that waits for its 30 s interval is missed, not waited for.
import type { LldpNeighbour, NicInfo } from "../../protocol/index.js";
import { parseListenerOutput } from "../inventory/lldp.js";
import { run } from "../shared/run-command.js";
import { say } from "./console.js";

/** Built from initramfs/lldp-listen.c by build-scripts/build-initramfs.ts. */
export const LLDP_LISTENER = "/usr/lib/bootwright/lldp-listen";

/**
 * The neighbours heard within `waitMs` (each NIC is set up first: a down NIC hears nothing); an empty
 * list when waiting is off, nothing came, or the listener failed (said on the console, never fatal).
 */
export async function listenForLldp(nics: readonly NicInfo[], waitMs: number): Promise<LldpNeighbour[]> {
  if (waitMs <= 0 || nics.length === 0) return [];
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  try {
    for (const nic of nics) await run("ip", ["link", "set", "dev", nic.name, "up"], { timeoutMs: 5_000 });
    const { stdout } = await run(LLDP_LISTENER, [String(seconds), ...nics.map((nic) => nic.name)], {
      timeoutMs: seconds * 1000 + 5_000,
    });
    const heard = parseListenerOutput(stdout);
    for (const n of heard)
      say("ok", "LLDP neighbour", {
        interface: n.interface,
        switch: n.systemName ?? n.chassisId,
        port: n.portId,
        vlan: n.vlan ?? undefined,
      });
    if (heard.length === 0) say("ok", "no LLDP heard", { waitedSeconds: seconds });
    return heard;
  } catch (err) {
    say("warn", "LLDP listener failed", { reason: err instanceof Error ? err.message : String(err) });
    return [];
  }
}
