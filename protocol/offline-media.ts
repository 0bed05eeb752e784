// Offline media (issue 22 item 2): what `bootwright media build --offline` puts on the media, and what
// the loader writes back on it for `bootwright media import`. Pure: both sides import it.
//
// On the media's ESP (FAT, label MEDIA_LABEL): offline/manifest.json (the image as the store holds it,
// the policy) and, written by the loader, reports/<run>/report.json. The image's blob is in the ISO9660
// tree (the ESP must stay under 32 MiB for El Torito). Reports need the USB form: a CD is read-only.
import * as z from "zod";
import { StepReport } from "./agent-plan.js";
import { ImageName, ImageSource } from "./images.js";
import { Inventory } from "./inventory.js";
import { PlanSpec } from "./plan-spec.js";
import { Policy } from "./policy.js";

/** The folder on the ESP with the manifest. */
export const OFFLINE_DIR = "offline";
export const OFFLINE_MANIFEST_FILE = `${OFFLINE_DIR}/manifest.json`;
/** The folder on the ESP the loader writes its runs' reports into (one sub-folder per run). */
export const REPORTS_DIR = "reports";
export const REPORT_FILE = "report.json";

export const OfflineManifest = z.strictObject({
  version: z.literal(1),
  image: z.strictObject({
    name: ImageName,
    source: ImageSource,
    /** The blob's path in the media's ISO9660 tree. */
    blob: z.string().regex(/^[a-z0-9/._-]+$/),
  }),
  /** The policy the loader resolves itself (already validated by the build). */
  policy: Policy,
  /** When the media was built (ISO 8601). */
  builtAt: z.string(),
});
export type OfflineManifest = z.infer<typeof OfflineManifest>;

/** The ISO9660 path of an image's blob on offline media. */
export function offlineBlobPath(sha256: string): string {
  return `${OFFLINE_DIR}/${sha256}.zst`;
}

/** What happened to one machine booted from offline media. */
export const OfflineOutcome = z.enum(["installed", "failed", "no-policy"]);
export type OfflineOutcome = z.infer<typeof OfflineOutcome>;

export const OfflineRunReport = z.strictObject({
  version: z.literal(1),
  /** Unique per run (the folder's name): what makes an import idempotent. */
  runId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  startedAt: z.string(),
  finishedAt: z.string(),
  inventory: Inventory,
  /** The rule that matched and its plan's hash; null when none did. */
  rule: z.string().nullable(),
  planHash: z.string().nullable(),
  plan: PlanSpec.nullable(),
  /** The image written: "sha256:<hex>" of its stored bytes, as the installed marker names it. */
  image: z.string(),
  outcome: OfflineOutcome,
  /** Why it failed (or why no rule matched). */
  error: z.string().nullable(),
  /** Every step the agent code ran, in order, as it reports them online. */
  steps: z.array(StepReport),
});
export type OfflineRunReport = z.infer<typeof OfflineRunReport>;

/** "5254000a0001-1764800000000": the boot MAC's digits and the start time, safe as a FAT name. */
export function offlineRunId(bootMac: string, startedAtMs: number): string {
  return `${bootMac.replace(/[^0-9a-fA-F]/g, "").toLowerCase()}-${String(startedAtMs)}`;
}
