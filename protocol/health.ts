// Health reports (seed 001's diagnostic alert): the installed OS's reporter posts figures periodically;
// a policy threshold crossing starts maintenance once, with the reading that crossed it.
import * as z from "zod";

/**
 * Figure name → value. The reporter shipped with our OS images sends cpuMhz (/proc/cpuinfo "cpu MHz"),
 * memoryBandwidthMBs (MB/s copying 256 MiB through memory), diskErrors ("I/O error" lines in the kernel
 * log) and load1 (/proc/loadavg); an OS of your own may send others.
 */
export const HealthFigures = z.record(
  z.string().regex(/^[a-zA-Z][a-zA-Z0-9]{0,63}$/, "a figure name is a camelCase word"),
  z.number(),
);
export type HealthFigures = z.infer<typeof HealthFigures>;

/** POST /v1/machines/:id/health */
export const HealthReport = z.strictObject({
  /** What the OS's marker names: "sha256:<hex>" of the installed image and its plan. */
  image: z.string().max(100),
  planHash: z.string().max(100),
  os: z.string().max(200),
  figures: HealthFigures,
});
export type HealthReport = z.infer<typeof HealthReport>;

export const HealthAnswer = z.strictObject({
  /** When to report next. */
  nextReportMs: z.number().int().positive(),
  /** "reboot": a maintenance swap waits for this machine to reboot (in band: no power driver). */
  action: z.enum(["none", "reboot"]),
});
export type HealthAnswer = z.infer<typeof HealthAnswer>;

export const StoredHealthReport = z.strictObject({
  at: z.string(),
  figures: HealthFigures,
  os: z.string(),
  /** Health rules this report crossed (each starts maintenance once per crossing). */
  crossed: z.array(z.string()),
});
export type StoredHealthReport = z.infer<typeof StoredHealthReport>;

/** GET /v1/machines/:id/health: the latest reports, newest last. */
export const HealthHistory = z.strictObject({ reports: z.array(StoredHealthReport) });
export type HealthHistory = z.infer<typeof HealthHistory>;
