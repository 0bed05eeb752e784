// Where install.poweron_to_callhome_s goes: each phase ends at the first entry of the machine's own step
// log that marks it, after the previous phase ended (the server stamps entries with the clock the bench
// reads, both on this host). A phase whose entry is missing is reported as such, not guessed.
import type { LogEntry } from "../server/db/rows.js";

const PHASES: readonly [string, (entry: LogEntry) => boolean][] = [
  // The NIC's firmware, DHCP and iPXE, up to the machine's first boot script.
  ["firmware+iPXE", (e) => e.event === "boot-script" || e.event === "discovered"],
  // Kernel and initramfs over HTTP, unpack, Node's start, DHCP, drivers on demand, the inventory.
  ["loader to inventory", (e) => e.event === "inventory"],
  // The operator's expectation, check-disks, policy, the configure agent: until the image is leased.
  ["plan+configure", (e) => e.event === "command-leased" && e.data.kind === "write-image"],
  // The tailored agent's fetch, the stream, the marker and boot entries.
  ["write-image", (e) => e.event === "command-succeeded" && e.data.kind === "write-image"],
  // Reboot through firmware and iPXE's local-disk answer, the installed OS's boot to its call home.
  ["reboot+OS to call home", (e) => e.event === "called-home"],
];

/** Seconds per phase since `poweredOnAt` (epoch ms), in order. */
export function installPhases(log: readonly LogEntry[], poweredOnAt: number): [string, number | null][] {
  let from = poweredOnAt;
  let index = 0;
  return PHASES.map(([name, marks]) => {
    const end = log.slice(index).findIndex(marks);
    if (end < 0) return [name, null];
    index += end + 1;
    const at = Date.parse(log[index - 1]?.at ?? "");
    const seconds = (at - from) / 1000;
    from = at;
    return [name, Number(seconds.toFixed(1))];
  });
}

/** "firmware+iPXE 5.1, loader to inventory 12.0, …" for a figure's note. */
export function describePhases(phases: readonly [string, number | null][]): string {
  return phases.map(([name, s]) => `${name} ${s === null ? "?" : s.toFixed(1)}`).join(", ");
}
