// The loader's settings from /proc/cmdline: parameters, BOOTIF and the server URL.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_LLDP_WAIT_S, loaderSettings, parseBootif, parseKernelCmdline } from "./kernel-cmdline.js";

describe("parseKernelCmdline", () => {
  it("splits key=value pairs and flags, as /proc/cmdline writes them (trailing newline)", () => {
    const params = parseKernelCmdline(
      "initrd=initramfs.img console=tty0 console=ttyS0,115200n8 quiet panic=30 bootwright.server=http://10.0.2.2:8080 BOOTIF=01-52-54-00-12-34-56\n",
    );
    expect(Object.fromEntries(params)).toEqual({
      initrd: "initramfs.img",
      // The last one wins.
      console: "ttyS0,115200n8",
      quiet: "",
      panic: "30",
      "bootwright.server": "http://10.0.2.2:8080",
      BOOTIF: "01-52-54-00-12-34-56",
    });
  });

  it("keeps everything after the first = in the value and strips surrounding quotes", () => {
    const params = parseKernelCmdline('root=UUID=abcd-ef01 name="quoted"');
    expect(params.get("root")).toBe("UUID=abcd-ef01");
    expect(params.get("name")).toBe("quoted");
  });

  it("keeps spaces inside a quoted value, as the kernel does", () => {
    const params = parseKernelCmdline('quiet bootwright.note="rack 4 slot 2" panic=30\n');
    expect(Object.fromEntries(params)).toEqual({
      quiet: "",
      "bootwright.note": "rack 4 slot 2",
      panic: "30",
    });
  });

  it("returns an empty map for an empty or blank line", () => {
    expect(parseKernelCmdline("").size).toBe(0);
    expect(parseKernelCmdline("  \n").size).toBe(0);
  });
});

describe("parseBootif", () => {
  it("drops the ARP type 01 of the pxelinux form", () => {
    expect(parseBootif("01-52-54-00-12-34-56")).toBe("52:54:00:12:34:56");
    expect(parseBootif("01-52-54-00-AB-CD-EF")).toBe("52:54:00:ab:cd:ef");
  });

  it("accepts a bare MAC, with colons or dashes", () => {
    expect(parseBootif("52:54:00:12:34:56")).toBe("52:54:00:12:34:56");
    expect(parseBootif("52-54-00-12-34-56")).toBe("52:54:00:12:34:56");
  });

  it.each([undefined, "", "garbage", "01-52-54-00-12", "02-52-54-00-12-34-56", "01-52-54-00-12-34-56-78"])(
    "returns undefined for %j",
    (value) => {
      expect(parseBootif(value)).toBeUndefined();
    },
  );
});

describe("loaderSettings", () => {
  it("reads the server URL without trailing slashes, and the boot MAC", () => {
    expect(
      loaderSettings("quiet bootwright.server=http://10.0.2.2:8080// BOOTIF=01-52-54-00-12-34-56"),
    ).toEqual({
      serverUrl: "http://10.0.2.2:8080",
      bootMac: "52:54:00:12:34:56",
      benchInventoryRuns: undefined,
      benchInstallImage: undefined,
      bootPath: null,
      lldpWaitMs: 3000,
      fromMedia: false,
    });
  });

  it("knows a boot from rescue media (its settings come from the media, not the command line)", () => {
    expect(loaderSettings("bootwright.media=1 bootwright.path=media")).toMatchObject({
      fromMedia: true,
      bootPath: "media",
      serverUrl: undefined,
    });
    expect(loaderSettings("bootwright.media=0").fromMedia).toBe(false);
  });

  it("reads the boot path and the LLDP wait, ignoring what is not one", () => {
    expect(loaderSettings("bootwright.path=secure-boot bootwright.lldp-wait=0")).toMatchObject({
      bootPath: "secure-boot",
      lldpWaitMs: 0,
    });
    expect(loaderSettings("bootwright.path=floppy bootwright.lldp-wait=x")).toMatchObject({
      bootPath: null,
      lldpWaitMs: 3000,
      fromMedia: false,
    });
  });

  it("/init starts its LLDP listener with the loader's default wait", () => {
    const init = readFileSync(join(import.meta.dirname, "../../initramfs/init"), "utf8");
    expect(init).toContain(`\nlldp_wait=${DEFAULT_LLDP_WAIT_S}\n`);
  });

  it("reads the install benchmark's image only when it is one: sha256, sizes and raw sha256", () => {
    const sha = "ab".repeat(32);
    const raw = "cd".repeat(32);
    expect(loaderSettings(`bootwright.bench-install=${sha}:1000:4000:${raw}`).benchInstallImage).toEqual({
      sha256: sha,
      format: "raw.zst",
      sizeBytes: 1000,
      rawBytes: 4000,
      rawSha256: raw,
    });
    expect(loaderSettings(`bootwright.bench-install=${sha}`).benchInstallImage).toBeUndefined();
    expect(loaderSettings("bootwright.bench-install=tiny").benchInstallImage).toBeUndefined();
  });

  it("reads the inventory benchmark's run count, ignoring anything but a positive integer", () => {
    expect(loaderSettings("bootwright.bench-inventory=5").benchInventoryRuns).toBe(5);
    expect(loaderSettings("bootwright.bench-inventory=0").benchInventoryRuns).toBeUndefined();
    expect(loaderSettings("bootwright.bench-inventory=x").benchInventoryRuns).toBeUndefined();
  });

  it("leaves both undefined when the command line has neither", () => {
    expect(loaderSettings("console=ttyS0 quiet")).toEqual({
      serverUrl: undefined,
      bootMac: undefined,
      benchInventoryRuns: undefined,
      benchInstallImage: undefined,
      bootPath: null,
      lldpWaitMs: 3000,
      fromMedia: false,
    });
  });

  it("treats an empty bootwright.server= as not set", () => {
    expect(loaderSettings("bootwright.server= BOOTIF=garbage")).toEqual({
      serverUrl: undefined,
      bootMac: undefined,
      benchInventoryRuns: undefined,
      benchInstallImage: undefined,
      bootPath: null,
      lldpWaitMs: 3000,
      fromMedia: false,
    });
  });
});
