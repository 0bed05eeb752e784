// The policy schema's pure parts: sizes, which inventory paths are facts, and the plan's own rules.
import { describe, expect, it } from "vitest";
import { PlanSpec } from "./plan-spec.js";
import { COMPUTED_FACTS, isInventoryPath, Policy } from "./policy.js";
import { parseSize } from "./sizes.js";

describe("parseSize", () => {
  it.each([
    ["64GiB", 64 * 2 ** 30],
    ["64 gib", 64 * 2 ** 30],
    ["500GB", 500e9],
    ["1.5TiB", 1.5 * 2 ** 40],
    ["512", 512],
    ["512B", 512],
    ["0", 0],
  ])("%s → %d bytes", (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(["", "GiB", "-1GiB", "64 gigs", "1e3", "64GiBs", "99999999PiB"])("refuses %j", (text) => {
    expect(parseSize(text)).toBeNull();
  });
});

describe("isInventoryPath", () => {
  it.each([
    "system.product",
    "memoryBytes",
    "disks.length",
    "disks.0.sizeBytes",
    "details.firmwareType",
    "details.smbios.baseboard.locationInChassis",
    "details.smbios.oemStrings.0",
    "details.nics.1.driver",
    "details",
  ])("knows %s", (path) => {
    expect(isInventoryPath(path)).toBe(true);
  });

  it.each([
    "system.prodct",
    "disks.first",
    "disks.01",
    "memoryBytes.length",
    "system.product.length",
    "",
    "details.smbios.baseboard.slot",
  ])("refuses %j", (path) => {
    expect(isInventoryPath(path)).toBe(false);
  });

  it("no computed fact hides behind an inventory path of another meaning", () => {
    // memoryBytes is both, with the same value; every other computed name is not an inventory path.
    expect(Object.keys(COMPUTED_FACTS).filter(isInventoryPath)).toEqual(["memoryBytes", "bootMac"]);
  });
});

describe("PlanSpec", () => {
  it("accepts a full plan and reads sizes into bytes", () => {
    expect(
      PlanSpec.parse({
        image: "sha256:abc",
        uefi: { secureBoot: false, bootOrder: "network-first", variables: { Timeout: "3" } },
        raid: { level: 10, disks: 4 },
        partitions: [
          { label: "efi", mount: "/boot/efi", size: "512MiB", fs: "vfat" },
          { label: "swap", size: "4GiB", fs: "swap" },
          { label: "root", mount: "/", size: "rest", fs: "xfs" },
        ],
        steps: ["firmware-update"],
      }).partitions?.map((p) => p.size),
    ).toEqual([512 * 2 ** 20, 4 * 2 ** 30, "rest"]);
  });

  it.each([
    [{ image: "" }, "image"],
    [{ image: "i", raid: { level: 5, disks: 2 } }, "raid.disks"],
    [{ image: "i", raid: { level: 6, disks: 4 } }, "raid.level"],
    [
      {
        image: "i",
        partitions: [
          { label: "a", mount: "/", size: "rest", fs: "ext4" },
          { label: "b", mount: "/b", size: 1048576, fs: "ext4" },
        ],
      },
      "partitions.0.size",
    ],
    [
      { image: "i", partitions: [{ label: "a", mount: "/", size: "1000KB", fs: "ext4" }] },
      "partitions.0.size",
    ],
    [{ image: "i", partitions: [{ label: "s", mount: "/swap", size: "1GiB", fs: "swap" }] }, "partitions.0"],
    [{ image: "i", steps: ["Bad Step"] }, "steps.0"],
    [{ image: "i", uefi: { bootOrder: "pxe" } }, "uefi.bootOrder"],
  ])("refuses %j at %s", (plan, path) => {
    const parsed = PlanSpec.safeParse(plan);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((i) => i.path.join("."))).toContain(path);
  });
});

it("Policy refuses duplicate rule names at the second one", () => {
  const rule = { name: "a", match: [], plan: { image: "i" } };
  const parsed = Policy.safeParse({ rules: [rule, { ...rule, name: "b" }, rule] });
  expect(parsed.error?.issues.map((i) => i.path.join("."))).toEqual(["rules.2.name"]);
});

describe("Policy: enrollment", () => {
  it("absent means auto; allowlist needs a list, and a list needs allowlist mode", () => {
    expect(Policy.parse({ rules: [] }).enrollment).toBeUndefined();
    expect(Policy.parse({ rules: [], enrollment: "approve" }).enrollment).toBe("approve");
    expect(
      Policy.parse({ rules: [], enrollment: "allowlist", allowlist: { macs: ["52-54-00-AA-00-01"] } })
        .allowlist,
    ).toEqual({ macs: ["52:54:00:aa:00:01"], serials: [], assetTags: [] });
    const paths = (policy: unknown) =>
      (Policy.safeParse(policy).error?.issues ?? []).map((issue) => issue.path.join("."));
    expect(paths({ rules: [], enrollment: "allowlist" })).toEqual(["enrollment"]);
    expect(paths({ rules: [], allowlist: { serials: ["S"] } })).toEqual(["allowlist"]);
    expect(paths({ rules: [], enrollment: "sometimes" })).toEqual(["enrollment"]);
  });
});
