// Module closure through modules.dep, on a sample in the format depmod writes (Debian: .ko.xz).
import { describe, expect, it } from "vitest";
import {
  expandModuleList,
  isSignedModule,
  moduleClosure,
  moduleName,
  parseModuleList,
  parseModulesDep,
} from "./module-tree.js";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const MODULES_DEP = [
  "kernel/drivers/net/virtio_net.ko.xz: kernel/drivers/net/net_failover.ko.xz kernel/net/core/failover.ko.xz",
  "kernel/drivers/net/net_failover.ko.xz: kernel/net/core/failover.ko.xz",
  "kernel/net/core/failover.ko.xz:",
  "kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko.xz: kernel/drivers/ptp/ptp.ko.xz kernel/drivers/pps/pps_core.ko.xz",
  "kernel/drivers/ptp/ptp.ko.xz: kernel/drivers/pps/pps_core.ko.xz",
  "kernel/drivers/pps/pps_core.ko.xz:",
  "kernel/sound/pci/hda/snd-hda-intel.ko.xz: kernel/sound/pci/hda/snd-hda-codec.ko.xz",
  "kernel/sound/pci/hda/snd-hda-codec.ko.xz:",
  "kernel/drivers/block/nbd.ko.xz:",
  "",
].join("\n");

describe("moduleName", () => {
  it("drops the directory and the (compressed) .ko suffix, and writes - as _", () => {
    expect(moduleName("kernel/sound/pci/hda/snd-hda-intel.ko.xz")).toBe("snd_hda_intel");
    expect(moduleName("kernel/drivers/net/virtio_net.ko")).toBe("virtio_net");
    expect(moduleName("kernel/drivers/net/virtio_net.ko.zst")).toBe("virtio_net");
    expect(moduleName("virtio_blk.ko.gz")).toBe("virtio_blk");
  });
});

describe("parseModulesDep", () => {
  it("maps each module path to its dependency paths, none for an empty list", () => {
    const deps = parseModulesDep(MODULES_DEP);
    expect(deps.size).toBe(9);
    expect(deps.get("kernel/drivers/net/virtio_net.ko.xz")).toEqual([
      "kernel/drivers/net/net_failover.ko.xz",
      "kernel/net/core/failover.ko.xz",
    ]);
    expect(deps.get("kernel/net/core/failover.ko.xz")).toEqual([]);
  });
});

describe("moduleClosure", () => {
  it("brings in dependencies transitively, once each, sorted", () => {
    expect(moduleClosure(MODULES_DEP, ["virtio_net", "e1000e"], new Set())).toEqual([
      "kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko.xz",
      "kernel/drivers/net/net_failover.ko.xz",
      "kernel/drivers/net/virtio_net.ko.xz",
      "kernel/drivers/pps/pps_core.ko.xz",
      "kernel/drivers/ptp/ptp.ko.xz",
      "kernel/net/core/failover.ko.xz",
    ]);
  });

  it("treats - and _ alike, in either direction", () => {
    const expected = ["kernel/sound/pci/hda/snd-hda-codec.ko.xz", "kernel/sound/pci/hda/snd-hda-intel.ko.xz"];
    expect(moduleClosure(MODULES_DEP, ["snd_hda_intel"], new Set())).toEqual(expected);
    expect(moduleClosure(MODULES_DEP, ["snd-hda-intel"], new Set())).toEqual(expected);
    expect(moduleClosure(MODULES_DEP, ["virtio-net"], new Set())).toContain(
      "kernel/drivers/net/virtio_net.ko.xz",
    );
  });

  it("skips built-in modules: nothing to copy, no error", () => {
    const builtin = new Set(["virtio_pci", "af_packet"]);
    expect(moduleClosure(MODULES_DEP, ["virtio_pci", "af-packet", "nbd"], builtin)).toEqual([
      "kernel/drivers/block/nbd.ko.xz",
    ]);
  });

  it("throws naming every module that is neither in modules.dep nor built in", () => {
    expect(() =>
      moduleClosure(MODULES_DEP, ["virtio_net", "virtio_nett", "ixgbe"], new Set(["virtio_pci"])),
    ).toThrow("kernel modules not found in modules.dep nor built in: virtio_nett, ixgbe");
  });

  it("is empty for no wanted modules", () => {
    expect(moduleClosure(MODULES_DEP, [], new Set())).toEqual([]);
  });
});

describe("parseModuleList", () => {
  it("reads one name a line, ignoring comments, trailing comments and blank lines", () => {
    const text = [
      "# Kernel modules the initramfs carries.",
      "# Network:",
      "virtio_pci",
      "  virtio_net  ",
      "e1000e # Intel, QEMU's default",
      "",
      "   # indented comment",
      "af_packet",
    ].join("\n");
    expect(parseModuleList(text)).toEqual(["virtio_pci", "virtio_net", "e1000e", "af_packet"]);
  });

  it("is empty for only comments", () => {
    expect(parseModuleList("# nothing\n\n")).toEqual([]);
  });
});

describe("isSignedModule", () => {
  const kernel = join(import.meta.dirname, "../../build/kernel");
  it("knows Debian's signed modules from one whose signature was cut", () => {
    const version = readFileSync(join(kernel, "VERSION"), "utf8").trim();
    const dir = join(kernel, "lib/modules", version, "kernel/drivers/net");
    const virtioNet = readFileSync(join(dir, readdirSync(dir).find((f) => f.startsWith("virtio_net")) ?? ""));
    expect(isSignedModule(virtioNet)).toBe(true);
    expect(isSignedModule(virtioNet.subarray(0, virtioNet.length - 600))).toBe(false);
  });
});

describe("expandModuleList", () => {
  const paths = [
    "kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko",
    "kernel/drivers/net/ethernet/intel/ixgbevf/ixgbevf.ko",
    "kernel/drivers/net/ethernet/3com/3c589_cs.ko",
    "kernel/drivers/net/ethernet/realtek/8139too.ko",
    "kernel/drivers/block/nbd.ko",
  ];

  it("turns a folder into every module under it, less those a -glob drops, names as given kept", () => {
    expect(expandModuleList(paths, ["kernel/drivers/net/ethernet/", "-*_cs", "-*vf", "virtio-net"])).toEqual([
      "e1000e",
      "8139too",
      "virtio_net",
    ]);
  });

  it("fails on a folder with no module (a typo must not build a NIC-less initramfs)", () => {
    expect(() => expandModuleList(paths, ["kernel/drivers/net/ethernt/"])).toThrow(/no kernel modules under/);
  });
});
