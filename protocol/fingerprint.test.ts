// The configuration fingerprint: same shape with other serials/MACs/UUIDs → same; memory or disk size → different.
import { describe, expect, it } from "vitest";
import { canonicalJson, configurationFingerprint } from "./fingerprint.js";
import type { Inventory } from "./inventory.js";
import { sha256Hex } from "./sha256.js";

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

describe("canonicalJson and sha256Hex", () => {
  it("sorts keys at every level", () => {
    expect(canonicalJson({ b: [{ d: 1, c: null }], a: "x" })).toBe('{"a":"x","b":[{"c":null,"d":1}]}');
  });

  it("matches the FIPS 180-4 test vectors", () => {
    expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
    expect(sha256Hex("a".repeat(1000))).toBe(
      "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3",
    );
  });
});
