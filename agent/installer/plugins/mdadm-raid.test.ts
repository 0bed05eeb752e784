// The create-array step against a fake /sys, /proc and /dev, with mdadm and modprobe faked from real
// output (../fixtures/mdadm): what it runs for blank disks, for a rerun in the same boot, and when an
// old array holds a member. Any program the fake does not know fails the test.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import type { Exec, StepContext } from "../plugin.js";
import { stepContext } from "../test-support.js";
import { mdadmRaid } from "./mdadm-raid.js";

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/mdadm/${name}`, import.meta.url), "utf8");

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A machine with two 128 MiB disks and, optionally, /proc/mdstat already listing arrays. */
function fakeMachine(mdstat?: string): string {
  const root = mkdtempSync(join(tmpdir(), "bootwright-mdadm-"));
  roots.push(root);
  for (const name of ["vda", "vdb"]) {
    mkdirSync(join(root, "sys/block", name), { recursive: true });
    writeFileSync(join(root, "sys/block", name, "size"), "262144\n");
  }
  mkdirSync(join(root, "dev"), { recursive: true });
  mkdirSync(join(root, "proc"), { recursive: true });
  if (mdstat !== undefined) writeFileSync(join(root, "proc/mdstat"), mdstat);
  return root;
}

/** mdadm as it behaved in the VM: --create makes md127 and the /dev/md/bootwright link. */
function fakeExec(root: string, calls: string[][]): Exec {
  return (command, argv) => {
    const args = argv.map((a) => a.replaceAll(root, "<root>"));
    calls.push([command.slice(command.lastIndexOf("/") + 1), ...args]);
    const ok = (stdout = ""): ReturnType<Exec> => Promise.resolve({ stdout, stderr: "" });
    if (command === "modprobe") return ok();
    if (command.endsWith("/mdadm")) {
      const [verb] = args;
      const made = (() => {
        try {
          readFileSync(join(root, "dev/md/bootwright"));
          return true;
        } catch {
          return false;
        }
      })();
      if (verb === "--create") {
        writeFileSync(join(root, "dev/md127"), "");
        mkdirSync(join(root, "dev/md"), { recursive: true });
        symlinkSync("../md127", join(root, "dev/md/bootwright"));
        mkdirSync(join(root, "sys/block/md127"), { recursive: true });
        writeFileSync(join(root, "sys/block/md127/size"), "262016\n");
        writeFileSync(join(root, "proc/mdstat"), fixture("mdstat-raid1-resync.txt"));
        return ok();
      }
      if (verb === "--detail" && args[1] === "--export")
        return made ? ok(fixture("detail-export-raid1.txt")) : Promise.reject(new Error("no such array"));
      if (verb === "--detail") return ok(fixture("detail-raid1.txt"));
      if (verb === "--zero-superblock" || verb === "--stop") {
        if (verb === "--stop") writeFileSync(join(root, "proc/mdstat"), "Personalities : \n");
        return ok();
      }
    }
    return Promise.reject(new Error(`program not faked: ${command} ${argv.join(" ")}`));
  };
}

function context(root: string, calls: string[][]): StepContext {
  const plan = { planHash: "sha256:plan", image: "tiny", raid: { level: 1 as const, disks: 2 } };
  return stepContext(root, plan, fakeExec(root, calls));
}

const step = mdadmRaid.steps[0];
if (!step) throw new Error("mdadm-raid has no step");

it("blank disks: loads the personality, wipes both members, creates the array, reports the resync", async () => {
  const root = fakeMachine();
  const calls: string[][] = [];
  const data = await step.run(context(root, calls));
  expect(calls).toEqual([
    ["modprobe", "-a", "md_mod", "raid1"],
    ["mdadm", "--zero-superblock", "--force", "<root>/dev/vda"],
    ["mdadm", "--zero-superblock", "--force", "<root>/dev/vdb"],
    [
      "mdadm",
      "--create",
      "<root>/dev/md/bootwright",
      "--run",
      "--level=1",
      "--raid-devices=2",
      "--metadata=1.0",
      "--name=bootwright",
      "--homehost=<none>",
      "<root>/dev/vda",
      "<root>/dev/vdb",
    ],
    ["mdadm", "--detail", "--export", "<root>/dev/md/bootwright"],
    ["mdadm", "--detail", "<root>/dev/md/bootwright"],
  ]);
  expect(data).toMatchObject({
    array: "/dev/md/bootwright",
    device: "md127",
    metadata: "1.0",
    reused: false,
    arrayBytes: 262016 * 512,
    resync: { action: "resync", percent: 20.7, waited: false },
  });
  expect(String(data.mdadmDetail)).toMatch(/Raid Level : raid1/);
});

it("a rerun in the same boot keeps the array it made: nothing wiped, nothing created", async () => {
  const root = fakeMachine();
  await step.run(context(root, []));
  const calls: string[][] = [];
  const data = await step.run(context(root, calls));
  expect(data.reused).toBe(true);
  expect(calls.map((c) => c[1])).toEqual(["-a", "--detail", "--detail", "--detail"]);
});

it("an old array holding a member is stopped and its superblocks wiped before the new one", async () => {
  const root = fakeMachine(
    "Personalities : [raid0]\nmd126 : active raid0 vdb[1] vda[0]\n      261120 blocks super 1.2 512k chunks\n\nunused devices: <none>\n",
  );
  const calls: string[][] = [];
  await step.run(context(root, calls));
  expect(calls.slice(1, 5)).toEqual([
    ["mdadm", "--stop", "<root>/dev/md126"],
    ["mdadm", "--zero-superblock", "--force", "<root>/dev/vda"],
    ["mdadm", "--zero-superblock", "--force", "<root>/dev/vdb"],
    expect.arrayContaining(["--create"]),
  ]);
});
