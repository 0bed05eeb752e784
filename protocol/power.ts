// How the server power-cycles a machine (seed 001: the reboot "initiated over the network"): a power
// driver per machine. Secrets are stored but never shown: GET answers with the password left out.
import * as z from "zod";

/** "sha256:<hex>" of a certificate's DER: how a BMC's TLS certificate is pinned. */
export const CertificatePin = z.string().regex(/^sha256:[0-9a-f]{64}$/, "sha256:<64 lower-case hex digits>");

/**
 * How the server trusts a Redfish BMC's HTTPS certificate (BMCs ship self-signed ones): the leaf
 * certificate's SHA-256 pinned, or a CA the operator gives (PEM) that the certificate must chain to, with
 * its name or address checked as usual.
 */
export const RedfishTls = z.union([
  z.strictObject({
    pin: CertificatePin,
    /** True when the server pinned what the BMC offered at `power set` (trust on first use). */
    firstUse: z.boolean().default(false),
  }),
  z.strictObject({ ca: z.string().includes("-----BEGIN CERTIFICATE-----") }),
]);
export type RedfishTls = z.infer<typeof RedfishTls>;

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
  /** A BMC over Redfish (DMTF DSP0266) on HTTPS: ComputerSystem.Reset, Boot override, Bios. */
  z.strictObject({
    driver: z.literal("redfish"),
    /** The BMC's address, https://host[:port]; the service root is <url>/redfish/v1. */
    url: z
      .url({ protocol: /^https$/, error: "the BMC's https:// address" })
      .transform((url) => url.replace(/\/+$/, "")),
    username: z.string().min(1),
    password: z.string(),
    /** Absent in a PUT: the server pins the certificate the BMC offers then (trust on first use). */
    tls: RedfishTls.optional(),
    /** The ComputerSystem's path; absent in a PUT: the one member of /redfish/v1/Systems. */
    system: z
      .string()
      .regex(/^\/redfish\/v1\/[^\s?#]+$/, "a /redfish/v1/… path")
      .optional(),
    /** How long a graceful shutdown (ACPI, the OS's own) may take before the driver forces the power off. */
    gracefulTimeoutMs: z.number().int().min(0).max(600_000).default(60_000),
    /**
     * What a power cycle boots the machine into: the network (a one-time PXE override), or our rescue
     * media in the BMC's virtual CD (for a machine with no PXE path on its boot NIC, as Ironic and
     * Metal3 do it): inserted, booted once, ejected once the machine has enrolled.
     */
    boot: z.enum(["pxe", "virtual-media"]).default("pxe"),
  }),
  /** No driver: reboots happen in band (the installed OS's reporter) or by hand. */
  z.strictObject({ driver: z.literal("none") }),
]);
export type PowerSettings = z.infer<typeof PowerSettings>;
export type PowerSettingsInput = z.input<typeof PowerSettings>;
export type RedfishSettings = Extract<PowerSettings, { driver: "redfish" }>;

/** What GET /v1/machines/:id/power shows: the settings without the secret. */
export const PowerView = z.strictObject({
  driver: z.enum(["qmp", "ipmi", "redfish", "none"]),
  target: z.string().nullable(),
  /**
   * Redfish: how its certificate is trusted — "sha256:<hex>" (the pin) or "ca" — and whether the server
   * pinned it on first use, which the operator should compare with what the BMC's own console shows.
   */
  certificate: z
    .strictObject({ pin: CertificatePin.nullable(), ca: z.boolean(), firstUse: z.boolean() })
    .optional(),
  /** Redfish: what a power cycle boots (the network, or the rescue media in the virtual CD). */
  boot: z.enum(["pxe", "virtual-media"]).optional(),
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
