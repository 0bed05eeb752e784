// End to end (seeds 002, 003): two VMs of different shapes get different plans from the policy and
// different tailored agents; each loader verifies its agent's sha256, runs it, and the steps reach the
// server's step log. The two-disk VM's bundle carries the RAID plugin, the one-disk VM's does not.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { OPERATOR, jsonRequest } from "../server/test-support.js";
import { chooseAccelerator } from "./accelerator.js";
import { requireBootArtefacts } from "./paths.js";
import { directLoaderBoot, Vm } from "./qemu.js";
import { startTestServer, waitForMachine } from "./test-server.js";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const POLICY = `
rules:
  - name: raid-pair
    match:
      - { fact: diskCount, gte: 2 }
    plan:
      image: debian-12
      raid: { level: 1, disks: all }
  - name: single-disk
    match:
      - { fact: product, glob: "TA-*" }
    plan:
      image: debian-12
`;

it("two shapes → two plans → two tailored agents, each verified, run and reported", async () => {
  requireBootArtefacts();
  const accel = await chooseAccelerator();
  const dir = mkdtempSync(join(tmpdir(), "bootwright-tailored-"));
  cleanups.push(() => {
    rmSync(dir, { recursive: true, force: true });
    return Promise.resolve();
  });
  const server = await startTestServer(dir);
  cleanups.push(() => server.close());
  expect(
    (await jsonRequest(`${server.url}/v1/policy`, "PUT", { format: "yaml", source: POLICY })).status,
  ).toBe(200);

  const shapes = [
    {
      name: "one-disk",
      mac: "52:54:00:7a:00:01",
      uuid: "0e0c8a6a-6f5f-4c43-9d57-0000000007a1",
      product: "TA-1",
      disksMiB: [128],
    },
    {
      name: "two-disks",
      mac: "52:54:00:7a:00:02",
      uuid: "0e0c8a6a-6f5f-4c43-9d57-0000000007a2",
      product: "TA-2",
      disksMiB: [128, 128],
    },
  ];
  const agents = new Map<string, { sha: string; rule: string; steps: string[] }>();
  for (const shape of shapes) {
    const vm = Vm.start({
      name: `tailored-${shape.name}`,
      workDir: join(dir, shape.name),
      accel,
      firmware: "bios",
      boot: directLoaderBoot(shape.mac, server.advertiseUrl),
      mac: shape.mac,
      uuid: shape.uuid,
      smbios: [`type=1,manufacturer=Acme,product=${shape.product},serial=${shape.name}`],
      disksMiB: shape.disksMiB,
    });
    try {
      await waitForMachine(server, shape.uuid, (m) => m?.category === "inventoried" || undefined, 180_000);
      await server.store.setExpected(shape.uuid, "configuring", new Date());
      // The category says "configuring" from the moment run-agent is leased; the steps are in the log
      // once its result is recorded.
      const machine = await waitForMachine(
        server,
        shape.uuid,
        (m) => (m?.category === "configuring" ? m : undefined),
        120_000,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${vm.describe()}`);
      });
      let log = await server.store.machineLog(shape.uuid);
      for (
        let waited = 0;
        !log.some((e) => e.event === "command-succeeded" && e.data.kind === "run-agent");
      ) {
        if (waited > 120_000) throw new Error(`run-agent did not finish\n${vm.describe()}`);
        await new Promise((done) => setTimeout(done, 250));
        waited += 250;
        log = await server.store.machineLog(shape.uuid);
      }
      const steps = log.filter((e) => e.event === "agent-step");
      expect(steps.every((e) => e.data.ok === true)).toBe(true);
      agents.set(shape.name, {
        sha: String(steps[0]?.data.agent),
        rule: machine.plan?.rule ?? "",
        steps: steps.map((e) => `${String(e.data.plugin)}/${String(e.data.step)}`),
      });
      // The VM printed its agent's verification and first step.
      await vm.waitForConsole(/ok agent verified plan=sha256:/, 10_000);
      await vm.waitForConsole(/ok step disk-report\/list-disks/, 10_000);
    } finally {
      await vm.stop();
    }
  }

  const one = agents.get("one-disk");
  const two = agents.get("two-disks");
  expect(one).toMatchObject({ rule: "single-disk", steps: ["disk-report/list-disks"] });
  expect(two).toMatchObject({
    rule: "raid-pair",
    steps: ["disk-report/list-disks", "mdadm-raid/create-array"],
  });
  expect(one?.sha).not.toBe(two?.sha);
  const bundle = async (sha: string | undefined): Promise<string> =>
    (await fetch(`${server.url}/v1/agents/${sha ?? ""}.mjs`, { headers: OPERATOR })).text();
  expect(await bundle(two?.sha)).toContain("--raid-devices");
  expect(await bundle(one?.sha)).not.toContain("--raid-devices");
});
