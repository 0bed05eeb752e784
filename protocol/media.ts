// The rescue media's settings file (bootwright.cfg on the media's EFI system partition): written by
// `bootwright media build`, edited by a technician in any text editor, read by the loader at every boot.
// key=value lines, so pointing a stick at another server needs no rebuild (Tinkerbell binary-patches its
// ISO for this). Pure: both sides import it.
import * as z from "zod";

/** The FAT volume label of the media's EFI system partition: how the loader finds the media. */
export const MEDIA_LABEL = "BWMEDIA";
/** The settings file's name at the root of that partition. */
export const MEDIA_SETTINGS_FILE = "bootwright.cfg";
/** On the kernel command line of the media's boot entries: the settings come from the media, not from here. */
export const MEDIA_CMDLINE_FLAG = "bootwright.media=1";

/** Where the server serves its own rescue media (for a BMC's virtual CD: no credential, nothing secret). */
export const RESCUE_MEDIA_PATH = "/media/rescue.iso";

const Ipv4 = z.ipv4();

/** `static=<address>/<prefix>,<gateway>,<dns>[,<dns>…]`: for networks without DHCP. */
export const MediaStaticAddress = z.strictObject({
  address: Ipv4,
  prefix: z.number().int().min(1).max(32),
  gateway: Ipv4,
  dns: z.array(Ipv4),
});
export type MediaStaticAddress = z.infer<typeof MediaStaticAddress>;

export const MediaSettings = z
  .strictObject({
    /**
     * server=: the bootwright server's URL as machines reach it (its advertised URL). Offline media may
     * leave it out (then the installed OS has no server to call home to).
     */
    server: z
      .url({ protocol: /^https?$/ })
      .transform((url) => url.replace(/\/+$/, ""))
      .optional(),
    /** offline=yes: the media carries its image and policy (protocol/offline-media.ts); no server is asked. */
    offline: z.literal("yes").optional(),
    /** ca=sha256:<hex>: the CA the server's TLS certificate must chain to (bootwright init prints it). */
    ca: z
      .string()
      .regex(/^sha256:[0-9a-f]{64}$/i, "must be sha256: and 64 hex digits")
      .transform((ca) => ca.toLowerCase())
      .optional(),
    /** static=: addressing for networks without DHCP; without it every NIC with a link tries DHCP. */
    static: MediaStaticAddress.optional(),
  })
  .refine((settings) => settings.server !== undefined || settings.offline === "yes", {
    path: ["server"],
    message: "required (unless offline=yes)",
  });
export type MediaSettings = z.infer<typeof MediaSettings>;

export interface MediaSettingsIssue {
  line: number | null;
  message: string;
}

export type MediaSettingsResult =
  { ok: true; settings: MediaSettings } | { ok: false; issues: MediaSettingsIssue[] };

const KEYS = new Set(["server", "ca", "static", "offline"]);

/** "10.0.0.5/24,10.0.0.1,10.0.0.53" → its parts (validated by the schema afterwards). */
function splitStatic(value: string): unknown {
  const [cidr = "", gateway = "", ...dns] = value.split(",").map((part) => part.trim());
  const [address = "", prefix = ""] = cidr.split("/");
  return { address, prefix: prefix === "" ? Number.NaN : Number(prefix), gateway, dns };
}

/** Parses the settings file's text: blank lines and `#` comments are ignored; each issue names its line. */
export function parseMediaSettings(text: string): MediaSettingsResult {
  const issues: MediaSettingsIssue[] = [];
  const raw: Record<string, unknown> = {};
  const lineOf = new Map<string, number>();
  text.split(/\r?\n/).forEach((full, index) => {
    const line = full.trim();
    if (line === "" || line.startsWith("#")) return;
    const eq = line.indexOf("=");
    const key = eq === -1 ? line : line.slice(0, eq).trim();
    const value = eq === -1 ? "" : line.slice(eq + 1).trim();
    if (eq === -1 || !KEYS.has(key)) {
      issues.push({
        line: index + 1,
        message: `unknown setting "${key}" (known: server, ca, static, offline)`,
      });
      return;
    }
    if (lineOf.has(key)) {
      issues.push({ line: index + 1, message: `${key} is set twice (line ${String(lineOf.get(key))})` });
      return;
    }
    lineOf.set(key, index + 1);
    if (value !== "") raw[key] = key === "static" ? splitStatic(value) : value;
  });
  const parsed = MediaSettings.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? "");
      issues.push({
        line: lineOf.get(key) ?? null,
        message: `${issue.path.join(".") || "settings"}: ${issue.message}`,
      });
    }
  }
  return issues.length > 0 || !parsed.success ? { ok: false, issues } : { ok: true, settings: parsed.data };
}

/** The file `media build` writes: the settings, and comments that show a technician what can change. */
export function renderMediaSettings(settings: MediaSettings): string {
  const fixed = settings.static;
  return [
    "# bootwright rescue media: the loader reads this file at every boot. Edit it to point the media",
    "# at another server; no rebuild needed. Lines: key=value; # starts a comment.",
    "# server: the bootwright server's URL as machines reach it.",
    settings.server ? `server=${settings.server}` : "# server=http://192.0.2.1:8080",
    ...(settings.offline
      ? [
          "# offline: this media installs from its own image and policy, with no server at all.",
          "offline=yes",
        ]
      : []),
    "# ca: sha256 fingerprint of the server's CA (bootwright init prints it); leave out for plain http.",
    settings.ca ? `ca=${settings.ca}` : "# ca=sha256:<64 hex digits>",
    "# static: address/prefix,gateway,dns[,dns…] for a network without DHCP; leave out to use DHCP.",
    fixed
      ? `static=${fixed.address}/${String(fixed.prefix)},${[fixed.gateway, ...fixed.dns].join(",")}`
      : "# static=192.0.2.10/24,192.0.2.1,192.0.2.53",
    "",
  ].join("\n");
}

/** Settings that name a server (every media but offline media without one). */
export type OnlineMediaSettings = MediaSettings & { server: string };
