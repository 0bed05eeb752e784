// Enrollment: iPXE asks for a machine's script (a new machine is `discovered`), the loader posts its
// inventory (→ `inventoried`, its fingerprint, the marker check) once server/enrollment/ has admitted
// it. The pure rules are enrollment-rules.ts; identity is server/enrollment/identity.ts.
import type {
  BootPath,
  DriverReport,
  Inventory,
  MacAddress,
  Machine,
  MachineEnrollment,
} from "../../protocol/index.js";
import type { Rows } from "../db/rows.js";
import { couldBeSameMachine, resolveIdentity, type Identity } from "../enrollment/identity.js";
import { ServerError } from "../errors.js";
import { configurationFingerprint } from "../fingerprint.js";
import { checkInstalledMarker } from "../policy/planning.js";
import { bootAnswer, CATEGORY_AT_FIRST_BOOT, categoryAfterInventory } from "./enrollment-rules.js";
import { factoryInventory } from "../factory/flow.js";
import { reconcileMachine } from "./reconcile.js";
import { awaitingCallHome, mustGet } from "./steps.js";

export interface BootRequest {
  mac: MacAddress;
  /** SMBIOS UUID iPXE reported, if any (identity falls back to the MAC). */
  uuid: string | null;
  /** How it came: iPXE (from a ROM or chained from PXE) or the signed chain's GRUB. */
  path: BootPath;
  at: Date;
}

export interface BootAnswer {
  machine: Machine;
  isNew: boolean;
  /** What iPXE boots: our loader, or the machine's own disk (installed, or rebooting into its install). */
  answer: "local-disk" | "loader";
}

/**
 * The stored machine with this identity. A machine first known only by its MAC (iPXE or firmware gave
 * no real UUID) that now shows a real one is the same machine: it moves, with its log and queue, to
 * the UUID. A MAC seen before under a different UUID is a different machine (a NIC moved), not merged.
 */
export async function findSameMachine(
  rows: Rows,
  id: string,
  mac: string,
  at: string,
): Promise<Machine | undefined> {
  const found = await rows.machines.lock(id);
  if (found === "busy") throw new ServerError(`machine ${id} is held by another transaction`);
  if (found || id === mac) return found;
  if (!(await rows.machines.lock(mac))) return undefined;
  await rows.machines.rename(mac, id);
  await rows.log.append(id, at, "identity", { from: mac, to: id });
  return rows.machines.get(id);
}

export function newMachine(
  id: string,
  bootMac: MacAddress,
  at: string,
  inventory: Inventory | null,
  enrollment: MachineEnrollment,
): Machine {
  return {
    id,
    bootMac,
    category: inventory ? "inventoried" : CATEGORY_AT_FIRST_BOOT,
    expected: null,
    firstSeenAt: at,
    lastSeenAt: at,
    fingerprint: inventory ? configurationFingerprint(inventory) : null,
    plan: null,
    bootPath: inventory?.details?.bootPath ?? null,
    inventory,
    enrollment,
    tags: [],
    note: null,
    retired: null,
  };
}

/**
 * Who asks for a boot script: the UUID iPXE reports (else, or when shared, its MAC), or, for a client
 * that knows no UUID (the signed chain's GRUB), the machine that last booted from this MAC.
 */
async function bootRequestIdentity(rows: Rows, request: BootRequest): Promise<Identity> {
  if (request.uuid === null)
    return { id: (await rows.machines.lastBootedFrom(request.mac))?.id ?? request.mac, sharedUuid: null };
  return resolveIdentity(rows, request.uuid, request.mac);
}

export async function recordBootRequest(rows: Rows, request: BootRequest): Promise<BootAnswer> {
  const at = request.at.toISOString();
  const { id, sharedUuid } = await bootRequestIdentity(rows, request);
  const existing = await findSameMachine(rows, id, request.mac, at);
  let answer: BootAnswer["answer"] = "loader";
  if (existing && id !== request.mac && !couldBeSameMachine(existing, request.mac)) {
    // Its UUID, but none of its NICs: another machine reporting the same UUID, or this one with a new
    // NIC. It gets our loader (never the other's "boot your disk": an empty disk would never enroll)
    // and the machine is left as it was; the loader's inventory tells which (server/enrollment/).
    await rows.log.append(id, at, "boot-script", {
      mac: request.mac,
      answer,
      path: request.path,
      unknownNic: true,
    });
  } else if (existing) {
    answer = bootAnswer(
      existing.category,
      (await awaitingCallHome(rows, id)) !== undefined,
      existing.expected,
    );
    await rows.machines.update(id, { bootMac: request.mac, lastSeenAt: at, bootPath: request.path });
    await rows.log.append(id, at, "boot-script", { mac: request.mac, answer, path: request.path });
  } else {
    await rows.machines.insert({
      ...newMachine(id, request.mac, at, null, { state: "pending", reason: null, sharedUuid }),
      bootPath: request.path,
    });
    await rows.log.append(id, at, "discovered", {
      mac: request.mac,
      uuid: request.uuid,
      via: request.path === "secure-boot" ? "grub" : "ipxe",
      path: request.path,
    });
  }
  return { machine: await mustGet(rows, id), isNew: !existing, answer };
}

/**
 * What the loader did about drivers before this inventory, in the step log: the modules sent on demand
 * and how long until the devices settled, every module that failed to load with the kernel's reason, and
 * the devices no module claims.
 */
async function logDriverReport(
  rows: Rows,
  id: string,
  at: string,
  report: DriverReport | undefined,
): Promise<void> {
  if (!report) return;
  if (report.bundleSha256 !== null || report.error !== null)
    await rows.log.append(id, at, "drivers-loaded", {
      kernel: report.kernel,
      modules: report.loaded,
      bundle: report.bundleSha256,
      ms: report.elapsedMs,
      ...(report.error === null ? {} : { error: report.error }),
    });
  for (const failure of report.failures)
    await rows.log.append(id, at, "driver-load-failed", { module: failure.module, reason: failure.message });
  const unclaimed = report.asked.filter((device) => device.modules.length === 0).map((d) => d.modalias);
  if (unclaimed.length)
    await rows.log.append(id, at, "drivers-unclaimed", { kernel: report.kernel, modaliases: unclaimed });
}

/**
 * The loader posted an inventory that server/enrollment/ admitted for the machine `id` (`existing`, as
 * found under that identity, or undefined for a new one): record it and move the machine on.
 */
export async function recordInventory(
  rows: Rows,
  inventory: Inventory,
  when: Date,
  target: { id: string; existing: Machine | undefined; sharedUuid: string | null },
): Promise<Machine> {
  const at = when.toISOString();
  const { id, existing } = target;
  const category = categoryAfterInventory(existing?.category);
  const bootPath = inventory.details?.bootPath ?? existing?.bootPath ?? null;
  const enrollment: MachineEnrollment = { state: "enrolled", reason: null, sharedUuid: target.sharedUuid };
  if (existing)
    await rows.machines.update(id, {
      bootMac: inventory.bootMac,
      category,
      inventory,
      fingerprint: configurationFingerprint(inventory),
      lastSeenAt: at,
      bootPath,
      enrollment,
    });
  else {
    await rows.machines.insert(newMachine(id, inventory.bootMac, at, inventory, enrollment));
    await rows.log.append(id, at, "discovered", {
      mac: inventory.bootMac,
      uuid: inventory.system.uuid,
      via: "inventory",
    });
  }
  await rows.log.append(id, at, "inventory", {
    from: existing?.category ?? null,
    to: category,
    path: bootPath,
    secureBoot: inventory.details?.secureBoot ?? null,
  });
  await logDriverReport(rows, id, at, inventory.details?.drivers);
  const run = await rows.runs.active(id);
  // In maintenance the loader is the maintenance environment: its disk's marker changes nothing.
  if (run) await rows.log.append(id, at, "maintenance-image-booted", { run: run.id, state: run.state });
  else if (inventory.installedMarker)
    await checkInstalledMarker(rows, await mustGet(rows, id), inventory.installedMarker, at);
  await reconcileMachine(rows, id, at);
  // On a factory line, the unit's traveler picks up where its last boot left it.
  if (!run) await factoryInventory(rows, id, inventory, at);
  return mustGet(rows, id);
}
