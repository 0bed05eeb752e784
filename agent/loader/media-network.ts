// Network for a machine booted from rescue media: no BOOTIF says which NIC leads to the server, so every
// NIC is tried in turn (DHCP, or the media's static address) until the server answers through one.
import { writeFile } from "node:fs/promises";
import type { MediaStaticAddress, NicInfo, OnlineMediaSettings } from "../../protocol/index.js";
import { backoffDelayMs, DEFAULT_BACKOFF, sleep } from "../shared/backoff.js";
import { httpRequest } from "../shared/http-client.js";
import { pinServerCa } from "../shared/pinned-tls.js";
import { run } from "../shared/run-command.js";
import { say } from "./console.js";
import { dhcpOnce } from "./network.js";

const OPTS = { timeoutMs: 15_000 };
const PROBE_TIMEOUT_MS = 5_000;

async function configureStatic(iface: string, fixed: MediaStaticAddress): Promise<void> {
  await run("ip", ["link", "set", "dev", iface, "up"], OPTS);
  await run("ip", ["addr", "add", `${fixed.address}/${String(fixed.prefix)}`, "dev", iface], OPTS);
  await run("ip", ["route", "replace", "default", "via", fixed.gateway, "dev", iface], OPTS);
  await writeFile("/etc/resolv.conf", fixed.dns.map((dns) => `nameserver ${dns}\n`).join(""));
}

/**
 * Whether the server answers: any HTTP answer will do (the route need not exist); under TLS with a pin,
 * its certificate must chain to the pinned CA (then the pinned CA's PEM is returned).
 */
async function serverAnswers(settings: OnlineMediaSettings): Promise<{ caPem?: string } | null> {
  try {
    if (settings.ca) return { caPem: await pinServerCa(settings.server, settings.ca) };
    await httpRequest(`${settings.server}/boot.ipxe`, { timeoutMs: PROBE_TIMEOUT_MS });
    return {};
  } catch {
    return null;
  }
}

/** Brings up one NIC after another until the server answers through one; never returns without one. */
export async function connectFromMedia(
  nics: readonly NicInfo[],
  settings: OnlineMediaSettings,
): Promise<{ nic: NicInfo; caPem?: string }> {
  for (let attempt = 1; ; attempt++) {
    for (const nic of nics) {
      say("step", settings.static ? "static address" : "DHCP", {
        interface: nic.name,
        mac: nic.mac,
        attempt,
      });
      try {
        if (settings.static) await configureStatic(nic.name, settings.static);
        else await dhcpOnce(nic.name);
      } catch (err) {
        say("warn", "no address on this NIC", {
          interface: nic.name,
          reason: err instanceof Error ? err.message.split("\n")[0] : String(err),
        });
        continue;
      }
      const answer = await serverAnswers(settings);
      if (answer) {
        say("ok", "server answers", { interface: nic.name, server: settings.server });
        return { nic, ...answer };
      }
      say("warn", "server does not answer through this NIC", {
        interface: nic.name,
        server: settings.server,
      });
      // Its address (and the routes through it) must not steer the next NIC's traffic.
      await run("ip", ["addr", "flush", "dev", nic.name], OPTS).catch(() => undefined);
    }
    const wait = backoffDelayMs(attempt, DEFAULT_BACKOFF);
    say("warn", "the server answered on no NIC, retrying", { inSeconds: (wait / 1000).toFixed(1) });
    await sleep(wait);
  }
}
