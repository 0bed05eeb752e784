// Resolution and explain on the captured machines: first match wins, each earlier rule's first failed
// fact is named with the machine's value, and a machine no rule matches is a "no-policy" result.
import { describe, expect, it } from "vitest";
import { Policy } from "../../protocol/index.js";
import { formatResolution } from "../cli/policy-commands.js";
import { parsePolicy } from "./load.js";
import { compilePolicy, explain, planHash, resolvePolicy } from "./resolve.js";
import { FIXTURE_NAMES, fixtureInventory } from "./test-fixtures.js";

const POLICY_YAML = `# Site policy: most specific first.
rules:
  - name: big-memory
    match:
      - { fact: installedMemoryBytes, gte: 16GiB }
    plan:
      image: debian-12-hpc
  - name: compute-blades
    match:
      - { fact: product, glob: "X1*" }
      - { fact: role, equals: compute }
      - { fact: diskCount, gte: 2 }
    plan:
      image: debian-12-compute
      raid: { level: 1, disks: 2 }
      partitions:
        - { label: efi, mount: /boot/efi, size: 512MiB, fs: vfat }
        - { label: root, mount: /, size: rest, fs: ext4 }
  - name: uefi-x4
    match:
      - { fact: firmwareType, equals: uefi }
      - { fact: product, regex: "^X4" }
    plan:
      image: debian-12
      uefi: { secureBoot: true, bootOrder: disk-first }
  - name: slot-12
    match:
      - { fact: bladeSlot, in: ["Blade 12", "Blade 13"] }
    plan: { image: debian-12, steps: [firmware-update] }
`;

function policy(): Policy {
  const parsed = parsePolicy(POLICY_YAML, "yaml");
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.policy;
}

describe("resolvePolicy on the captured machines", () => {
  it("gives each machine the first rule it matches", () => {
    const compiled = compilePolicy(policy());
    const outcome = Object.fromEntries(
      FIXTURE_NAMES.map((name) => {
        const result = resolvePolicy(compiled, fixtureInventory(name));
        return [name, result.kind === "matched" ? result.rule : result.kind];
      }),
    );
    expect(outcome).toEqual({
      "bios-defaults": "no-policy",
      "bios-full-2nic-nvme": "compute-blades",
      "q35-smbios3": "slot-12",
      "uefi-ovmf": "uefi-x4",
      "bios-big-memory": "big-memory",
    });
  });

  it("returns the plan (sizes in bytes) and its hash", () => {
    const result = resolvePolicy(policy(), fixtureInventory("bios-full-2nic-nvme"));
    expect(result).toMatchObject({
      kind: "matched",
      rule: "compute-blades",
      ruleIndex: 1,
      plan: {
        image: "debian-12-compute",
        raid: { level: 1, disks: 2 },
        partitions: [
          { label: "efi", mount: "/boot/efi", size: 512 * 2 ** 20, fs: "vfat" },
          { label: "root", mount: "/", size: "rest", fs: "ext4" },
        ],
      },
    });
    if (result.kind !== "matched") throw new Error("no match");
    expect(result.planHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(result.planHash).toBe(planHash(result.plan));
  });

  it("hashes one plan to one hash whatever the key order or size notation", () => {
    const a = parsePolicy(
      '{"rules":[{"name":"a","match":[],"plan":{"image":"i","partitions":[{"label":"r","mount":"/","fs":"ext4","size":"1GiB"}]}}]}',
      "json",
    );
    const b = parsePolicy(
      "rules:\n  - name: b\n    match: []\n    plan:\n      partitions:\n        - { size: 1073741824, fs: ext4, mount: /, label: r }\n      image: i\n",
      "yaml",
    );
    if (!a.ok || !b.ok) throw new Error("fixture policies do not parse");
    expect(planHash(a.policy.rules[0]?.plan ?? { image: "" })).toBe(
      planHash(b.policy.rules[0]?.plan ?? { image: "x" }),
    );
    expect(planHash({ image: "i" })).not.toBe(planHash({ image: "j" }));
  });

  it("treats an empty match as a catch-all and an empty policy as no policy", () => {
    const catchAll = Policy.parse({ rules: [{ name: "default", match: [], plan: { image: "debian-12" } }] });
    expect(resolvePolicy(catchAll, fixtureInventory("bios-defaults"))).toMatchObject({
      kind: "matched",
      rule: "default",
    });
    expect(resolvePolicy({ rules: [] }, fixtureInventory("bios-defaults"))).toEqual({
      kind: "no-policy",
      explanation: { rules: [] },
    });
  });
});

describe("explain", () => {
  it("names, for each earlier rule, the first condition that failed and the machine's value", () => {
    expect(explain(policy(), fixtureInventory("uefi-ovmf"))).toEqual({
      rules: [
        {
          index: 0,
          name: "big-memory",
          matched: false,
          failed: {
            index: 0,
            fact: "installedMemoryBytes",
            operator: "gte",
            expected: 16 * 2 ** 30,
            actual: 1536 * 2 ** 20,
          },
        },
        {
          index: 1,
          name: "compute-blades",
          matched: false,
          failed: { index: 0, fact: "product", operator: "glob", expected: "X1*", actual: "X4 UEFI" },
        },
        { index: 2, name: "uefi-x4", matched: true, failed: null },
      ],
    });
  });

  it("stops at the first failed condition of a rule (later ones are not reported)", () => {
    const trace = explain(policy(), fixtureInventory("q35-smbios3")).rules[1];
    // X3 fails the product glob first; its missing role and disks are not what explain reports.
    expect(trace?.failed).toMatchObject({ index: 0, fact: "product", actual: "X3" });
  });

  it("lists every rule for a machine that matches none; a missing fact shows as null", () => {
    const rules = explain(policy(), fixtureInventory("bios-defaults")).rules;
    expect(rules.map((r) => r.matched)).toEqual([false, false, false, false]);
    expect(rules[3]?.failed).toEqual({
      index: 0,
      fact: "bladeSlot",
      operator: "in",
      expected: ["Blade 12", "Blade 13"],
      actual: null,
    });
    expect(resolvePolicy(policy(), fixtureInventory("bios-defaults"))).toEqual({
      kind: "no-policy",
      explanation: { rules },
    });
  });

  it("reads well in the CLI", () => {
    const inventory = fixtureInventory("uefi-ovmf");
    const result = resolvePolicy(policy(), inventory);
    if (result.kind !== "matched") throw new Error("no match");
    const text = formatResolution({
      ...result,
      machineId: "m1",
      policyVersion: 3,
      explanation: explain(policy(), inventory),
    });
    expect(text).toBe(
      [
        'm1: rule #2 "uefi-x4" matched (policy v3)',
        `  plan ${result.planHash}: image debian-12; UEFI {"secureBoot":true,"bootOrder":"disk-first"}`,
        "earlier rules:",
        '  #0 "big-memory": installedMemoryBytes gte 16 GiB failed: the machine has 1.5 GiB',
        '  #1 "compute-blades": product glob "X1*" failed: the machine has "X4 UEFI"',
      ].join("\n"),
    );
  });
});
