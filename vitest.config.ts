// One run, two projects: unit tests beside the code, and end-to-end tests in test-vm/ (real VMs, real
// servers). Both share one pool of workers, one per core (at least two): two VM files run side by side,
// each VM on one vCPU (test-vm/qemu.ts says why that pays under TCG), and the unit files fill in where a
// worker is free. Files start longest first (test-vm/timing/sequencer.ts); the timing reporter prints
// where the time went and writes build/test-timing.json (test-vm/timing/).
import { availableParallelism, totalmem } from "node:os";
import { defineConfig } from "vitest/config";
import { TimingReporter } from "./test-vm/timing/reporter.js";
import { LongestFirstSequencer } from "./test-vm/timing/sequencer.js";

// One worker per core, at least two; and at most one per 6 GiB of memory: a VM file may run four 1 GiB
// guests at once (the install batch), beside its server and the worker itself.
const workers = Math.max(2, Math.min(availableParallelism(), Math.floor(totalmem() / (6 * 2 ** 30))));

export default defineConfig({
  test: {
    reporters: ["default", new TimingReporter()],
    maxWorkers: workers,
    sequence: { sequencer: LongestFirstSequencer },
    projects: [
      {
        test: {
          name: "unit",
          maxWorkers: workers,
          // Some unit tests start real server processes (kill -9 durability), beside a VM file on 2 cores.
          testTimeout: 30_000,
          include: [
            "agent/**/*.test.ts",
            "server/**/*.test.ts",
            "protocol/**/*.test.ts",
            "build-scripts/**/*.test.ts",
          ],
        },
      },
      {
        test: {
          name: "vm",
          maxWorkers: workers,
          include: ["test-vm/**/*.test.ts"],
          globalSetup: ["test-vm/global-setup.ts"],
          setupFiles: ["test-vm/timing/setup.ts"],
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
