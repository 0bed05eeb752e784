// The uefi-vars steps over a fake root (fakeOvmfMachine: efivarfs as a directory holding a real OVMF's
// Boot#### variables, sysfs links placing the disk at PCI 00:03.0 and the NIC at 00:02.0), and chattr
// faked. What they write, what they report, and that a rerun writes nothing.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import type { AgentPlan } from "../../../protocol/index.js";
import { BOOTWRIGHT_GUID, EFIVARS_DIR, GLOBAL_GUID } from "../efivarfs.js";
import type { Exec } from "../plugin.js";
import { fakeOvmfMachine, stepContext } from "../test-support.js";
import { uefiVars } from "./uefi-vars.js";

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

const hex = (path: string): string => readFileSync(path).toString("hex");

async function runAll(root: string, plan: AgentPlan, calls: string[][]): Promise<Record<string, unknown>[]> {
  const exec: Exec = (command, argv) => {
    calls.push([command.slice(command.lastIndexOf("/") + 1), ...argv.map((a) => a.replace(root, "<root>"))]);
    return command.endsWith("/chattr")
      ? Promise.resolve({ stdout: "", stderr: "" })
      : Promise.reject(new Error(`program not faked: ${command}`));
  };
  const data = [];
  for (const step of uefiVars.steps) data.push(await step.run(stepContext(root, plan, exec)));
  return data;
}

const plan: AgentPlan = {
  planHash: "sha256:plan",
  image: "tiny",
  uefi: { bootOrder: "disk-first", variables: { BootwrightRole: "web" } },
};

it("disk-first: BootOrder rewritten with the disk in front, BootNext on the network option, our variable under our GUID", async () => {
  const root = fakeOvmfMachine();
  const calls: string[][] = [];
  const [secure, order, vendor] = await runAll(root, plan, calls);
  expect(secure).toMatchObject({ secureBoot: null, wanted: null, matches: true, changed: false });
  expect(order).toMatchObject({
    wanted: "disk-first",
    before: ["Boot0002", "Boot0003", "Boot0004", "Boot0005", "Boot0006", "Boot0001", "Boot0000", "Boot0007"],
    after: ["Boot0001", "Boot0002", "Boot0003", "Boot0004", "Boot0005", "Boot0006", "Boot0000", "Boot0007"],
    bootCurrent: "Boot0002",
    bootNext: "Boot0002",
    changed: true,
    verified: true,
  });
  const vars = join(root, EFIVARS_DIR);
  expect(hex(join(vars, `BootOrder-${GLOBAL_GUID}`))).toBe(
    "07000000" + "0100020003000400050006000000" + "0700",
  );
  expect(hex(join(vars, `BootNext-${GLOBAL_GUID}`))).toBe("070000000200");
  expect(readFileSync(join(vars, `BootwrightRole-${BOOTWRIGHT_GUID}`)).toString("latin1")).toBe(
    "\x07\0\0\0web",
  );
  expect(vendor).toMatchObject({
    guid: BOOTWRIGHT_GUID,
    variables: [{ name: "BootwrightRole", changed: true }],
  });
  // The immutable flag comes off only variables that exist (BootOrder); BootNext and ours are new.
  expect(calls).toEqual([["chattr", "-i", `<root>/${EFIVARS_DIR}/BootOrder-${GLOBAL_GUID}`]]);

  const again: string[][] = [];
  const [, order2, vendor2] = await runAll(root, plan, again);
  expect(order2).toMatchObject({ changed: false, after: (order as { after: string[] }).after });
  expect(vendor2).toMatchObject({ variables: [{ name: "BootwrightRole", changed: false }] });
  expect(again).toEqual([]);
});

it("Secure Boot is read and a difference reported, never written", async () => {
  const root = fakeOvmfMachine({ SecureBoot: "00" });
  const secure = await uefiVars.steps[0]?.run(
    stepContext(root, { ...plan, uefi: { secureBoot: true } }, () =>
      Promise.reject(new Error("no programs")),
    ),
  );
  expect(secure).toMatchObject({ secureBoot: false, wanted: true, matches: false, changed: false });
  expect(String(secure?.limitation)).toMatch(/cannot be switched from the OS/);
  expect(hex(join(root, EFIVARS_DIR, `SecureBoot-${GLOBAL_GUID}`))).toBe("0700000000");
});

it("a machine that did not boot through UEFI fails the step with the reason", async () => {
  const root = mkdtempSync(join(tmpdir(), "bootwright-bios-"));
  roots.push(root);
  await expect(
    uefiVars.steps[1]?.run(stepContext(root, plan, () => Promise.reject(new Error("no programs")))),
  ).rejects.toThrow(/did not boot through UEFI/);
});
