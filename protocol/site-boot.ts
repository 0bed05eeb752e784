// Booting on the site network (issue 16): the boot log (GET /v1/boot-log, `bootwright boot-log`), what
// each machine asked for on its way to the loader, in order, from the managed dnsmasq's DHCP lines, our
// TFTP server and our HTTP boot routes; and the site status (GET /v1/site, `bootwright site`).
import * as z from "zod";
import { MacAddress } from "./mac.js";

export const BootEventSource = z.enum(["dhcp", "tftp", "http"]);

export const BootEvent = z.strictObject({
  seq: z.number().int(),
  /** ISO 8601, server clock. */
  at: z.string(),
  /** The machine's boot NIC; null when only its address is known (a TFTP request before any DHCP line). */
  mac: MacAddress.nullable(),
  address: z.string().nullable(),
  source: BootEventSource,
  /** A constant name: "dhcp", "tftp-sent", "tftp-not-found", "tftp-failed", "boot-script", "uki", … */
  event: z.string(),
  /** What was asked and answered, in words (dnsmasq's own line for DHCP). */
  detail: z.string(),
});
export type BootEvent = z.infer<typeof BootEvent>;

export const BootLog = z.strictObject({ events: z.array(BootEvent) });
export type BootLog = z.infer<typeof BootLog>;

export const SiteStatus = z.strictObject({
  /** off: no managed dnsmasq (the site's DHCP hands out our /boot.ipxe itself). */
  dhcp: z.enum(["off", "proxy", "full"]),
  interface: z.string().nullable(),
  address: z.string().nullable(),
  /** What UEFI x64 PXE clients are given. */
  uefiPxe: z.enum(["ipxe", "snponly", "shim"]).nullable(),
  tftp: z.strictObject({ address: z.string(), port: z.number().int() }).nullable(),
  dnsmasq: z
    .strictObject({
      pid: z.number().int().nullable(),
      restarts: z.number().int(),
      startedAt: z.string().nullable(),
      lastExit: z
        .strictObject({
          at: z.string(),
          code: z.number().int().nullable(),
          signal: z.string().nullable(),
          reason: z.string(),
        })
        .nullable(),
    })
    .nullable(),
  configFile: z.string().nullable(),
});
export type SiteStatus = z.infer<typeof SiteStatus>;
