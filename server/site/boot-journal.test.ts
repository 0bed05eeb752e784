// The boot log's readers: dnsmasq's own lines (captured from the site-boot VM test's proxy and full
// modes), the kernel's ARP table, and which boot path an iPXE request comes by.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { SqliteStore } from "../db/sqlite/store.js";
import { Services } from "../services.js";
import { BootJournal, dhcpEventOf, parseArpTable } from "./boot-journal.js";

describe("dnsmasq lines", () => {
  it("keeps DHCP exchanges with their MAC and address", () => {
    expect(dhcpEventOf("2462601988 PXE(br0) 52:54:00:51:00:03 proxy")).toEqual({
      mac: "52:54:00:51:00:03",
      address: null,
      detail: "PXE(br0) 52:54:00:51:00:03 proxy",
    });
    expect(dhcpEventOf("1796330876 DHCPACK(br0) 10.77.2.106 52:54:00:52:00:01 ")).toEqual({
      mac: "52:54:00:52:00:01",
      address: "10.77.2.106",
      detail: "DHCPACK(br0) 10.77.2.106 52:54:00:52:00:01 ",
    });
  });

  it("leaves out option dumps, tags and start-up lines", () => {
    for (const line of [
      "2462601988 vendor class: PXEClient:Arch:00000:UNDI:002001",
      "2462601988 tags: ipxe, bios, br0",
      "2462601988 sent size:  1 option: 53 message-type  5",
      "started, version 2.90 DNS disabled",
      "DHCP, proxy on subnet 10.77.1.0",
    ])
      expect(dhcpEventOf(line)).toBeUndefined();
  });
});

describe("ARP table", () => {
  it("maps complete entries' addresses to MACs", () => {
    const text = [
      "IP address       HW type     Flags       HW address            Mask     Device",
      "10.77.1.144      0x1         0x2         52:54:00:51:00:03     *        br0",
      "10.77.1.150      0x1         0x0         00:00:00:00:00:00     *        br0",
      "",
    ].join("\n");
    expect([...parseArpTable(text)]).toEqual([["10.77.1.144", "52:54:00:51:00:03"]]);
  });
});

describe("boot journal", () => {
  /** A journal over a real store (a temp SQLite file) and an ARP table of our own. */
  function journal(): { journal: BootJournal; store: Services } {
    const dir = mkdtempSync(join(tmpdir(), "bw-journal-"));
    const store = new Services(SqliteStore.open(join(dir, "store.sqlite")));
    const arp = join(dir, "arp");
    writeFileSync(
      arp,
      "IP address HW type Flags HW address Mask Device\n10.0.0.7 0x1 0x2 52:54:00:00:00:07 * br0\n",
    );
    return { journal: new BootJournal(store, pino({ level: "silent" }), arp), store };
  }

  it("names the MAC of an address from what it learned, else from the ARP table", async () => {
    const { journal: j, store } = journal();
    j.learn("10.0.0.5", "52:54:00:00:00:05");
    j.note({ source: "tftp", event: "tftp-sent", address: "10.0.0.5", detail: "ipxe.efi" });
    j.note({ source: "tftp", event: "tftp-sent", address: "10.0.0.7", detail: "shimx64.efi" });
    j.note({ source: "tftp", event: "tftp-sent", address: "10.0.0.9", detail: "undionly.kpxe" });
    await j.flushed();
    const events = await store.bootLog({ limit: 10 });
    expect(events.map((e) => [e.address, e.mac, e.detail])).toEqual([
      ["10.0.0.5", "52:54:00:00:00:05", "ipxe.efi"],
      ["10.0.0.7", "52:54:00:00:00:07", "shimx64.efi"],
      ["10.0.0.9", null, "undionly.kpxe"],
    ]);
    expect((await store.bootLog({ mac: "52:54:00:00:00:07", limit: 10 })).map((e) => e.detail)).toEqual([
      "shimx64.efi",
    ]);
    await store.close();
  });

  it("tells iPXE chained from a TFTP program from iPXE in a NIC's ROM", () => {
    const { journal: j } = journal();
    j.programSent("10.0.0.5", "undionly.kpxe");
    j.programSent("10.0.0.6", "ipxe.efi");
    j.programSent("10.0.0.7", "grubx64.efi");
    expect(j.ipxePathFor("10.0.0.5")).toBe("pxe-bios");
    expect(j.ipxePathFor("10.0.0.6")).toBe("pxe-uefi");
    expect(j.ipxePathFor("10.0.0.7")).toBe("ipxe");
    expect(j.ipxePathFor("10.0.0.8")).toBe("ipxe");
    expect(j.ipxePathFor(undefined)).toBe("ipxe");
  });
});
