// parseLease on the exact text initramfs/udhcpc.script writes (printf 'interface=%s\nip=%s\n…'), and
// leaseFile against the script's own lease_dir.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { LEASE_DIR, leaseFile, parseLease } from "./dhcp-lease.js";

/** What the script's printf produces for these udhcpc variables. */
function leaseText(vars: {
  interface: string;
  ip: string;
  mask: string;
  router: string;
  dns: string;
  serverid: string;
}): string {
  return `interface=${vars.interface}\nip=${vars.ip}\nmask=${vars.mask}\nrouter=${vars.router}\ndns=${vars.dns}\nserverid=${vars.serverid}\n`;
}

describe("parseLease", () => {
  it("reads a full lease (QEMU user networking)", () => {
    const text = leaseText({
      interface: "eth0",
      ip: "10.0.2.15",
      mask: "24",
      router: "10.0.2.2",
      dns: "10.0.2.3",
      serverid: "10.0.2.2",
    });
    expect(parseLease(text)).toEqual({
      interface: "eth0",
      ip: "10.0.2.15",
      prefixLength: 24,
      router: "10.0.2.2",
      dns: ["10.0.2.3"],
      dhcpServer: "10.0.2.2",
    });
  });

  it("takes the first of several routers and every DNS server", () => {
    const text = leaseText({
      interface: "enp1s0",
      ip: "192.168.1.50",
      mask: "16",
      router: "192.168.1.1 192.168.1.2",
      dns: "192.168.1.1 1.1.1.1",
      serverid: "192.168.1.1",
    });
    expect(parseLease(text)).toMatchObject({
      router: "192.168.1.1",
      dns: ["192.168.1.1", "1.1.1.1"],
      prefixLength: 16,
    });
  });

  it("turns the empty values of a minimal lease into null and []", () => {
    const text = leaseText({
      interface: "eth1",
      ip: "10.1.0.9",
      mask: "",
      router: "",
      dns: "",
      serverid: "",
    });
    expect(parseLease(text)).toEqual({
      interface: "eth1",
      ip: "10.1.0.9",
      prefixLength: null,
      router: null,
      dns: [],
      dhcpServer: null,
    });
  });

  it("returns undefined without an ip or an interface", () => {
    expect(parseLease("")).toBeUndefined();
    expect(
      parseLease(leaseText({ interface: "eth0", ip: "", mask: "24", router: "", dns: "", serverid: "" })),
    ).toBeUndefined();
    expect(parseLease("ip=10.0.2.15\nmask=24\n")).toBeUndefined();
  });

  it("rejects a mask that is not a prefix length", () => {
    const text = leaseText({
      interface: "eth0",
      ip: "10.0.2.15",
      mask: "255.255.255.0",
      router: "",
      dns: "",
      serverid: "",
    });
    expect(parseLease(text)?.prefixLength).toBeNull();
  });
});

describe("leaseFile", () => {
  it("is where initramfs/udhcpc.script writes, under the root it is given", () => {
    const script = readFileSync(new URL("../../initramfs/udhcpc.script", import.meta.url), "utf8");
    expect(/^lease_dir=(.+)$/m.exec(script)?.[1]).toBe(LEASE_DIR);
    expect(script).toContain('"$lease_dir/lease-$interface"');
    expect(leaseFile("eth0")).toBe("/run/bootwright/lease-eth0");
    expect(leaseFile("enp1s0", "/tmp/fake-root")).toBe("/tmp/fake-root/run/bootwright/lease-enp1s0");
  });
});
