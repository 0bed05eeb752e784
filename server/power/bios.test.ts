// A plan's BIOS attributes against a BMC's AttributeRegistry, and the read-back comparison.
import { describe, expect, it } from "vitest";
import { biosDifferences, registryIssues } from "./bios.js";
import type { RegistryAttribute } from "./redfish-schema.js";

// Entries as a Dell iDRAC's BiosAttributeRegistry writes them (trimmed to the fields the check reads).
const REGISTRY: RegistryAttribute[] = [
  {
    AttributeName: "ProcTurboMode",
    Type: "Enumeration",
    Value: [{ ValueName: "Enabled" }, { ValueName: "Disabled" }],
  },
  { AttributeName: "BootDelaySeconds", Type: "Integer", LowerBound: 0, UpperBound: 30 },
  { AttributeName: "SerialNumber", Type: "String", ReadOnly: true },
  { AttributeName: "SriovGlobalEnable", Type: "Boolean" },
  { AttributeName: "AssetTag", Type: "String" },
];

describe("registryIssues", () => {
  it("accepts names, types, lists and bounds the registry allows", () => {
    expect(
      registryIssues(
        { ProcTurboMode: "Disabled", BootDelaySeconds: 30, SriovGlobalEnable: true, AssetTag: "R1-U4" },
        REGISTRY,
      ),
    ).toEqual([]);
  });

  it("names each refusal: unknown, read-only, not in the list, out of bounds, wrong type", () => {
    expect(
      registryIssues(
        {
          ProcTurbo: "Enabled",
          SerialNumber: "X",
          ProcTurboMode: "Off",
          BootDelaySeconds: 31,
          SriovGlobalEnable: "yes",
          AssetTag: 7,
        },
        REGISTRY,
      ),
    ).toEqual([
      { name: "ProcTurbo", message: "the BMC's attribute registry has no attribute ProcTurbo" },
      { name: "SerialNumber", message: "SerialNumber is read-only" },
      { name: "ProcTurboMode", message: 'ProcTurboMode must be one of Enabled, Disabled (got "Off")' },
      { name: "BootDelaySeconds", message: "BootDelaySeconds must be between 0 and 30 (got 31)" },
      { name: "SriovGlobalEnable", message: 'SriovGlobalEnable must be true or false (got "yes")' },
      { name: "AssetTag", message: "AssetTag must be text (got 7)" },
    ]);
  });
});

describe("biosDifferences", () => {
  it("lists what does not read back as wanted, absent attributes as null", () => {
    expect(
      biosDifferences(
        { ProcTurboMode: "Disabled", BootMode: "Uefi", BootDelaySeconds: 5, Gone: "x" },
        { ProcTurboMode: "Disabled", BootMode: "Legacy", BootDelaySeconds: 5 },
      ),
    ).toEqual([
      { name: "BootMode", wanted: "Uefi", actual: "Legacy" },
      { name: "Gone", wanted: "x", actual: null },
    ]);
  });
});
