// The initramfs entry (run by /init): network up, inventory, post, then ask the server what to do.
import { readFile } from "node:fs/promises";
import type {
  CommandResult,
  CommandResultAccepted,
  Inventory,
  InventoryAccepted,
  LeasedCommand,
  MacAddress,
  NextAction,
} from "../../protocol/index.js";
import { gatherFullInventory, type InventoryExtras } from "../inventory/full.js";
import { sleep } from "../shared/backoff.js";
import { say } from "./console.js";
import { loaderSettings } from "./kernel-cmdline.js";
import { listenForLldp } from "./lldp-listener.js";
import { bootedUefi, rebootToDisk, REMOVE_MEDIA_MESSAGE } from "./disk-boot.js";
import { startFromMedia, waitForMediaRemoval } from "./boot-media.js";
import { connectFromMedia } from "./media-network.js";
import { bringUpBootNic, bringUpOtherNics, waitForNics } from "./network.js";
import { runCommand } from "./commands.js";
import { kexecIntoInstalled } from "./kexec.js";
import { loadDriversOnDemand } from "./drivers.js";
import { enroll, enrollmentLost } from "./enrollment.js";
import { run } from "../shared/run-command.js";
import { benchInventory } from "./inventory-bench.js";
import { benchErase } from "./erase-bench.js";
import { pinServerCa } from "../shared/pinned-tls.js";
import {
  describeRequestFailure,
  fetchNextAction,
  isRefusal,
  postAgentEvent,
  postCommandResult,
  withRetry,
} from "./server-client.js";

const NIC_WAIT_MS = 15_000;

/**
 * The one inventory gatherer: at enrollment and for the report-inventory command. The full inventory
 * (issue 4) with how we booted and what the switch said; gatherMinimalInventory stays for the
 * benchmark's comparison.
 */
function gatherInventory(bootMac: MacAddress, extras: InventoryExtras): Promise<Inventory> {
  return gatherFullInventory("/", bootMac, extras);
}
const IDLE_FOREVER_MS = 60_000;
/** Before enrolling again after the server dropped our enrollment: two clones must not trade credentials in a tight loop. */
const RE_ENROLL_DELAY_MS = 5_000;

async function main(): Promise<void> {
  const cmdline = loaderSettings(await readFile("/proc/cmdline", "utf8"));
  // Booted from rescue media: the server, its CA and any static address come from the media's file.
  const fromMedia = cmdline.fromMedia ? await startFromMedia() : undefined;
  // Offline media: the image and the policy are on the media; no server is asked anything. Imported
  // here: the installer's plugins, the policy resolver and the stream are no part of a network boot's
  // start (a network boot runs them in a tailored agent).
  if (fromMedia?.settings.offline) {
    const { runOffline } = await import("./offline-run.js");
    await runOffline(fromMedia.media, fromMedia.settings, cmdline.bootPath);
  }
  const settings = fromMedia
    ? { ...cmdline, serverUrl: fromMedia.settings.server, caFingerprint: fromMedia.settings.ca }
    : cmdline;
  say("step", "bootwright loader starting", {
    server: settings.serverUrl,
    bootMac: settings.bootMac,
    path: settings.bootPath ?? undefined,
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
  // The switch speaks while we get a lease and read the hardware: heard by the time the inventory goes.
  const lldp = listenForLldp(nics, settings.lldpWaitMs);
  if (settings.bootMac && !nics.some((nic) => nic.mac === settings.bootMac)) {
    say("warn", "the BOOTIF NIC is not present; trying every NIC", { bootMac: settings.bootMac });
  }
  const bootCandidates =
    settings.bootMac && nics.some((nic) => nic.mac === settings.bootMac) ? settings.bootMac : undefined;
  // From media no NIC is known to lead to the server: each is tried until the server answers (pinned).
  const connected = fromMedia
    ? await connectFromMedia(nics, { ...fromMedia.settings, server: settings.serverUrl })
    : await bringUpBootNic(nics, bootCandidates);
  const bootNic = connected.nic;
  if (!fromMedia) bringUpOtherNics(nics, bootNic);

  // Under TLS nothing goes to the server before its certificate shows the CA we were told to pin.
  const serverUrl = settings.serverUrl;
  const pinned = settings.caFingerprint;
  let caPem: string | undefined = "caPem" in connected ? connected.caPem : undefined;
  if (caPem) {
    say("ok", "server certificate chains to the pinned CA", { ca: pinned });
  } else if (pinned) {
    caPem = await withRetry("checking the server's certificate", () => pinServerCa(serverUrl, pinned));
    say("ok", "server certificate chains to the pinned CA", { ca: pinned });
  } else if (serverUrl.startsWith("https:")) {
    say("warn", "https server but no bootwright.ca= to pin: only the system's CAs are trusted");
  }

  if (settings.benchEraseRuns) {
    await benchErase(settings.benchEraseRuns);
    await run("poweroff", ["-f"], { timeoutMs: 10_000 });
  }
  if (settings.benchInventoryRuns) await benchInventory(bootNic.mac, settings.benchInventoryRuns);
  if (settings.benchInstallImage) {
    const inventory = await gatherInventory(bootNic.mac, {});
    // The stream (and undici with it) only in a bench boot: the loader's start does not pay for it.
    const { benchInstall } = await import("./install-bench.js");
    await benchInstall(settings.serverUrl, settings.benchInstallImage, inventory, 3, "/dev/vda");
    await run("poweroff", ["-f"], { timeoutMs: 10_000 });
  }
  // Devices the initramfs has no driver for (a RAID HBA, a rare NIC): their drivers from the server,
  // loaded before the inventory so the disks behind them are in it.
  const drivers = await loadDriversOnDemand(serverUrl);
  say("step", "gathering inventory");
  const extras: InventoryExtras = {
    bootPath: settings.bootPath,
    lldp: await lldp,
    ...(drivers ? { drivers } : {}),
  };
  const inventory = await gatherInventory(bootNic.mac, extras);
  say("ok", "inventory", {
    manufacturer: inventory.system.manufacturer,
    product: inventory.system.product,
    serial: inventory.system.serial,
    uuid: inventory.system.uuid,
    cpus: inventory.cpu.logicalCount,
    memoryMiB: Math.round(inventory.memoryBytes / 2 ** 20),
    disks: inventory.disks.map((disk) => `${disk.name}:${disk.sizeBytes}`).join(","),
    firmware: inventory.details?.firmwareType,
    secureBoot: inventory.details?.secureBoot ?? undefined,
    smbios: inventory.details?.smbios?.version ?? inventory.details?.smbiosError?.code,
  });

  say("step", "posting inventory", { to: `${serverUrl}/v1/inventory` });
  const accepted = await enroll(serverUrl, inventory);
  say("ok", "enrolled", { machine: accepted.machineId, category: accepted.category });
  // The server matched this disk's marker to the plan it resolves for us: nothing to install.
  const bootOwnDisk = async (answer: InventoryAccepted): Promise<never> => {
    say("ok", "already runs its plan: starting its own disk", {
      image: inventory.installedMarker?.image,
      planHash: inventory.installedMarker?.planHash,
    });
    if (answer.reboot === "kexec") {
      // The media can stay for the jump; the next firmware boot would come back here.
      if (fromMedia) say("warn", REMOVE_MEDIA_MESSAGE);
      await kexecIntoInstalled("/");
    }
    // From BIOS media, rebooting with the media in would come straight back here.
    if (fromMedia && !bootedUefi("/")) await waitForMediaRemoval(fromMedia.media, REMOVE_MEDIA_MESSAGE);
    return rebootToDisk(settings.bootPath);
  };
  if (accepted.bootFromDisk) await bootOwnDisk(accepted);

  // From here on every call carries the credential this enrollment answered with.
  let machine = {
    id: accepted.machineId,
    serverUrl,
    credential: accepted.credential,
    ...(caPem ? { caPem } : {}),
  };
  // Ask what to do next, run what the server leases us, report the result; wait when there is nothing.
  let waiting = false;
  let lastNotice: string | undefined;
  // The command the server leased in its answer to the last result: run it without asking next.
  let leasedWithResult: LeasedCommand | null = null;
  for (;;) {
    let next: NextAction;
    try {
      next = leasedWithResult
        ? { action: "run", command: leasedWithResult }
        : await withRetry("GET next action", () => fetchNextAction(machine), enrollmentLost);
      leasedWithResult = null;
    } catch (err) {
      if (!enrollmentLost(err)) throw err;
      // The server no longer takes this enrollment: another enrollment under our identity revoked the
      // credential, or our UUID proved shared and we now go by our MAC. Enroll again, as at boot.
      say("warn", "enrollment lost: enrolling again", { reason: describeRequestFailure(err) });
      await sleep(RE_ENROLL_DELAY_MS);
      const again = await enroll(serverUrl, inventory);
      say("ok", "enrolled", { machine: again.machineId, category: again.category });
      if (again.bootFromDisk) await bootOwnDisk(again);
      machine = { ...machine, id: again.machineId, credential: again.credential };
      continue;
    }
    if (next.action === "wait") {
      if (!waiting)
        say("ok", "nothing to do: waiting for the server", { pollSeconds: next.pollAfterMs / 1000 });
      // What the server wants the console to show (a failed factory unit's stage and reason), once.
      if (next.notice !== undefined && next.notice !== lastNotice) say("fail", next.notice);
      lastNotice = next.notice;
      waiting = true;
      await sleep(next.pollAfterMs);
      continue;
    }
    waiting = false;
    const command = next.command;
    say("step", "running command", {
      kind: command.kind,
      id: command.id,
      timeoutSeconds: command.timeoutMs / 1000,
    });
    const started = performance.now();
    let result: CommandResult;
    try {
      const output = await runCommand(command, {
        machine,
        postEvent: (event) => {
          postAgentEvent(machine, {
            ...event,
            commandId: command.id,
            leaseId: command.leaseId,
          }).catch((err: unknown) => {
            say("warn", "event not sent", { event: event.event, reason: describeRequestFailure(err) });
          });
        },
        gatherInventory: () => gatherInventory(bootNic.mac, extras),
        signal: AbortSignal.timeout(command.timeoutMs),
        root: "/",
        rebootToDisk: () => rebootToDisk(settings.bootPath),
      });
      result = { leaseId: command.leaseId, outcome: "succeeded", output };
      say("ok", "command succeeded", { kind: command.kind, ms: Math.round(performance.now() - started) });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      result = { leaseId: command.leaseId, outcome: "failed", error };
      say("fail", "command failed", { kind: command.kind, error });
    }
    try {
      const answer: CommandResultAccepted = await withRetry(
        "POST command result",
        () => postCommandResult(machine, command.id, result),
        isRefusal,
      );
      say("ok", "result recorded", { category: answer.category, duplicate: answer.duplicate || undefined });
      leasedWithResult = answer.next ?? null;
    } catch (err) {
      // Refused (e.g. the lease expired and the command was handed out again): the server decides what next.
      say("warn", "result refused", { reason: describeRequestFailure(err) });
    }
  }
}

main().catch((err: unknown) => {
  say("fail", "loader crashed", { error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exitCode = 1;
});
