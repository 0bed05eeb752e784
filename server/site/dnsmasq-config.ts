// The dnsmasq configuration the server runs its managed dnsmasq with (pure: site settings → file text).
// dnsmasq does DHCP here, no DNS (port=0), and no TFTP on a server (ours serves it: server/site/tftp.ts);
// on a rack relay, which runs no bootwright process, its own TFTP serves the network boot programs. Each
// client gets what fits it: a PXE ROM a network boot program for its architecture (DHCP option 93), iPXE
// (user class "iPXE") the one boot script over HTTP, a UEFI HTTP boot client (vendor class "HTTPClient")
// the URL of our unified kernel image. In proxy mode it never offers an address: the site's DHCP does.

/** What UEFI x64 PXE clients are given: iPXE with its own drivers, iPXE on the NIC's UEFI driver, or shim. */
export type UefiPxeProgram = "ipxe" | "snponly" | "shim";

export interface DhcpSettings {
  mode: "proxy" | "full";
  interface: string;
  /** Our IPv4 address on that interface: where TFTP answers and what dnsmasq names as the boot server. */
  address: string;
  /** The interface's network, e.g. 10.77.0.0, and mask, e.g. 255.255.255.0. */
  network: string;
  netmask: string;
  /** Full mode only: the addresses dnsmasq may lease. */
  range?: { first: string; last: string };
  /** Full mode only: dnsmasq's lease file. */
  leaseFile?: string;
  /** The URL machines reach our HTTP server at (the advertised URL). */
  serverUrl: string;
  uefiPxe: UefiPxeProgram;
  /**
   * A relay's: dnsmasq's own TFTP serves the network boot programs from this directory (no GRUB: its
   * per-machine config comes from a server's TFTP). Unset on a server, whose TFTP serves them.
   */
  tftpRoot?: string;
}

/** The network boot programs on our TFTP server (server/site/boot-files.ts has where each comes from). */
export const NBP = {
  bios: "undionly.kpxe",
  ipxe: "ipxe.efi",
  snponly: "snponly.efi",
  shim: "shimx64.efi",
} as const;

/** Where UEFI HTTP boot clients are sent: the UKI the server builds at start (server/site/uki.ts). */
export const UKI_PATH = "/boot/bootwright.efi";

function uefiProgram(settings: DhcpSettings): string {
  return NBP[settings.uefiPxe];
}

export function renderDnsmasqConfig(settings: DhcpSettings): string {
  const { address, serverUrl } = settings;
  const header =
    settings.tftpRoot === undefined
      ? [
          "# bootwright: dnsmasq settings rendered by the server from its own at every start",
          "# (server/site/dnsmasq-config.ts). Change the server's settings, not this file.",
        ]
      : [
          "# bootwright: a rack relay's dnsmasq settings, written by `bootwright relay config`",
          "# (server/site/dnsmasq-config.ts). Run it again to change them, not this file.",
        ];
  const lines = [
    ...header,
    "",
    "# DHCP only: no DNS, and nothing read from the host's dnsmasq.conf, hosts, ethers or resolv.conf.",
    "port=0",
    "no-hosts",
    "no-resolv",
    "no-ping",
    "",
    `# Only the provisioning interface (${settings.interface}).`,
    `interface=${settings.interface}`,
    "bind-interfaces",
    "except-interface=lo",
    "",
    "# Every DHCP exchange to stderr, which the server reads into its JSON log and boot log.",
    "log-facility=-",
    "log-dhcp",
    "",
    "# Who is asking: iPXE (its user class, or its option 175), UEFI HTTP boot, and the",
    "# firmware's architecture (option 93: 0 BIOS, 7 and 9 UEFI x64, 16 UEFI x64 HTTP).",
    "dhcp-userclass=set:ipxe,iPXE",
    "dhcp-match=set:ipxe,175",
    "dhcp-vendorclass=set:http,HTTPClient",
    "dhcp-match=set:bios,option:client-arch,0",
    "dhcp-match=set:efi64,option:client-arch,7",
    "dhcp-match=set:efi64,option:client-arch,9",
    "dhcp-match=set:http,option:client-arch,16",
    "",
  ];
  if (settings.mode === "proxy") {
    lines.push(
      "# Proxy DHCP: the site's DHCP server hands out every address; this one only says what to boot.",
      `dhcp-range=${settings.network},proxy,${settings.netmask}`,
      "# UEFI HTTP boot clients say HTTPClient where PXE ROMs say PXEClient: answer both.",
      "dhcp-pxe-vendor=PXEClient,HTTPClient",
      "",
      "# PXE ROMs that are not iPXE yet: a network boot program for their architecture, from our TFTP.",
      `pxe-service=tag:!ipxe,x86PC,"bootwright",${NBP.bios},${address}`,
      `pxe-service=tag:!ipxe,tag:!http,X86-64_EFI,"bootwright",${uefiProgram(settings)},${address}`,
      "# iPXE in a BIOS NIC's ROM takes the PXE menu dnsmasq sends BIOS clients over a plain boot file:",
      "# its one entry is the boot script's URL, which iPXE fetches itself.",
      `pxe-service=tag:ipxe,x86PC,"bootwright",${serverUrl}/boot.ipxe`,
      "",
    );
  } else {
    if (!settings.range || !settings.leaseFile) throw new Error("full DHCP needs a range and a lease file");
    lines.push(
      "# Full DHCP on an isolated network (a factory line): addresses from this range, leases kept here.",
      `dhcp-range=${settings.range.first},${settings.range.last},${settings.netmask},1h`,
      `dhcp-leasefile=${settings.leaseFile}`,
      "dhcp-authoritative",
      "",
      "# PXE ROMs that are not iPXE yet: a network boot program for their architecture, from our TFTP.",
      `dhcp-boot=tag:bios,tag:!ipxe,${NBP.bios},,${address}`,
      `dhcp-boot=tag:efi64,tag:!ipxe,tag:!http,${uefiProgram(settings)},,${address}`,
      "",
    );
  }
  if (settings.tftpRoot !== undefined) {
    if (settings.uefiPxe === "shim")
      throw new Error(
        "a relay's TFTP serves iPXE only: --uefi-pxe shim needs a server's TFTP (GRUB's config)",
      );
    lines.push(
      "# A relay: dnsmasq's own read-only TFTP serves the network boot programs above.",
      "enable-tftp",
      `tftp-root=${settings.tftpRoot}`,
      "",
    );
  }
  lines.push(
    "# iPXE (from a NIC's option ROM or chained from the programs above): the one boot script.",
    `dhcp-boot=tag:ipxe,${serverUrl}/boot.ipxe`,
    "",
    "# UEFI HTTP boot: the URL of our unified kernel image (the firmware needs option 60 echoed).",
    `dhcp-boot=tag:http,${serverUrl}${UKI_PATH}`,
    "dhcp-option-force=tag:http,60,HTTPClient",
    "",
  );
  return lines.join("\n");
}
