// What `bootwright site` and `bootwright boot-log` print (pure formatting).
import { describe, expect, it } from "vitest";
import { formatBootLog, formatSite } from "./site-commands.js";

describe("site CLI", () => {
  it("prints the boot log one request per line, in order", () => {
    const text = formatBootLog({
      events: [
        {
          seq: 1,
          at: "2026-12-03T09:00:00.000Z",
          mac: "52:54:00:51:00:01",
          address: null,
          source: "dhcp",
          event: "dhcp",
          detail: "PXE(br0) 52:54:00:51:00:01 proxy",
        },
        {
          seq: 2,
          at: "2026-12-03T09:00:01.000Z",
          mac: "52:54:00:51:00:01",
          address: "10.77.1.144",
          source: "tftp",
          event: "tftp-sent",
          detail: "ipxe.efi: 850528 bytes in 200 ms (blocks of 1468)",
        },
      ],
    });
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^AT\s+MAC\s+ADDRESS\s+SOURCE\s+EVENT\s+DETAIL$/);
    expect(lines[1]).toMatch(/52:54:00:51:00:01\s+-\s+dhcp\s+dhcp\s+PXE\(br0\)/);
    expect(lines[2]).toMatch(/10\.77\.1\.144\s+tftp\s+tftp-sent\s+ipxe\.efi/);
    expect(formatBootLog({ events: [] })).toBe("no boot requests logged yet");
  });

  it("prints the managed dnsmasq's state, with how it last died", () => {
    const text = formatSite({
      dhcp: "proxy",
      interface: "br0",
      address: "10.77.1.1",
      uefiPxe: "ipxe",
      tftp: { address: "10.77.1.1", port: 69 },
      dnsmasq: {
        pid: 4242,
        restarts: 1,
        startedAt: "2026-12-03T09:00:00.000Z",
        lastExit: { at: "2026-12-03T08:59:59.000Z", code: null, signal: "SIGKILL", reason: "no output" },
      },
      configFile: "/var/lib/bootwright/dnsmasq.conf",
    });
    expect(text).toMatch(/dhcp\s+proxy on br0 \(10\.77\.1\.1\)/);
    expect(text).toMatch(/dnsmasq\s+pid 4242, restarts 1; last exit .* \(SIGKILL: no output\)/);
    expect(
      formatSite({
        dhcp: "off",
        interface: null,
        address: null,
        uefiPxe: null,
        tftp: null,
        dnsmasq: null,
        configFile: null,
      }),
    ).toMatch(/dhcp off/);
  });
});
