// The boot log's writer, and what the server learns from it on the way: which MAC an address belongs to
// (dnsmasq's lines, the MAC in /boot/<mac>.ipxe, the kernel's ARP table), and which network boot program
// was sent to an address (so iPXE that asks for /boot/<mac>.ipxe after one is known to be chained from
// PXE, not from a NIC ROM). Writes are queued, one at a time: a boot request never waits on the log.
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import { MacAddress, type BootEvent, type BootPath } from "../../protocol/index.js";
import type { Services } from "../services.js";
import { NBP } from "./dnsmasq-config.js";

export type BootNote = Omit<BootEvent, "seq" | "at" | "mac" | "address"> & {
  mac?: MacAddress | null;
  address?: string | null;
};

const MAC = /\b([0-9a-f]{2}(?::[0-9a-f]{2}){5})\b/i;
const IPV4 = /\b(\d{1,3}(?:\.\d{1,3}){3})\b/;

/**
 * A dnsmasq log line that is a DHCP exchange ("123 DHCPACK(br0) 10.77.0.100 52:54:00:…",
 * "123 PXE(br0) 52:54:00:… proxy"), with the MAC and address in it; undefined for the rest (option
 * dumps, tags, start-up lines).
 */
export function dhcpEventOf(
  line: string,
): { mac: MacAddress | null; address: string | null; detail: string } | undefined {
  const body = line.replace(/^\d+\s+/, "");
  if (!/^(DHCP[A-Z]+|PXE|BOOTP|DHCPv?\w*)\(/.test(body)) return undefined;
  const mac = MAC.exec(body)?.[1]?.toLowerCase() ?? null;
  const parsedMac = mac === null ? null : MacAddress.safeParse(mac);
  return {
    mac: parsedMac?.success ? parsedMac.data : null,
    address: IPV4.exec(body)?.[1] ?? null,
    detail: body,
  };
}

/** /proc/net/arp: "IP address  HW type  Flags  HW address  Mask  Device" → address → MAC (complete entries). */
export function parseArpTable(text: string): Map<string, MacAddress> {
  const table = new Map<string, MacAddress>();
  for (const line of text.split("\n").slice(1)) {
    const [address, , flags, mac] = line.trim().split(/\s+/);
    if (!address || !mac || flags === "0x0") continue;
    const parsed = MacAddress.safeParse(mac.toLowerCase());
    if (parsed.success && parsed.data !== "00:00:00:00:00:00") table.set(address, parsed.data);
  }
  return table;
}

/** How long after a network boot program was sent an iPXE request from that address counts as chained. */
const CHAIN_WINDOW_MS = 10 * 60_000;

export class BootJournal {
  private readonly macs = new Map<string, MacAddress>();
  private readonly programs = new Map<string, { file: string; at: number }>();
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Services,
    private readonly log: Logger,
    private readonly arpTable = "/proc/net/arp",
  ) {}

  /**
   * Records an event and logs it, resolving the MAC from the address when it is not given (a TFTP
   * client is known by its address only: the ARP table names it).
   */
  note(event: BootNote): void {
    const address = event.address ?? null;
    const at = new Date().toISOString();
    if (event.mac && address) this.macs.set(address, event.mac);
    this.writes = this.writes
      .then(async () => {
        const mac = event.mac ?? (address ? ((await this.macOf(address)) ?? null) : null);
        const entry = { ...event, mac, address, at };
        this.log.info({ boot: entry }, "boot request");
        await this.store.appendBootEvent(entry);
      })
      .catch((err: unknown) => {
        this.log.error({ err }, "boot log write failed");
      });
  }

  /** The MAC behind an address: learned from DHCP and boot requests, else the kernel's ARP table. */
  async macOf(address: string): Promise<MacAddress | undefined> {
    const known = this.macs.get(address);
    if (known) return known;
    const fromArp = parseArpTable(await readFile(this.arpTable, "utf8").catch(() => "")).get(address);
    if (fromArp) this.macs.set(address, fromArp);
    return fromArp;
  }

  learn(address: string, mac: MacAddress): void {
    this.macs.set(address, mac);
  }

  /** A TFTP transfer finished: remember network boot programs for the boot path of what comes next. */
  programSent(address: string, file: string): void {
    this.programs.set(address, { file, at: Date.now() });
  }

  /** How iPXE asking from this address got here: chained from BIOS or UEFI PXE, or a NIC's own ROM. */
  ipxePathFor(address: string | undefined): BootPath {
    const sent = address ? this.programs.get(address) : undefined;
    if (!sent || Date.now() - sent.at > CHAIN_WINDOW_MS) return "ipxe";
    if (sent.file === NBP.bios) return "pxe-bios";
    if (sent.file === NBP.ipxe || sent.file === NBP.snponly) return "pxe-uefi";
    return "ipxe";
  }

  /** Waits for the queued writes (tests, shutdown). */
  flushed(): Promise<void> {
    return this.writes;
  }
}
