// Shared by the installer's unit tests: a step context over a fake root, with a fake Exec.
import type { AgentPlan, Inventory } from "../../protocol/index.js";
import type { Exec, StepContext } from "./plugin.js";

export const TEST_INVENTORY: Inventory = {
  bootMac: "52:54:00:aa:00:01",
  system: {
    manufacturer: "Acme",
    product: "X1",
    serial: "SN-123",
    uuid: "0e0c8a6a-6f5f-4c43-9d57-0000000000a1",
  },
  cpu: { model: "QEMU TCG CPU", logicalCount: 2 },
  memoryBytes: 1024 * 2 ** 20,
  nics: [{ name: "eth0", mac: "52:54:00:aa:00:01" }],
  disks: [{ name: "vda", sizeBytes: 512 * 2 ** 20 }],
};

/** An Exec that refuses every program: for steps that must run none. */
export const refuseAll: Exec = (command, argv) =>
  Promise.reject(new Error(`program not faked: ${command} ${argv.join(" ")}`));

/** A step context for `plan` over the fake `root`, running programs through `exec`. */
export function stepContext(root: string, plan: AgentPlan, exec: Exec, progress: string[] = []): StepContext {
  return {
    inventory: TEST_INVENTORY,
    plan,
    machine: { id: "m-1", serverUrl: "http://server.test", credential: "bwm_test" },
    signal: AbortSignal.timeout(10_000),
    root,
    progress: (message) => progress.push(message),
    exec,
  };
}
