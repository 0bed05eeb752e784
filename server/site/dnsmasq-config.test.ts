// The managed dnsmasq's configuration, rendered whole and compared with golden copies (one per mode), as
// the iPXE scripts are: a changed line is a reviewed change, not an accident.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { renderDnsmasqConfig, type DhcpSettings } from "./dnsmasq-config.js";

const golden = (name: string): string => readFileSync(resolve(import.meta.dirname, "golden", name), "utf8");

const SITE: DhcpSettings = {
  mode: "proxy",
  interface: "br0",
  address: "10.77.0.1",
  network: "10.77.0.0",
  netmask: "255.255.255.0",
  serverUrl: "http://10.77.0.1:8080",
  uefiPxe: "ipxe",
};

describe("dnsmasq configuration", () => {
  it("proxy: never leases, answers PXE ROMs, iPXE and UEFI HTTP boot clients", () => {
    const text = renderDnsmasqConfig(SITE);
    expect(text).toBe(golden("dnsmasq-proxy.conf"));
    expect(text).not.toMatch(/^dhcp-range=[^,]+,[^,]+,[^,]+,\d+h$/m);
    expect(text).not.toMatch(/enable-tftp/);
  });

  it("full: leases from its range on an isolated network; UEFI PXE clients get shim", () => {
    const text = renderDnsmasqConfig({
      ...SITE,
      mode: "full",
      range: { first: "10.77.0.100", last: "10.77.0.200" },
      leaseFile: "/var/lib/bootwright/dnsmasq.leases",
      uefiPxe: "shim",
    });
    expect(text).toBe(golden("dnsmasq-full.conf"));
  });

  it("snponly: UEFI clients get iPXE on the NIC's own driver", () => {
    expect(renderDnsmasqConfig({ ...SITE, uefiPxe: "snponly" })).toMatch(
      /^pxe-service=tag:!ipxe,tag:!http,X86-64_EFI,"bootwright",snponly\.efi,10\.77\.0\.1$/m,
    );
  });

  it("refuses full mode without a range or a lease file", () => {
    expect(() => renderDnsmasqConfig({ ...SITE, mode: "full" })).toThrow(/range/);
  });
});
