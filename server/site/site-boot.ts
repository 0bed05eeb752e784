// Booting machines on the site network: our TFTP server and the managed dnsmasq on the provisioning
// interface, started after the HTTP server listens and stopped with it. What they see goes into the
// boot log (BootJournal); what a PXE machine is told comes from server/site/dnsmasq-config.ts.
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import type { MacAddress, SiteStatus } from "../../protocol/index.js";
import { bootFileResolver, checkBootFiles } from "./boot-files.js";
import type { BootJournal } from "./boot-journal.js";
import { dhcpEventOf } from "./boot-journal.js";
import { renderDnsmasqConfig, NBP, type UefiPxeProgram } from "./dnsmasq-config.js";
import { ManagedDnsmasq } from "./dnsmasq.js";
import { interfaceAddress, parseRange } from "./interface.js";
import { TftpServer, type TftpClient, type TftpEvent } from "./tftp.js";

export interface SiteBootSettings {
  dhcp: "proxy" | "full";
  interface: string;
  /** Full mode: "<first>-<last>". */
  range?: string | undefined;
  uefiPxe: UefiPxeProgram;
  bootFilesDir: string;
  dataDir: string;
  /** Default 69: what every PXE ROM asks. */
  tftpPort?: number;
}

export interface SiteBootDeps {
  journal: BootJournal;
  log: Logger;
  advertiseUrl: string;
  kernel: string;
  initramfs: string;
  grubConfigFor(mac: MacAddress, client: TftpClient): Promise<string>;
  fallbackGrub: string;
}

const PROGRAMS = new Set<string>(Object.values(NBP));

export class SiteBoot {
  private constructor(
    private readonly settings: SiteBootSettings,
    private readonly address: string,
    private readonly tftp: TftpServer,
    private readonly dnsmasq: ManagedDnsmasq,
    private readonly configFile: string,
  ) {}

  /** Checks the settings, starts TFTP then dnsmasq; a failure stops what started and says why. */
  static async start(settings: SiteBootSettings, deps: SiteBootDeps): Promise<SiteBoot> {
    const iface = interfaceAddress(settings.interface);
    const range = settings.dhcp === "full" ? parseRange(settings.range ?? "", iface) : undefined;
    checkBootFiles(settings.bootFilesDir);
    const { journal, log } = deps;
    const tftp = await TftpServer.start({
      address: iface.address,
      port: settings.tftpPort ?? 69,
      resolve: bootFileResolver({
        dir: settings.bootFilesDir,
        kernel: deps.kernel,
        initramfs: deps.initramfs,
        grubConfigFor: (mac, client) => deps.grubConfigFor(mac, client),
        fallbackGrub: deps.fallbackGrub,
        macOf: (address) => journal.macOf(address),
      }),
      onEvent: (event) => {
        noteTftp(journal, log, event);
      },
    });
    const configFile = join(settings.dataDir, "dnsmasq.conf");
    const config = renderDnsmasqConfig({
      mode: settings.dhcp,
      interface: iface.interface,
      address: iface.address,
      network: iface.network,
      netmask: iface.netmask,
      ...(range ? { range, leaseFile: join(settings.dataDir, "dnsmasq.leases") } : {}),
      serverUrl: deps.advertiseUrl,
      uefiPxe: settings.uefiPxe,
    });
    writeFileSync(`${configFile}.tmp`, config);
    renameSync(`${configFile}.tmp`, configFile);
    try {
      const dnsmasq = await ManagedDnsmasq.start({
        configFile,
        pidFile: join(settings.dataDir, "dnsmasq.pid"),
        log: log.child({ component: "dnsmasq" }),
        onLine: (line) => {
          const event = dhcpEventOf(line);
          if (event) journal.note({ source: "dhcp", event: "dhcp", ...event });
        },
      });
      log.info(
        {
          dhcp: settings.dhcp,
          interface: iface.interface,
          address: iface.address,
          uefiPxe: settings.uefiPxe,
        },
        "site boot running",
      );
      return new SiteBoot(settings, iface.address, tftp, dnsmasq, configFile);
    } catch (err) {
      await tftp.close();
      throw err;
    }
  }

  status(): SiteStatus {
    return {
      dhcp: this.settings.dhcp,
      interface: this.settings.interface,
      address: this.address,
      uefiPxe: this.settings.uefiPxe,
      tftp: { address: this.address, port: this.tftp.port },
      dnsmasq: this.dnsmasq.current(),
      configFile: this.configFile,
    };
  }

  async close(): Promise<void> {
    await this.dnsmasq.stop();
    await this.tftp.close();
  }
}

function noteTftp(journal: BootJournal, log: Logger, event: TftpEvent): void {
  const address = event.client.address;
  switch (event.kind) {
    case "sent":
      if (PROGRAMS.has(event.file)) journal.programSent(address, event.file);
      journal.note({
        source: "tftp",
        event: "tftp-sent",
        address,
        detail: `${event.file}: ${event.bytes} bytes in ${event.ms} ms (blocks of ${event.blksize})`,
      });
      return;
    case "not-found":
      journal.note({
        source: "tftp",
        event: "tftp-not-found",
        address,
        detail: `${event.file}: no such file`,
      });
      return;
    case "refused":
      journal.note({
        source: "tftp",
        event: "tftp-refused",
        address,
        detail: `${event.file}: ${event.reason}`,
      });
      return;
    case "failed":
      log.warn({ client: event.client, file: event.file, reason: event.reason }, "tftp transfer failed");
      journal.note({
        source: "tftp",
        event: "tftp-failed",
        address,
        detail: `${event.file}: ${event.reason} after ${event.bytes} bytes`,
      });
      return;
  }
}
