// How the server power-cycles a machine (seed 001: the reboot "initiated over the network"): a power
// driver per machine. Secrets are stored but never shown: GET answers with the password left out.
import { z } from "zod";

export const PowerSettings = z.discriminatedUnion("driver", [
  /** A QEMU VM: its QMP socket (-qmp unix:PATH,server=on,wait=off); system_reset. */
  z.strictObject({ driver: z.literal("qmp"), socket: z.string().min(1) }),
  /** A BMC over IPMI-over-LAN (ipmitool -I lanplus): chassis bootdev pxe + power reset/on. */
  z.strictObject({
    driver: z.literal("ipmi"),
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(623),
    username: z.string().min(1),
    password: z.string(),
  }),
  /** No driver: reboots happen in band (the installed OS's reporter) or by hand. */
  z.strictObject({ driver: z.literal("none") }),
]);
export type PowerSettings = z.infer<typeof PowerSettings>;
export type PowerSettingsInput = z.input<typeof PowerSettings>;

/** What GET /v1/machines/:id/power shows: the settings without the secret. */
export const PowerView = z.strictObject({
  driver: z.enum(["qmp", "ipmi", "none"]),
  target: z.string().nullable(),
});
export type PowerView = z.infer<typeof PowerView>;

/** POST /v1/machines/:id/power/cycle and what a driver reports. */
export const PowerResult = z.strictObject({
  driver: z.string(),
  ok: z.boolean(),
  ms: z.number().nonnegative(),
  error: z.string().nullable(),
});
export type PowerResult = z.infer<typeof PowerResult>;
