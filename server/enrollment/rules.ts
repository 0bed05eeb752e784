// Pure rules of enrollment (issue 17): whether an inventory is the machine we know under its identity
// (same, changed, or a different machine that shares its UUID), whether the policy admits a new machine
// (auto, approve, allowlist), and what an inventory post gets: enrolled, or refused with the reason.
import type {
  CommandKind,
  EnrollmentMode,
  EnrollmentState,
  Inventory,
  Machine,
  Policy,
} from "../../protocol/index.js";

/** What identifies a machine's hardware beside its UUID: its serial and the MACs of all its NICs. */
export interface HardwareEvidence {
  /** Null when absent or a vendor's placeholder (it tells no two machines apart). */
  serial: string | null;
  macs: readonly string[];
}

/**
 * Serial numbers boards ship with when nobody set one (AMI's and Insyde's defaults, "System Serial
 * Number", runs of zeros…): as useless as a placeholder UUID for telling machines apart.
 */
const PLACEHOLDER_SERIALS = new Set([
  "to be filled by o.e.m.",
  "default string",
  "system serial number",
  "not specified",
  "not applicable",
  "none",
  "n/a",
  "na",
  "unknown",
  "0123456789",
  "123456789",
  "1234567890",
]);

export function realSerial(serial: string | null | undefined): string | null {
  const trimmed = serial?.trim() ?? "";
  const lower = trimmed.toLowerCase();
  if (lower === "" || PLACEHOLDER_SERIALS.has(lower) || /^0+$/.test(lower) || /^f+$/.test(lower)) return null;
  return trimmed;
}

export function evidenceOf(inventory: Inventory): HardwareEvidence {
  return {
    serial: realSerial(inventory.system.serial),
    macs: [...new Set(inventory.nics.map((nic) => nic.mac))].sort(),
  };
}

/** What iPXE alone tells of a machine seen before its inventory: its boot MAC. */
export function knownEvidence(machine: Machine): HardwareEvidence {
  return machine.inventory ? evidenceOf(machine.inventory) : { serial: null, macs: [machine.bootMac] };
}

export type Comparison =
  | { kind: "same" }
  /** The same machine with a part swapped (or an impostor that copied a MAC or the serial): an operator decides. */
  | { kind: "changed"; what: string }
  /** Nothing in common: another machine that happens to report the same UUID. */
  | { kind: "different"; what: string };

function describeChange(known: HardwareEvidence, seen: HardwareEvidence): string {
  const parts: string[] = [];
  if (known.serial !== seen.serial)
    parts.push(`serial ${known.serial ?? "(none)"} → ${seen.serial ?? "(none)"}`);
  const added = seen.macs.filter((mac) => !known.macs.includes(mac));
  const removed = known.macs.filter((mac) => !seen.macs.includes(mac));
  if (added.length > 0) parts.push(`MACs added: ${added.join(", ")}`);
  if (removed.length > 0) parts.push(`MACs gone: ${removed.join(", ")}`);
  return parts.join("; ");
}

/**
 * Two machines are different when they share no MAC and their serials do not match (a serial that is
 * absent or a placeholder matches nothing: identity must never merge two machines on a placeholder).
 * Anything else that differs is a change of the same machine, which an operator approves. A machine
 * known only from iPXE has no serial yet: only its boot MAC counts.
 */
export function compareEvidence(
  known: HardwareEvidence,
  seen: HardwareEvidence,
  knownHasInventory = true,
): Comparison {
  const sharesMac = seen.macs.some((mac) => known.macs.includes(mac));
  const sameSerial = known.serial !== null && known.serial === seen.serial;
  if (!sharesMac && !sameSerial) return { kind: "different", what: describeChange(known, seen) };
  if (!knownHasInventory) return { kind: "same" };
  const what = describeChange(known, seen);
  return what === "" ? { kind: "same" } : { kind: "changed", what };
}

/** Whether the policy lets a machine never seen before enroll by itself, and why not. */
export function admits(
  policy: Pick<Policy, "enrollment" | "allowlist"> | undefined,
  inventory: Inventory,
): { ok: true } | { ok: false; reason: string } {
  const mode: EnrollmentMode = policy?.enrollment ?? "auto";
  switch (mode) {
    case "auto":
      return { ok: true };
    case "approve":
      return { ok: false, reason: "awaiting approval (enrollment: approve)" };
    case "allowlist": {
      const list = policy?.allowlist;
      const assetTag = inventory.details?.smbios?.chassis?.assetTag ?? null;
      const listed =
        list !== undefined &&
        (inventory.nics.some((nic) => list.macs.includes(nic.mac)) ||
          (inventory.system.serial !== null && list.serials.includes(inventory.system.serial)) ||
          (assetTag !== null && list.assetTags.includes(assetTag)));
      return listed ? { ok: true } : { ok: false, reason: "awaiting approval (not on the allowlist)" };
    }
  }
}

/**
 * Commands whose lease is live while the machine legitimately boots our loader again, so a new
 * enrollment during them is the machine itself, not a second device: boot-installed reboots into the
 * installed system, and on UEFI HTTP boot with no disk boot option yet that boot comes back to the
 * loader once (agent/loader/disk-boot.ts). Every other command (report-inventory, check-disks,
 * run-agent, write-image, run-maintenance) runs inside the loader that leased it and posts its result
 * before anything reboots (a maintenance run's reboot back is boot-installed's), so while one is leased
 * an enrollment under the machine's identity is someone else, or a crash the lease's expiry sorts out.
 */
export function leaseEndsInReboot(kind: CommandKind): boolean {
  return kind === "boot-installed";
}

export interface EnrollmentInput {
  /** The machine under this identity; undefined for one never seen. */
  state: EnrollmentState | undefined;
  /** The policy's word on a machine never admitted. */
  admission: { ok: true } | { ok: false; reason: string };
  /** Against the inventory it enrolled with (undefined: it never posted one, or was never admitted). */
  comparison: Comparison | undefined;
  /** A live lease of a command that does not end in a reboot: its kind and end. */
  liveLease: { kind: CommandKind; until: string } | undefined;
}

export type EnrollmentDecision =
  | { kind: "enroll" }
  | {
      kind: "refuse";
      code: "awaiting_approval" | "enrollment_held";
      state: Extract<EnrollmentState, "awaiting-approval" | "held">;
      reason: string;
    };

/** What an inventory post gets (the order matters: an operator's approval answers every question). */
export function decideEnrollment(input: EnrollmentInput): EnrollmentDecision {
  if (input.state === "approved") return { kind: "enroll" };
  const admitted = input.state === "enrolled" || input.state === "held";
  if (!admitted)
    return input.admission.ok
      ? { kind: "enroll" }
      : {
          kind: "refuse",
          code: "awaiting_approval",
          state: "awaiting-approval",
          reason: input.admission.reason,
        };
  if (input.comparison && input.comparison.kind !== "same")
    return {
      kind: "refuse",
      code: "awaiting_approval",
      state: "held",
      reason: `awaiting approval: this identity came back with other hardware (${input.comparison.what})`,
    };
  if (input.liveLease)
    return {
      kind: "refuse",
      code: "enrollment_held",
      state: "held",
      reason: `enrollment held: its agent holds a live ${input.liveLease.kind} lease until ${input.liveLease.until}; a second enrollment waits for it to end or for an operator's approval`,
    };
  return { kind: "enroll" };
}
