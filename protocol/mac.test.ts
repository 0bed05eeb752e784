// normalizeMac, isRealSmbiosUuid and machineIdentity: the identity conventions of architecture.md.
import { describe, expect, it } from "vitest";
import { isRealSmbiosUuid, machineIdentity, normalizeMac } from "./mac.js";

describe("normalizeMac", () => {
  it("keeps a canonical MAC as it is", () => {
    expect(normalizeMac("52:54:00:12:34:56")).toBe("52:54:00:12:34:56");
  });

  it("lower-cases, trims and turns dashes into colons", () => {
    expect(normalizeMac("52-54-00-AB-CD-EF")).toBe("52:54:00:ab:cd:ef");
    expect(normalizeMac("  52:54:00:AB:CD:EF\n")).toBe("52:54:00:ab:cd:ef");
  });

  it.each([
    "",
    "52:54:00:12:34",
    "52:54:00:12:34:56:78",
    "52:54:00:12:34:5g",
    "525400123456",
    "5254.0012.3456",
    "52:54:00:12:34:5",
    "01-52-54-00-12-34-56",
  ])("rejects %j", (raw) => {
    expect(normalizeMac(raw)).toBeUndefined();
  });
});

describe("isRealSmbiosUuid", () => {
  it("accepts a real UUID in either case, with surrounding whitespace", () => {
    expect(isRealSmbiosUuid("4c4c4544-0042-3510-8051-b7c04f4e3132")).toBe(true);
    expect(isRealSmbiosUuid(" 4C4C4544-0042-3510-8051-B7C04F4E3132\n")).toBe(true);
  });

  it.each([
    ["all zeros (SMBIOS: not present)", "00000000-0000-0000-0000-000000000000"],
    ["all FF (SMBIOS: not set)", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"],
    ["all ff, lower case", "ffffffff-ffff-ffff-ffff-ffffffffffff"],
    ["not a UUID", "Not Settable"],
    ["missing dashes", "4c4c4544004235108051b7c04f4e3132"],
    ["empty", ""],
  ])("rejects %s", (_label, uuid) => {
    expect(isRealSmbiosUuid(uuid)).toBe(false);
  });

  it("rejects undefined and null", () => {
    expect(isRealSmbiosUuid(undefined)).toBe(false);
    expect(isRealSmbiosUuid(null)).toBe(false);
  });
});

describe("machineIdentity", () => {
  const mac = "52:54:00:12:34:56";

  it("is the SMBIOS UUID, lower-cased and trimmed, when it is real", () => {
    expect(machineIdentity(" 4C4C4544-0042-3510-8051-B7C04F4E3132\n", mac)).toBe(
      "4c4c4544-0042-3510-8051-b7c04f4e3132",
    );
  });

  it("falls back to the boot MAC when the UUID is a placeholder or absent", () => {
    expect(machineIdentity("00000000-0000-0000-0000-000000000000", mac)).toBe(mac);
    expect(machineIdentity("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", mac)).toBe(mac);
    expect(machineIdentity(null, mac)).toBe(mac);
    expect(machineIdentity(undefined, mac)).toBe(mac);
    expect(machineIdentity("garbage", mac)).toBe(mac);
  });
});
