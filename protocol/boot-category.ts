// The boot category: where a machine is in its pre-boot life (seed 000), and which moves between
// categories are legal. One definition for both sides; the server refuses any other move, with the reason.
import * as z from "zod";

export const BootCategory = z.enum([
  "discovered", // iPXE asked for its script; nothing else known yet
  "inventoried", // the loader posted its hardware inventory
  "ready", // its hardware passed the checks (disks readable): it can be planned (MAAS "Ready")
  "planned", // a policy resolved an image + settings for it
  "configuring", // per-machine steps: UEFI settings, RAID, partitions
  "imaging", // the image is being written
  "capturing", // no image matched: install script ran, the result is being captured
  "installed", // runs its installed system
  "maintenance", // swapped into a maintenance/diagnostic image
  "failed", // a command failed; the log says why
  "released", // given back: its disks erased; it boots the loader and waits, never an OS left on a disk
]);
export type BootCategory = z.infer<typeof BootCategory>;

/** Legal moves. Any category may also move to `failed`, and staying put is always legal. */
const NEXT: Record<BootCategory, readonly BootCategory[]> = {
  discovered: ["inventoried"],
  // → installed: its disk carries the marker of the plan it resolves to (seed 003 claim 14): no reinstall.
  inventoried: ["inventoried", "ready", "installed", "released"],
  ready: ["inventoried", "planned", "released"],
  planned: ["inventoried", "configuring", "imaging", "capturing", "released"],
  configuring: ["imaging", "capturing", "released"],
  // → capturing: the base image is written; the recipe's script runs and the result is captured.
  imaging: ["installed", "capturing", "released"],
  capturing: ["installed", "imaging", "released"],
  installed: ["inventoried", "planned", "maintenance", "released"],
  maintenance: ["installed"],
  // → maintenance: an operator restores the original system of a machine whose maintenance run failed.
  failed: ["inventoried", "maintenance", "released"],
  // A released machine is taken again by inventorying it (then planned and installed as any other).
  released: ["inventoried"],
};

export type TransitionCheck = { ok: true } | { ok: false; reason: string };

export function checkTransition(from: BootCategory, to: BootCategory): TransitionCheck {
  if (from === to || to === "failed" || NEXT[from].includes(to)) return { ok: true };
  return {
    ok: false,
    reason: `a machine cannot move from ${from} to ${to} (from ${from} it may go to ${[...NEXT[from], "failed"].join(", ")})`,
  };
}

export function nextCategories(from: BootCategory): readonly BootCategory[] {
  return NEXT[from];
}

/** Whether some sequence of legal moves leads from one category to another. */
export function canReach(from: BootCategory, to: BootCategory): boolean {
  const seen = new Set<BootCategory>([from]);
  const queue: BootCategory[] = [from];
  for (let at = queue.shift(); at !== undefined; at = queue.shift()) {
    if (at === to) return true;
    for (const next of NEXT[at]) {
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return false;
}
