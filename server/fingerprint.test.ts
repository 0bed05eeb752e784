// The configuration fingerprint: same shape with other serials/MACs/UUIDs → same; memory or disk size → different.
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../protocol/policy/canonical-json.js";
import { configurationFingerprint } from "./fingerprint.js";
import type { Inventory } from "../protocol/index.js";

function machine(serial: string, mac: string, memoryGiB: number, diskBytes: number): Inventory {
  return {
    bootMac: mac,
    system: { manufacturer: "Acme", product: "X1", serial, uuid: `uuid-${serial}` },
    cpu: { model: "AMD EPYC", logicalCount: 4 },
    memoryBytes: memoryGiB * 2 ** 30 - 170 * 2 ** 20,
    nics: [{ name: "eth0", mac }],
    disks: [{ name: "vda", sizeBytes: diskBytes }],
    details: {
      firmwareType: "uefi",
      smbios: null,
      smbiosError: null,
      cpu: { vendor: "AuthenticAMD", sockets: 2, cores: 4, threads: 4, flags: ["aes", "avx2"] },
      memory: { totalBytes: memoryGiB * 2 ** 30 - 170 * 2 ** 20, installedBytes: memoryGiB * 2 ** 30 },
      nics: [
        {
          name: "eth0",
          mac,
          driver: "virtio_net",
          pciAddress: "0000:00:03.0",
          speedMbps: null,
          carrier: true,
        },
      ],
      disks: [
        {
          name: "vda",
          sizeBytes: diskBytes,
          model: null,
          serial: `disk-${serial}`,
          wwn: null,
          kind: "virtual",
          rotational: true,
          busPath: "pci0000:00/0000:00:04.0/virtio1/block/vda",
          pciAddress: "0000:00:04.0",
        },
      ],
      storageControllers: [],
      network: null,
    },
  };
}

describe("configurationFingerprint", () => {
  const a = machine("SN-1", "52:54:00:00:00:01", 4, 10 * 2 ** 30);

  it("is the same for two machines of one shape with different serials, MACs and UUIDs", () => {
    expect(configurationFingerprint(machine("SN-2", "52:54:00:00:00:02", 4, 10 * 2 ** 30))).toBe(
      configurationFingerprint(a),
    );
    expect(configurationFingerprint(a)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("changes with the memory size or a disk size", () => {
    expect(configurationFingerprint(machine("SN-1", "52:54:00:00:00:01", 8, 10 * 2 ** 30))).not.toBe(
      configurationFingerprint(a),
    );
    expect(configurationFingerprint(machine("SN-1", "52:54:00:00:00:01", 4, 20 * 2 ** 30))).not.toBe(
      configurationFingerprint(a),
    );
  });

  it("works on a minimal inventory (no details), rounding MemTotal up to 256 MiB", () => {
    const minimal: Inventory = { ...a };
    delete minimal.details;
    const other = {
      ...minimal,
      memoryBytes: minimal.memoryBytes + 1024,
      system: { ...minimal.system, serial: "x" },
    };
    expect(configurationFingerprint(other)).toBe(configurationFingerprint(minimal));
  });
});

describe("canonicalJson", () => {
  it("sorts keys at every level", () => {
    expect(canonicalJson({ b: [{ d: 1, c: null }], a: "x" })).toBe('{"a":"x","b":[{"c":null,"d":1}]}');
  });
});
