// Where install.poweron_to_callhome_s (and the maintenance figures' boots) go: each phase ends at the first
// entry of the machine's own step log that marks it, after the previous phase ended (the server stamps
// entries with the clock the bench reads, both on this host). A phase whose entry is missing is reported
// as such, not guessed.
import type { LogEntry } from "../server/db/rows.js";

type Phases = readonly [string, (entry: LogEntry) => boolean][];

// The NIC's firmware, DHCP and iPXE, up to the machine's first boot script.
const atBootScript = (e: LogEntry): boolean => e.event === "boot-script" || e.event === "discovered";
// Kernel and initramfs over HTTP, unpack, Node's start, DHCP, drivers on demand, the inventory.
const atInventory = (e: LogEntry): boolean => e.event === "inventory";
// The installed OS's boot to its call home.
const atCallHome = (e: LogEntry): boolean => e.event === "called-home";
// Into the installed system: a reboot through firmware to iPXE's local-disk answer (BIOS), or the
// loader's kexec with the kernel loaded (the plan's `reboot: kexec`). UEFI's BootNext reboot asks the
// server nothing: its phase is missing, and the next one counts from the image's end.
const atHandoff = (e: LogEntry): boolean =>
  (e.event === "boot-script" && e.data.answer === "local-disk") ||
  (e.event === "agent-progress" && e.data.step === "kexec");

const INSTALL_PHASES: Phases = [
  ["firmware+iPXE", atBootScript],
  ["loader to inventory", atInventory],
  // The operator's expectation, check-disks, policy, the configure agent: until the image is leased.
  ["plan+configure", (e) => e.event === "command-leased" && e.data.kind === "write-image"],
  // The tailored agent's fetch, the stream, the marker and boot entries.
  ["write-image", (e) => e.event === "command-succeeded" && e.data.kind === "write-image"],
  ["reboot or kexec", atHandoff],
  ["OS to call home", atCallHome],
];

/** A power cycle into the loader (the maintenance image's), up to its inventory. */
export const LOADER_BOOT_PHASES: Phases = [
  ["firmware+iPXE", atBootScript],
  ["loader to inventory", atInventory],
];

/** A plain power cycle of an installed machine: iPXE's local-disk answer, then its OS to the call home. */
export const REBOOT_PHASES: Phases = [
  ["firmware+iPXE", atBootScript],
  ["OS to call home", atCallHome],
];

/** Seconds per phase since `poweredOnAt` (epoch ms), in order. */
export function installPhases(log: readonly LogEntry[], poweredOnAt: number): [string, number | null][] {
  return phasesSince(log, poweredOnAt, INSTALL_PHASES);
}

/** Seconds per phase of `phases` since `since` (epoch ms), from the log's entries stamped after it. */
export function phasesSince(
  log: readonly LogEntry[],
  since: number,
  phases: Phases,
): [string, number | null][] {
  const after = log.filter((e) => Date.parse(e.at) >= since);
  let from = since;
  let index = 0;
  return phases.map(([name, marks]) => {
    const end = after.slice(index).findIndex(marks);
    if (end < 0) return [name, null];
    index += end + 1;
    const at = Date.parse(after[index - 1]?.at ?? "");
    const seconds = (at - from) / 1000;
    from = at;
    return [name, Number(seconds.toFixed(1))];
  });
}

/** "firmware+iPXE 5.1, loader to inventory 12.0, …" for a figure's note. */
export function describePhases(phases: readonly [string, number | null][]): string {
  return phases.map(([name, s]) => `${name} ${s === null ? "?" : s.toFixed(1)}`).join(", ");
}
