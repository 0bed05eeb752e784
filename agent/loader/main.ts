// The initramfs entry (run by /init): network up, inventory, post, then ask the server what to do.
import { readFile } from "node:fs/promises";
import { gatherMinimalInventory } from "../inventory/minimal.js";
import { sleep } from "./backoff.js";
import { say } from "./console.js";
import { loaderSettings } from "./kernel-cmdline.js";
import { bringUpBootNic, bringUpOtherNics, waitForNics } from "./network.js";
import { fetchNextAction, postInventory, withRetry } from "./server-client.js";

const NIC_WAIT_MS = 15_000;
const IDLE_FOREVER_MS = 60_000;

async function main(): Promise<void> {
  const settings = loaderSettings(await readFile("/proc/cmdline", "utf8"));
  say("step", "bootwright loader starting", {
    server: settings.serverUrl,
    bootMac: settings.bootMac,
    node: process.version,
  });
  if (!settings.serverUrl) {
    // Nothing to talk to: say so once a minute rather than exit (PID 1 would restart us in a loop).
    for (;;) {
      say("fail", "no bootwright.server= on the kernel command line; cannot enroll");
      await sleep(IDLE_FOREVER_MS);
    }
  }

  const nics = await waitForNics(settings.bootMac, NIC_WAIT_MS);
  say("ok", "network interfaces", { nics: nics.map((nic) => `${nic.name}=${nic.mac}`).join(",") || "none" });
  if (settings.bootMac && !nics.some((nic) => nic.mac === settings.bootMac)) {
    say("warn", "the BOOTIF NIC is not present; trying every NIC", { bootMac: settings.bootMac });
  }
  const bootCandidates =
    settings.bootMac && nics.some((nic) => nic.mac === settings.bootMac) ? settings.bootMac : undefined;
  const { nic: bootNic } = await bringUpBootNic(nics, bootCandidates);
  bringUpOtherNics(nics, bootNic);

  say("step", "gathering inventory");
  const inventory = await gatherMinimalInventory("/", bootNic.mac);
  say("ok", "inventory", {
    manufacturer: inventory.system.manufacturer,
    product: inventory.system.product,
    serial: inventory.system.serial,
    uuid: inventory.system.uuid,
    cpus: inventory.cpu.logicalCount,
    memoryMiB: Math.round(inventory.memoryBytes / 2 ** 20),
    disks: inventory.disks.map((disk) => `${disk.name}:${disk.sizeBytes}`).join(","),
  });

  const serverUrl = settings.serverUrl;
  say("step", "posting inventory", { to: `${serverUrl}/v1/inventory` });
  const accepted = await withRetry("POST /v1/inventory", () => postInventory(serverUrl, inventory));
  say("ok", "enrolled", { machine: accepted.machineId, category: accepted.category });

  // Ask what to do next until told otherwise. Only "wait" exists today (command queues come next).
  let lastAction = "";
  for (;;) {
    const next = await withRetry("GET next action", () => fetchNextAction(serverUrl, accepted.machineId));
    if (next.action !== lastAction) say("ok", "server says", { action: next.action });
    lastAction = next.action;
    await sleep(next.pollAfterMs);
  }
}

main().catch((err: unknown) => {
  say("fail", "loader crashed", { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exitCode = 1;
});
