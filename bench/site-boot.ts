// boot.uefi_pxe_vs_ipxe_rom, boot.uefi_http_vs_ipxe_rom, boot.secureboot_vs_ipxe_rom: power-on → inventory
// stored, on a site network in namespaces (test-vm/site-network.ts), each way a UEFI machine can come,
// against the same OVMF machine with Debian's iPXE option ROM, in the same run, alternating, median of 3.
// The ROM, PXE and HTTP boots share a site with its own DHCP server and our proxy; Secure Boot runs on an
// isolated network where our dnsmasq is the DHCP server (Debian's signed GRUB asks the DHCP server that
// leased its address for its configuration, not a proxy: README, "Secure Boot").
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chooseAccelerator } from "../test-vm/accelerator.js";
import { requireBootArtefacts } from "../test-vm/paths.js";
import { Vm, type Firmware, type VmBoot } from "../test-vm/qemu.js";
import { SiteNetwork } from "../test-vm/site-network.js";
import { SiteServer } from "../test-vm/site-server.js";
import { median, type Figure } from "./figures.js";

const RUNS = 3;
const TIMEOUT_MS = 240_000;

type Way = "rom" | "pxe" | "http" | "secure";

const WAYS: Record<Way, { firmware: Firmware; boot: VmBoot; site: "proxy" | "full" }> = {
  rom: { firmware: "uefi", boot: { kind: "site", nic: "ipxe-rom" }, site: "proxy" },
  pxe: { firmware: "uefi", boot: { kind: "site", nic: "firmware" }, site: "proxy" },
  http: { firmware: "uefi", boot: { kind: "site", nic: "firmware", uefiPxe: false }, site: "proxy" },
  secure: { firmware: "uefi-secure", boot: { kind: "site", nic: "firmware" }, site: "full" },
};

export async function siteBootFigures(): Promise<Figure[]> {
  requireBootArtefacts();
  const accel = await chooseAccelerator();
  const dir = mkdtempSync(join(tmpdir(), "bootwright-bench-site-"));
  const proxySite = new SiteNetwork({ name: "bp", prefix: "10.78.1", workDir: join(dir, "proxy-site") });
  const fullSite = new SiteNetwork({ name: "bf", prefix: "10.78.2", workDir: join(dir, "full-site") });
  const servers: SiteServer[] = [];
  try {
    proxySite.create();
    proxySite.startSiteDhcp();
    fullSite.create();
    const sites = {
      proxy: {
        site: proxySite,
        server: await SiteServer.start(proxySite, { dataDir: join(dir, "proxy"), dhcp: "proxy" }),
      },
      full: {
        site: fullSite,
        server: await SiteServer.start(fullSite, {
          dataDir: join(dir, "full"),
          dhcp: "full",
          range: "10.78.2.100-10.78.2.150",
          uefiPxe: "shim",
        }),
      },
    };
    servers.push(sites.proxy.server, sites.full.server);

    const timeBoot = async (way: Way, index: number): Promise<number> => {
      const { firmware, boot, site } = WAYS[way];
      const { site: network, server } = sites[site];
      const wayIndex = Object.keys(WAYS).indexOf(way);
      // No -uuid: identity is the MAC, so each run is a machine of its own.
      const mac = `52:54:00:bf:0${wayIndex}:${index.toString(16).padStart(2, "0")}`;
      const vm = Vm.start({
        name: `bench-${way}-${index}`,
        workDir: join(dir, `${way}-${index}`),
        accel,
        firmware,
        boot,
        mac,
        tap: network.addTap(),
        disksMiB: [64],
      });
      try {
        await server.waitForMachine(mac, (m) => m?.inventory !== null && m !== undefined, TIMEOUT_MS);
        return (performance.now() - vm.startedAt) / 1000;
      } finally {
        await vm.stop();
      }
    };

    const seconds: Record<Way, number[]> = { rom: [], pxe: [], http: [], secure: [] };
    // Interleaved, so drift in the machine's load hits every way alike.
    for (let i = 0; i < RUNS; i++)
      for (const way of Object.keys(WAYS) as Way[]) seconds[way].push(await timeBoot(way, i));

    const round = (n: number, digits = 2): number => Number(n.toFixed(digits));
    const rom = median(seconds.rom);
    const runs = (way: Way): string => seconds[way].map((s) => round(s, 1)).join(", ");
    const figure = (id: string, way: Way, what: string, goal: string): Figure => ({
      id,
      value: round(median(seconds[way]) / rom),
      unit: "ratio",
      ours: round(median(seconds[way])),
      baseline: round(rom),
      baseline_is: "the same OVMF machine with Debian's iPXE option ROM (proxy DHCP), same run",
      note: `${what}; median of ${RUNS}, alternating; accel ${accel}; runs ${way}=[${runs(way)}] rom=[${runs("rom")}]; goal ${goal}`,
    });
    return [
      figure(
        "boot.uefi_pxe_vs_ipxe_rom",
        "pxe",
        "OVMF's own PXE → our proxy → TFTP ipxe.efi → /boot.ipxe",
        "≤ 1.3",
      ),
      figure("boot.uefi_http_vs_ipxe_rom", "http", "OVMF's UEFI HTTP boot of the loader UKI", "≤ 1.0"),
      figure(
        "boot.secureboot_vs_ipxe_rom",
        "secure",
        "Secure Boot: shim → signed GRUB → signed kernel over TFTP (isolated network, our full DHCP)",
        "≤ 1.3",
      ),
    ];
  } finally {
    await Promise.all(servers.map((server) => server.stop()));
    await proxySite.destroy();
    await fullSite.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
