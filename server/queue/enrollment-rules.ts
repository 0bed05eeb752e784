// Pure rules for enrollment: which category a machine takes when it asks for a boot script or posts
// its inventory. (The full transition table arrives with the boot-list issue.)
import type { BootCategory } from "../../protocol/index.js";

/** A new machine seen first by iPXE is `discovered`. */
export const CATEGORY_AT_FIRST_BOOT: BootCategory = "discovered";

/**
 * The category after an inventory arrives: a machine we only knew from iPXE (or never saw) becomes
 * `inventoried`; one further along keeps its category (a re-inventory does not undo its progress).
 */
export function categoryAfterInventory(current: BootCategory | undefined): BootCategory {
  return current === undefined || current === "discovered" ? "inventoried" : current;
}

/**
 * What iPXE is told to boot: an installed machine, or one rebooting into its installed system (its
 * boot-installed command is leased: after an install, or back from maintenance), boots its own disk;
 * every other one, our loader (also the maintenance environment); so does one being released.
 */
export function bootAnswer(
  category: BootCategory,
  rebootingIntoInstall = false,
  expected: BootCategory | null = null,
): "local-disk" | "loader" {
  // Being released, it must come to the loader to have its disks erased, installed or not.
  if (expected === "released") return "loader";
  return category === "installed" || rebootingIntoInstall ? "local-disk" : "loader";
}
