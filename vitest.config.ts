// Two projects: fast unit tests beside the code, and VM tests in test-vm/ run one file at a time
// (two TCG guests on 2 cores slow each other to a crawl: vm-notes.md).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          // Some unit tests start real server processes (kill -9 durability): give them room on a busy 2-core CI.
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
          include: ["test-vm/**/*.test.ts"],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
