// What our TFTP server has: the network boot programs (build-scripts/fetch-boot-files.sh puts them in the
// boot files directory), the loader's kernel and initramfs for GRUB, and GRUB's configuration, made per
// machine when it is asked for. Debian's signed network GRUB asks for grub/grub.cfg only (measured: no
// MAC-named file first), so that name is answered for the MAC behind the asking address when the
// server knows it, else with a script that reads grub/grub.cfg-01-<mac> for the MAC GRUB booted from.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { MacAddress } from "../../protocol/index.js";
import { NBP } from "./dnsmasq-config.js";
import { SiteNetworkError } from "./interface.js";
import type { TftpClient, TftpResolve } from "./tftp.js";

export interface BootFiles {
  /** Where the network boot programs are (default build/boot-files). */
  dir: string;
  kernel: string;
  initramfs: string;
  /** The GRUB script for a machine (the same decision as /boot/<mac>.ipxe). */
  grubConfigFor(mac: MacAddress, client: TftpClient): Promise<string>;
  /** The script for a GRUB whose machine we cannot name yet. */
  fallbackGrub: string;
  macOf(address: string): Promise<MacAddress | undefined>;
}

/** Every program named in our DHCP answers must be there, or machines would fail at their first file. */
export function checkBootFiles(dir: string): void {
  const missing = [...Object.values(NBP), "grubx64.efi"].filter((name) => !existsSync(join(dir, name)));
  if (missing.length > 0)
    throw new SiteNetworkError(
      `boot files missing from ${dir}: ${missing.join(", ")} (run build-scripts/setup.sh)`,
      { setting: "bootFilesDir" },
    );
}

const GRUB_CONFIG = /^grub\/(?:x86_64-efi\/)?grub\.cfg$/;
const GRUB_MAC_CONFIG = /^grub\/grub\.cfg-01-([0-9a-f]{2}(?:-[0-9a-f]{2}){5})$/i;

export function bootFileResolver(files: BootFiles): TftpResolve {
  const programs = new Set<string>([...Object.values(NBP), "grubx64.efi"]);
  return async (name, client) => {
    if (programs.has(name)) return { kind: "file", path: join(files.dir, name) };
    if (name === "vmlinuz") return { kind: "file", path: files.kernel };
    if (name === "initramfs.img") return { kind: "file", path: files.initramfs };
    const named = GRUB_MAC_CONFIG.exec(name)?.[1];
    const mac = named
      ? MacAddress.safeParse(named.replaceAll("-", ":").toLowerCase()).data
      : GRUB_CONFIG.test(name)
        ? await files.macOf(client.address)
        : undefined;
    if (mac) return { kind: "bytes", bytes: Buffer.from(await files.grubConfigFor(mac, client)) };
    if (GRUB_CONFIG.test(name)) return { kind: "bytes", bytes: Buffer.from(files.fallbackGrub) };
    return undefined;
  };
}
