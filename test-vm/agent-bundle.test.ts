// Tailored agents across the real boundary: the server's builder bundles only the plugins a machine
// needs, serves the bundle content-addressed over HTTP, and the loader's runner verifies and runs it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { AgentIntegrityError, loadVerifiedAgent } from "../agent/loader/agent-runner.js";
import type { AgentPlan, StepReport } from "../protocol/index.js";
import { AgentBuilder } from "../server/agent-builder.js";
import type { RunningServer } from "../server/server.js";
import {
  OPERATOR,
  TEST_ADMIN_TOKEN,
  makeTempDir,
  sampleInventory,
  startApiServer,
} from "../server/test-support.js";

const plan: AgentPlan = {
  planHash: "sha256:test-plan",
  image: "debian-12",
  raid: { level: 1, disks: 2 },
  uefi: { bootOrder: "disk-first" },
};
const oneDisk = sampleInventory({ disks: [{ name: "vda", sizeBytes: 2 ** 30 }] });
const twoDisks = sampleInventory({
  disks: [
    { name: "vda", sizeBytes: 2 ** 30 },
    { name: "vdb", sizeBytes: 2 ** 30 },
  ],
});

let dir: string;
let removeDir: () => void;
let server: RunningServer;
let builder: AgentBuilder;

beforeAll(async () => {
  ({ dir, remove: removeDir } = makeTempDir("bootwright-agents-"));
  server = await startApiServer(dir);
  // The same directory the server serves agents from.
  builder = new AgentBuilder(join(dir, "agents"));
});

afterAll(async () => {
  await server.close();
  removeDir();
});

/** A fake /sys with these disks, for the steps to read. */
function fakeRoot(disks: { name: string; sizeBytes: number }[]): string {
  const root = mkdtempSync(join(tmpdir(), "bootwright-agent-root-"));
  for (const disk of disks) {
    mkdirSync(join(root, "sys/block", disk.name), { recursive: true });
    writeFileSync(join(root, "sys/block", disk.name, "size"), `${disk.sizeBytes / 512}\n`);
  }
  return root;
}

it("bundles the RAID plugin for the two-disk machine only, content-addressed and cached", async () => {
  const one = await builder.build(oneDisk, plan);
  const two = await builder.build(twoDisks, plan);
  expect(one.plugins).toEqual(["disk-report"]);
  expect(two.plugins).toEqual(["disk-report", "mdadm-raid"]);
  expect(one.sha256).not.toBe(two.sha256);
  expect(one.sizeBytes).toBeLessThan(two.sizeBytes);

  const body = async (sha: string): Promise<{ text: string; header: string | null }> => {
    const res = await fetch(`${server.url}/v1/agents/${sha}.mjs`, { headers: OPERATOR });
    expect(res.status).toBe(200);
    return { text: await res.text(), header: res.headers.get("x-bootwright-sha256") };
  };
  const servedOne = await body(one.sha256);
  const servedTwo = await body(two.sha256);
  expect(servedOne.header).toBe(one.sha256);
  expect(servedTwo.text).toContain("--raid-devices");
  expect(servedOne.text).not.toContain("--raid-devices");
  expect(servedOne.text).toContain('"sha256:test-plan"');

  const again = await builder.build(oneDisk, plan);
  expect(again).toMatchObject({ sha256: one.sha256, cached: true });
  expect((await fetch(`${server.url}/v1/agents/${"0".repeat(64)}.mjs`, { headers: OPERATOR })).status).toBe(
    404,
  );
});

it("the loader verifies the hash, loads the agent in its own Node and runs its steps", async () => {
  const two = await builder.build(twoDisks, plan);
  const agent = await loadVerifiedAgent(
    `${server.url}/v1/agents/${two.sha256}.mjs`,
    two.sha256,
    { credential: TEST_ADMIN_TOKEN },
    dir,
  );
  expect(agent.plugins).toEqual(["disk-report", "mdadm-raid"]);
  expect(agent.plan).toEqual(plan);

  const root = fakeRoot(twoDisks.disks);
  const sent: StepReport[] = [];
  const progress: string[] = [];
  // Programs go through the exec the runner is given: here one that refuses them all (the real mdadm
  // runs in test-vm/configure-steps.test.ts).
  const programs: string[] = [];
  try {
    const reports = await agent.run({
      phase: "configure",
      machine: { id: "m-1", serverUrl: server.url, credential: TEST_ADMIN_TOKEN },
      onStepStart: () => Promise.resolve(),
      inventory: twoDisks,
      root,
      signal: AbortSignal.timeout(10_000),
      progress: (message) => progress.push(message),
      exec: (command, argv) => {
        programs.push([command, ...argv].join(" "));
        return Promise.reject(new Error(`not run in this test: ${command}`));
      },
      onStep: (report) => {
        sent.push(report);
        return Promise.resolve();
      },
    });
    expect(reports.map((r) => [r.plugin, r.step, r.ok])).toEqual([
      ["disk-report", "list-disks", true],
      ["mdadm-raid", "create-array", false],
    ]);
    expect(programs).toEqual(["modprobe -a md_mod raid1"]);
    expect(reports[1]?.error).toBe("not run in this test: modprobe");
    expect(sent).toEqual(reports);
    expect(progress).toEqual(["disks present"]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

it("refuses to run a bundle whose sha256 is not the one named", async () => {
  const one = await builder.build(oneDisk, plan);
  await expect(
    loadVerifiedAgent(
      `${server.url}/v1/agents/${one.sha256}.mjs`,
      "f".repeat(64),
      { credential: TEST_ADMIN_TOKEN },
      dir,
    ),
  ).rejects.toBeInstanceOf(AgentIntegrityError);
});

it("stops at the first failing step and reports why", async () => {
  const one = await builder.build(oneDisk, plan);
  const agent = await loadVerifiedAgent(
    `${server.url}/v1/agents/${one.sha256}.mjs`,
    one.sha256,
    { credential: TEST_ADMIN_TOKEN },
    dir,
  );
  const root = fakeRoot([]);
  try {
    const reports = await agent.run({
      phase: "configure",
      machine: { id: "m-1", serverUrl: server.url, credential: TEST_ADMIN_TOKEN },
      onStepStart: () => Promise.resolve(),
      inventory: oneDisk,
      root,
      signal: AbortSignal.timeout(10_000),
      progress: () => undefined,
      onStep: () => Promise.resolve(),
    });
    expect(reports).toEqual([
      expect.objectContaining({ step: "list-disks", ok: false, error: "no disks: nothing to install onto" }),
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
