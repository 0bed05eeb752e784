// Drivers on demand (loader side). The initramfs's coldplug has loaded what it carries (every Ethernet
// driver, the common disk controllers); for every PCI device still without a driver we ask the server
// which modules claim it, fetch the one content-addressed bundle it answers (sha256 checked, one retry),
// unpack it over /lib/modules and /lib/firmware, load the modules in dependency order, and wait for the
// devices to settle (a RAID HBA's disks appear some time after its driver binds) before the inventory.
import { createHash } from "node:crypto";
import { readdir, writeFile } from "node:fs/promises";
import { release } from "node:os";
import {
  leftWithoutDriver,
  PciModalias,
  type DriverReport,
  type DriversAnswer,
} from "../../protocol/index.js";
import { loadZstd } from "../installer/native.js";
import { readPciDevices } from "../inventory/pci.js";
import { exists, linkName, readText } from "../inventory/sysfs.js";
import { sleep } from "../shared/backoff.js";
import { httpRequest } from "../shared/http-client.js";
import { run } from "../shared/run-command.js";
import { untar } from "../shared/untar.js";
import { say } from "./console.js";
import { describeRequestFailure, isRefusal, postDriversRequest, withRetry } from "./server-client.js";

/** Devices settle when nothing changed (drivers bound, block devices) for this long… */
const SETTLE_QUIET_MS = 1_000;
/** …or when this much has passed since the modules loaded. */
const SETTLE_MAX_MS = 20_000;
const SETTLE_POLL_MS = 100;
const BUNDLE_TIMEOUT_MS = 120_000;

/** Asks for, fetches and loads the drivers the initramfs lacked; undefined when every device has one. */
export async function loadDriversOnDemand(serverUrl: string, root = "/"): Promise<DriverReport | undefined> {
  const started = performance.now();
  const kernel = release();
  const unbound = (await readPciDevices(root)).filter(
    (device) =>
      device.driver === null &&
      !leftWithoutDriver(device.classCode) &&
      PciModalias.safeParse(device.modalias).success,
  );
  if (!unbound.length) return undefined;
  const modaliases = [...new Set(unbound.map((device) => device.modalias))];
  say("step", "asking the server for drivers", {
    devices: unbound.map((d) => `${d.address}=${d.vendorId}:${d.deviceId}`).join(","),
  });
  const report: DriverReport = {
    kernel,
    asked: modaliases.map((modalias) => ({ modalias, modules: [] })),
    bundleSha256: null,
    loaded: [],
    failures: [],
    error: null,
    elapsedMs: 0,
  };
  let answer: DriversAnswer;
  try {
    answer = await withRetry(
      "POST /v1/drivers",
      () => postDriversRequest(serverUrl, { kernel, modaliases }),
      isRefusal,
    );
  } catch (err) {
    say("fail", "the server refused the drivers request", { reason: describeRequestFailure(err) });
    return {
      ...report,
      error: describeRequestFailure(err),
      elapsedMs: Math.round(performance.now() - started),
    };
  }
  report.asked = answer.devices;
  const unclaimed = answer.devices.filter((device) => device.modules.length === 0).map((d) => d.modalias);
  if (unclaimed.length) say("warn", "no module claims these devices", { modaliases: unclaimed.join(",") });
  if (!answer.bundle) return { ...report, elapsedMs: Math.round(performance.now() - started) };

  try {
    const tar = await fetchBundle(serverUrl, answer.bundle);
    // Only modules of our kernel and firmware: a bundle writes nowhere else on the root.
    const prefixes = [`lib/modules/${kernel}/`, "lib/firmware/"];
    await untar(
      tar,
      root,
      (name) => new Error(`driver bundle entry ${name} is outside lib/modules/${kernel} and lib/firmware`),
      (name) => prefixes.some((prefix) => name.startsWith(prefix)),
    );
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    say("fail", "driver bundle not loaded", { reason });
    return { ...report, error: reason, elapsedMs: Math.round(performance.now() - started) };
  }
  report.bundleSha256 = answer.bundle.sha256;

  const before = await snapshot(root);
  for (const module of answer.modules) {
    if (await exists(`${root}sys/module/${module.name}`)) continue; // the initramfs's copy, already in
    try {
      await run("insmod", [`${root}lib/modules/${kernel}/${module.path}`], { timeoutMs: 60_000 });
      report.loaded.push(module.name);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      report.failures.push({ module: module.name, message });
      say("fail", "module did not load", { module: module.name, reason: message });
    }
  }
  // Only a storage controller brings devices after its driver binds (the disks it finds); anything else
  // is complete once its module loaded, so the wait for quiet is skipped: it cost every QEMU boot over a
  // second for the chipset's SMBus and LPC functions.
  let settledAt = performance.now();
  if (unbound.some((device) => isStorageController(device.classCode))) {
    await scanScsiHosts(root);
    settledAt = await settle(root, before);
  }
  report.elapsedMs = Math.round(settledAt - started);
  say("ok", "drivers loaded on demand", {
    modules: report.loaded.join(",") || "none",
    failed: report.failures.map((f) => f.module).join(",") || undefined,
    ms: report.elapsedMs,
  });
  return report;
}

/** GETs the bundle and checks its sha256; a mismatch is logged and fetched once more, then refused. Returns the tar. */
export async function fetchBundle(
  serverUrl: string,
  bundle: NonNullable<DriversAnswer["bundle"]>,
): Promise<Buffer> {
  for (let attempt = 1; ; attempt++) {
    const bytes = await withRetry(`GET ${bundle.path}`, async () => {
      const response = await httpRequest(`${serverUrl}${bundle.path}`, { timeoutMs: BUNDLE_TIMEOUT_MS });
      if (!response.ok) throw new Error(`GET ${bundle.path}: HTTP ${response.status}`);
      return response.body;
    });
    const actual = createHash("sha256").update(bytes).digest("hex");
    if (actual === bundle.sha256) return loadZstd().decompress(bytes);
    const message = `driver bundle ${bundle.sha256}: received ${bytes.length} bytes with sha256 ${actual}`;
    if (attempt >= 2) throw new Error(`${message}, twice: refused`);
    say("fail", `${message}: refused, fetching it again`);
  }
}

/** PCI class 0x01: SCSI, IDE, RAID, SATA, SAS, NVMe controllers. */
function isStorageController(classCode: string): boolean {
  return /^0x01/.test(classCode);
}

/** Which PCI devices have a driver and which block devices exist: what changes while devices settle. */
async function snapshot(root: string): Promise<string> {
  const devices = await readPciDevices(root);
  const blocks = await readdir(`${root}sys/block`).catch(() => []);
  return [...devices.map((d) => `${d.address}=${d.driver ?? ""}`), ...blocks.sort()].join(" ");
}

/**
 * Asks every SCSI host to scan its buses now ("- - -": all channels, targets, LUNs), which returns when
 * the scan is done: an HBA's own asynchronous discovery may otherwise bring a disk after the devices
 * looked settled (a SAS1068 under TCG took over a second).
 */
async function scanScsiHosts(root: string): Promise<void> {
  const dir = `${root}sys/class/scsi_host`;
  const hosts = await readdir(dir).catch(() => []);
  await Promise.all(hosts.map((host) => writeFile(`${dir}/${host}/scan`, "- - -").catch(() => undefined)));
}

/**
 * Loads the initramfs's driver for each device a new controller brought (the disks an HBA finds are SCSI
 * devices, which need sd_mod): what udev would do on their uevents, which the initramfs has no udev for.
 * Each modalias is tried once; modprobe's own failures (no module claims it) are fine.
 */
async function coldplugNewDevices(root: string, tried: Set<string>): Promise<void> {
  const buses = (await readdir(`${root}sys/bus`).catch(() => [])).filter((bus) => bus !== "pci");
  for (const bus of buses) {
    const dir = `${root}sys/bus/${bus}/devices`;
    for (const device of await readdir(dir).catch(() => [])) {
      const [modalias, driver] = await Promise.all([
        readText(`${dir}/${device}/modalias`),
        linkName(`${dir}/${device}/driver`),
      ]);
      if (!modalias || driver !== null || tried.has(modalias)) continue;
      tried.add(modalias);
      await run("modprobe", ["-q", modalias], { timeoutMs: 30_000 }).catch(() => undefined);
    }
  }
}

/** Waits until nothing changed for SETTLE_QUIET_MS; returns when the last change was seen. */
async function settle(root: string, before: string): Promise<number> {
  const deadline = performance.now() + SETTLE_MAX_MS;
  const tried = new Set<string>();
  let last = before;
  let changedAt = performance.now();
  while (performance.now() < deadline && performance.now() - changedAt < SETTLE_QUIET_MS) {
    await sleep(SETTLE_POLL_MS);
    await coldplugNewDevices(root, tried);
    const now = await snapshot(root);
    if (now !== last) {
      last = now;
      changedAt = performance.now();
    }
  }
  return changedAt;
}
