// Listens for the switch's LLDP frames on every NIC while the loader gets its lease and inventory, for
// the network location (seed 003's "network location identifier"). Bounded: a switch with LLDP fast
// start sends within a second of link-up; one that waits for its 30 s interval is missed, not waited for.
// /init starts the listener on the NICs it sees before Node starts (initramfs/init), so the wait runs
// beside Node's start: the loader reads what it heard, and listens itself only on NICs that came later.
import { readFile } from "node:fs/promises";
import type { LldpNeighbour, NicInfo } from "../../protocol/index.js";
import { parseListenerOutput } from "../inventory/lldp.js";
import { run } from "../shared/run-command.js";
import { setTimeout as sleep } from "node:timers/promises";
import { say } from "./console.js";

/** Built from initramfs/lldp-listen.c by build-scripts/build-initramfs.ts. */
export const LLDP_LISTENER = "/usr/lib/bootwright/lldp-listen";

/** Where /init's listener leaves its interfaces (lldp.nics), its output (lldp.out) and exit status. */
export const EARLY_LLDP_DIR = "/run/bootwright";

/**
 * The neighbours heard within `waitMs` (each NIC is set up first: a down NIC hears nothing); an empty
 * list when waiting is off, nothing came, or the listener failed (said on the console, never fatal).
 */
export async function listenForLldp(
  nics: readonly NicInfo[],
  waitMs: number,
  earlyDir = EARLY_LLDP_DIR,
): Promise<LldpNeighbour[]> {
  if (waitMs <= 0 || nics.length === 0) return [];
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  const early = await readText(`${earlyDir}/lldp.nics`).then((text) => text?.trim().split(/\s+/) ?? []);
  const earlyNics = nics.filter((nic) => early.includes(nic.name));
  const laterNics = nics.filter((nic) => !early.includes(nic.name));
  const heard = (
    await Promise.all([
      earlyNics.length > 0 ? heardEarly(earlyDir, seconds) : [],
      laterNics.length > 0 ? listen(laterNics, seconds) : [],
    ])
  ).flat();
  for (const n of heard)
    say("ok", "LLDP neighbour", {
      interface: n.interface,
      switch: n.systemName ?? n.chassisId,
      port: n.portId,
      vlan: n.vlan ?? undefined,
    });
  if (heard.length === 0) say("ok", "no LLDP heard", { waitedSeconds: seconds });
  return heard;
}

/** Our own listener on `nics`, for `seconds`. */
async function listen(nics: readonly NicInfo[], seconds: number): Promise<LldpNeighbour[]> {
  try {
    for (const nic of nics) await run("ip", ["link", "set", "dev", nic.name, "up"], { timeoutMs: 5_000 });
    const { stdout } = await run(LLDP_LISTENER, [String(seconds), ...nics.map((nic) => nic.name)], {
      timeoutMs: seconds * 1000 + 5_000,
    });
    return parseListenerOutput(stdout);
  } catch (err) {
    say("warn", "LLDP listener failed", { reason: err instanceof Error ? err.message : String(err) });
    return [];
  }
}

/** What /init's listener heard: waits for it to finish (it started before us, so within `seconds`). */
async function heardEarly(dir: string, seconds: number): Promise<LldpNeighbour[]> {
  const deadline = Date.now() + seconds * 1000 + 5_000;
  for (;;) {
    const output = await readText(`${dir}/lldp.out`);
    if (output !== undefined) {
      const status = (await readText(`${dir}/lldp.status`))?.trim();
      if (status === "0") return parseListenerOutput(output);
      const stderr = (await readText(`${dir}/lldp.err`))?.trim();
      say("warn", "LLDP listener failed", { reason: `exit status ${status}: ${stderr || "no message"}` });
      return [];
    }
    if (Date.now() > deadline) {
      say("warn", "LLDP listener failed", {
        reason: `no answer from /init's listener after ${seconds + 5} s`,
      });
      return [];
    }
    await sleep(100);
  }
}

async function readText(path: string): Promise<string | undefined> {
  return readFile(path, "utf8").catch(() => undefined);
}
