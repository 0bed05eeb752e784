// The policy tests' machines: full inventories built from the captured SMBIOS tables (fixtures/README.md).
import { readFileSync } from "node:fs";
import { Inventory } from "../../protocol/index.js";

export const FIXTURE_NAMES = [
  "bios-defaults",
  "bios-full-2nic-nvme",
  "q35-smbios3",
  "uefi-ovmf",
  "bios-big-memory",
] as const;
export type FixtureName = (typeof FIXTURE_NAMES)[number];

export function fixtureInventory(name: FixtureName): Inventory {
  return Inventory.parse(JSON.parse(readFileSync(new URL(`fixtures/${name}.json`, import.meta.url), "utf8")));
}
