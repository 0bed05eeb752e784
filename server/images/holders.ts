// What still names an image, read in the deleting transaction: the current policy's rules, pending
// installs, maintenance runs and schedules, machines' installed markers, and the captured-image key the
// image fills. An image deletion refuses while any is left (only the last two can be overridden: a
// machine already runs its copy, and a lost captured image is built again by the next machine of that
// configuration; the others would fetch the image again and fail).
import type { ImageHolder, ImageHolderKind, ImageRecord } from "../../protocol/index.js";
import type { Rows } from "../db/rows.js";
import { installSource, type ImageLookup } from "../install-source.js";
import { readStoredPolicy } from "../policy/stored-policy.js";
import { findImage, shaOfRef } from "./catalog.js";

/** Which holders `--force` overrides. */
export const FORCIBLE: Readonly<Record<ImageHolderKind, boolean>> = {
  policy: false,
  "pending-install": false,
  "maintenance-run": false,
  "maintenance-schedule": false,
  "installed-marker": true,
  "captured-key": true,
};

/** The catalogue look-ups inside one transaction, as install-source.ts asks them. */
function lookupOver(rows: Rows): ImageLookup {
  return {
    images: {
      find: (ref) => findImage(rows, ref),
      findCaptured: (recipe, fingerprint) => rows.images.captured(recipe, fingerprint),
    },
  };
}

/** A marker or a call home names an image by "sha256:<hex>" (or, written by hand, by its name). */
function names(ref: string | undefined, image: ImageRecord): boolean {
  return ref !== undefined && (shaOfRef(ref) === image.sha256 || ref === image.name);
}

/** Stored policy rules whose image (a plan's; a health rule's maintenance image) resolves to this one. */
async function policyRules(rows: Rows, image: ImageRecord): Promise<string[]> {
  const parsed = await readStoredPolicy(rows);
  if (!parsed?.ok) return [];
  // By resolution, as an install would: the older image of a name is not what a rule naming it installs.
  const resolvesHere = async (ref: string): Promise<boolean> =>
    (await findImage(rows, ref))?.sha256 === image.sha256;
  const held: string[] = [];
  for (const rule of parsed.policy.rules) if (await resolvesHere(rule.plan.image)) held.push(rule.name);
  for (const rule of parsed.policy.health ?? [])
    if (await resolvesHere(rule.maintenance.image)) held.push(`health:${rule.name}`);
  return held;
}

/** Machines with a queued or leased write-image whose install source is this image. */
async function pendingInstalls(rows: Rows, image: ImageRecord): Promise<string[]> {
  const held: string[] = [];
  const lookup = lookupOver(rows);
  for (const id of await rows.commands.machinesWithPending("write-image")) {
    const machine = await rows.machines.get(id);
    // The advertised URL only shapes a capture's instructions, which this check does not read.
    const source = machine ? await installSource(lookup, machine, "") : undefined;
    if (source?.kind === "image" && source.image.sha256 === image.sha256) held.push(id);
  }
  return held;
}

/** Runs on their way into the image (rebooting) or running it: the machine still fetches it. */
async function maintenanceRuns(rows: Rows, image: ImageRecord): Promise<string[]> {
  const runs = await rows.runs.inStates(["rebooting", "running"]);
  return runs.filter((run) => run.image.sha256 === image.sha256).map((run) => run.id);
}

/** Schedules whose image resolves to this one when they fire. */
async function maintenanceSchedules(rows: Rows, image: ImageRecord): Promise<string[]> {
  const held: string[] = [];
  for (const schedule of await rows.schedules.list())
    if ((await findImage(rows, schedule.image))?.sha256 === image.sha256) held.push(schedule.id);
  return held;
}

/** Machines whose disk's marker, or whose installed OS's last call home, names this image. */
async function installedMarkers(rows: Rows, image: ImageRecord): Promise<string[]> {
  const held: string[] = [];
  for (const machine of await rows.machines.list()) {
    const marker = machine.inventory?.installedMarker?.image;
    if (names(marker, image) || names((await rows.machines.installed(machine.id))?.image, image))
      held.push(machine.id);
  }
  return held;
}

/** Every kind of holder with at least one id, in a fixed order. */
export async function imageHolders(rows: Rows, image: ImageRecord): Promise<ImageHolder[]> {
  const found: [ImageHolderKind, string[]][] = [
    ["policy", await policyRules(rows, image)],
    ["pending-install", await pendingInstalls(rows, image)],
    ["maintenance-run", await maintenanceRuns(rows, image)],
    ["maintenance-schedule", await maintenanceSchedules(rows, image)],
    ["installed-marker", await installedMarkers(rows, image)],
    ["captured-key", image.origin ? [`${image.origin.recipe} ${image.origin.fingerprint}`] : []],
  ];
  return found
    .filter(([, ids]) => ids.length > 0)
    .map(([kind, ids]) => ({ kind, ids, forcible: FORCIBLE[kind] }));
}
