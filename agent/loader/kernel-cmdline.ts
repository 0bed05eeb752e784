// Reads the loader's settings from the kernel command line (pure: takes the text of /proc/cmdline).
import { BootPath, ImageSource, normalizeMac, type MacAddress } from "../../protocol/index.js";

export interface LoaderSettings {
  /** bootwright.server=<url>: the server's advertised URL. */
  serverUrl: string | undefined;
  /** BOOTIF=01-aa-bb-…: the NIC iPXE booted from (pxelinux convention: "01" is the ARP type, Ethernet). */
  bootMac: MacAddress | undefined;
  /** bootwright.bench-inventory=N: time the full and the minimal inventory N times each (npm run bench). */
  benchInventoryRuns: number | undefined;
  /**
   * bootwright.bench-install=<sha256>:<sizeBytes>:<rawBytes>:<rawSha256> (the image as the server
   * describes it): time our install stream against wget | zstd | dd (npm run bench).
   */
  benchInstallImage: ImageSource | undefined;
  /** bootwright.bench-erase=N: time the full erase against dd, and the quick erase, N times (npm run bench). */
  benchEraseRuns: number | undefined;
  /** bootwright.path=: how we were booted (whoever wrote this command line knows); null when not said. */
  bootPath: BootPath | null;
  /**
   * bootwright.lldp-wait=<seconds>: how long, from the NICs' appearance, the inventory may wait for a
   * switch's LLDP frame (switches with fast start send one within a second of link-up). Default 3; 0 off.
   */
  lldpWaitMs: number;
  /**
   * bootwright.ca=sha256:<hex>: the CA the server's TLS certificate must chain to (agent/shared/
   * pinned-tls.ts); undefined when not given or malformed.
   */
  caFingerprint: string | undefined;
  /** bootwright.media=1: booted from rescue media, whose settings file names the server (boot-media.ts). */
  fromMedia: boolean;
}

export const DEFAULT_LLDP_WAIT_S = 3;

/** Splits a kernel command line into key → value (flags without "=" get ""); the last one wins. */
export function parseKernelCmdline(text: string): Map<string, string> {
  const params = new Map<string, string>();
  // A double-quoted stretch may hold spaces (`name="a b"`), as the kernel's own parser allows.
  for (const token of text.match(/(?:"[^"]*"?|[^\s"])+/g) ?? []) {
    const eq = token.indexOf("=");
    if (eq === -1) params.set(token, "");
    else params.set(token.slice(0, eq), token.slice(eq + 1).replace(/^"(.*)"$/, "$1"));
  }
  return params;
}

/** BOOTIF is `01-aa-bb-cc-dd-ee-ff` from pxelinux/iPXE; a bare MAC is accepted too. */
export function parseBootif(value: string | undefined): MacAddress | undefined {
  if (!value) return undefined;
  const hex = value.toLowerCase();
  const withoutType = /^01-([0-9a-f]{2}-){5}[0-9a-f]{2}$/.test(hex) ? hex.slice(3) : hex;
  return normalizeMac(withoutType);
}

export function loaderSettings(cmdline: string): LoaderSettings {
  const params = parseKernelCmdline(cmdline);
  const server = params.get("bootwright.server");
  return {
    serverUrl: server ? server.replace(/\/+$/, "") : undefined,
    bootMac: parseBootif(params.get("BOOTIF")),
    benchInventoryRuns: positiveInt(params.get("bootwright.bench-inventory")),
    benchInstallImage: benchImage(params.get("bootwright.bench-install")),
    benchEraseRuns: positiveInt(params.get("bootwright.bench-erase")),
    bootPath: BootPath.safeParse(params.get("bootwright.path")).data ?? null,
    lldpWaitMs: lldpWaitSeconds(params.get("bootwright.lldp-wait")) * 1000,
    caFingerprint: /^sha256:[0-9a-f]{64}$/i.test(params.get("bootwright.ca") ?? "")
      ? params.get("bootwright.ca")?.toLowerCase()
      : undefined,
    fromMedia: params.get("bootwright.media") === "1",
  };
}

function lldpWaitSeconds(value: string | undefined): number {
  const n = Number(value);
  return value !== undefined && value !== "" && Number.isFinite(n) && n >= 0 && n <= 60
    ? n
    : DEFAULT_LLDP_WAIT_S;
}

function positiveInt(value: string | undefined): number | undefined {
  const n = Number(value);
  return value !== undefined && Number.isInteger(n) && n > 0 ? n : undefined;
}

/** "<sha256>:<sizeBytes>:<rawBytes>:<rawSha256>" → the image's source, or undefined when it is not one. */
function benchImage(value: string | undefined): ImageSource | undefined {
  const [sha256, size, raw, rawSha256] = (value ?? "").split(":");
  return ImageSource.safeParse({
    sha256,
    format: "raw.zst",
    sizeBytes: Number(size),
    rawBytes: Number(raw),
    rawSha256,
  }).data;
}
