// Vitest setup for every test file: the VMs a file starts append where their time went to
// build/test-timing/vms.jsonl, named by the file, for the timing reporter (./reporter.ts).
import { appendFileSync, mkdirSync } from "node:fs";
import { dirname, relative } from "node:path";
import { expect } from "vitest";
import { REPO_ROOT } from "../paths.js";
import { recordVmTimings } from "./vm-clock.js";
import { VM_TIMINGS_PATH } from "./files.js";

const testPath = expect.getState().testPath;
if (testPath) {
  recordVmTimings(relative(REPO_ROOT, testPath), (timing) => {
    mkdirSync(dirname(VM_TIMINGS_PATH), { recursive: true });
    // One short line per VM, appended (O_APPEND): files running side by side do not interleave it.
    appendFileSync(VM_TIMINGS_PATH, JSON.stringify(timing) + "\n");
  });
}
