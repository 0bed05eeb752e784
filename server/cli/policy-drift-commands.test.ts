// `bootwright policy set --dry-run`, `diff` and `expect … --replan` through the real CLI (bin/bootwright)
// against a real server with one installed and one planned machine under policy v1.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PolicyDryRun } from "../../protocol/index.js";
import { driftScenario, INSTALLED, PLANNED, POLICY_V2 } from "../http/drift-scenario.js";
import type { RunningServer } from "../server.js";
import { makeTempDir, startApiServer, TEST_ADMIN_TOKEN } from "../test-support.js";

const BIN = join(import.meta.dirname, "../../bin/bootwright");
let work: ReturnType<typeof makeTempDir>;
let server: RunningServer;
let v2File: string;

async function bootwright(...args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(BIN, [...args, "--server", server.url], {
    env: { ...process.env, BOOTWRIGHT_TOKEN: TEST_ADMIN_TOKEN, XDG_CONFIG_HOME: work.dir },
  });
  return stdout;
}

beforeAll(async () => {
  work = makeTempDir("bw-drift-cli-");
  server = await startApiServer(work.dir);
  await driftScenario(server.url);
  v2File = join(work.dir, "v2.json");
  writeFileSync(v2File, JSON.stringify(POLICY_V2));
});

afterAll(async () => {
  await server.close();
  work.remove();
});

/** Each bootwright call starts tsx (seconds on a loaded machine): the steps below get a minute each. */
const CLI_MS = 60_000;

describe("bootwright policy set --dry-run, diff, expect --replan", () => {
  it(
    "the dry run prints who would re-plan and who would drift, and changes nothing",
    async () => {
      const dry = await bootwright("policy", "set", "--dry-run", v2File);
      expect(dry).toContain(`dry run: ${v2File} would be policy v2 (1 rule(s)); nothing was changed`);
      expect(dry).toMatch(
        new RegExp(
          `would re-plan.*\\n.*\\n${PLANNED} +plan sha256:\\w{12} from rule base \\(policy v1\\) → plan sha256:\\w{12} from rule disk-first \\(policy v2\\)`,
        ),
      );
      expect(dry).toMatch(
        new RegExp(
          `would drift.*\\n.*\\n${INSTALLED} +runs plan sha256:\\w{12} from rule base, policy v2 gives plan sha256:\\w{12} from rule disk-first`,
        ),
      );
      const json = PolicyDryRun.parse(
        JSON.parse(await bootwright("policy", "set", "--dry-run", v2File, "--json")),
      );
      expect(json.replan.map((r) => r.machineId)).toEqual([PLANNED]);
      expect((await server.store.getPolicy())?.version).toBe(1);
      expect((await server.store.getMachine(PLANNED))?.plan?.rule).toBe("base");
    },
    CLI_MS,
  );

  it(
    "after policy set, diff prints the installed machine's drift",
    async () => {
      expect(await bootwright("diff")).not.toContain("drift (");
      expect(await bootwright("policy", "set", v2File)).toMatch(/^policy v2 set from /);
      const diff = await bootwright("diff");
      expect(diff).toContain(
        "drift (installed, left alone; bootwright expect <id> installed --replan reinstalls):",
      );
      const drift = (await server.store.drift())[0];
      expect(drift?.machineId).toBe(INSTALLED);
      expect(diff).toContain(`${INSTALLED}  ${drift?.message ?? "?"}`);
    },
    CLI_MS,
  );

  it(
    "expect <id> installed --replan reinstalls it; --replan wants installed",
    async () => {
      expect(await bootwright("expect", INSTALLED, "installed", "--replan")).toBe(
        `${INSTALLED}: re-planned for reinstall with rule disk-first (policy v2); current planned, expected installed: it reinstalls at its next network boot\n`,
      );
      expect(await bootwright("diff")).not.toContain("drift (");
      await expect(bootwright("expect", INSTALLED, "ready", "--replan")).rejects.toThrow(
        /--replan reinstalls a drifted machine: give the category installed/,
      );
    },
    CLI_MS,
  );
});
