// For `npm run bench` (inventory.full_vs_minimal): times the full and the minimal inventory in the real
// initramfs, alternating so both see the same caches, and prints one line the bench parses.
import type { MacAddress } from "../../protocol/index.js";
import { gatherFullInventory } from "../inventory/full.js";
import { gatherMinimalInventory } from "../inventory/minimal.js";
import { say } from "./console.js";

export async function benchInventory(bootMac: MacAddress, runs: number): Promise<void> {
  const full: number[] = [];
  const minimal: number[] = [];
  for (let i = 0; i < runs; i++) {
    let started = performance.now();
    await gatherFullInventory("/", bootMac);
    full.push(performance.now() - started);
    started = performance.now();
    await gatherMinimalInventory("/", bootMac);
    minimal.push(performance.now() - started);
  }
  const ms = (values: number[]): string => values.map((v) => v.toFixed(2)).join(",");
  say("ok", "bench-inventory", { fullMs: ms(full), minimalMs: ms(minimal) });
}
