// A machine booted from offline media (offline=yes in its settings file): no server at all. The loader
// reads the media's manifest, gathers the inventory, resolves the media's policy with the server's own
// resolver (protocol/policy/), runs the same installer plugins a tailored agent runs (the image read from
// the media instead of the server: same sha256, size and marker checks), and writes one report per run
// into reports/ on the media's ESP for `bootwright media import`. Only a USB stick keeps reports: a CD is
// read-only (the install still runs; the console says so).
import { createHash } from "node:crypto";
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { agentPlanFor } from "../../protocol/agent-plan-for.js";
import {
  machineIdentity,
  OFFLINE_MANIFEST_FILE,
  OfflineManifest,
  offlineRunId,
  REPORT_FILE,
  REPORTS_DIR,
  type BootPath,
  type Inventory,
  type MediaSettings,
  type OfflineRunReport,
  type StepReport,
} from "../../protocol/index.js";
import { compilePolicyWith, resolveCompiled } from "../../protocol/policy/resolve.js";
import type { InstallerPlugin, MachineIdentity, Phase } from "../installer/plugin.js";
import { diskReport } from "../installer/plugins/disk-report.js";
import { imageStream } from "../installer/plugins/image-stream.js";
import { mdadmRaid } from "../installer/plugins/mdadm-raid.js";
import { partition, partitionAfterImage } from "../installer/plugins/partition.js";
import { uefiVars } from "../installer/plugins/uefi-vars.js";
import { selectPlugins } from "../installer/registry.js";
import { runSteps } from "../installer/runtime.js";
import { gatherFullInventory } from "../inventory/full.js";
import { sleep } from "../shared/backoff.js";
import { run } from "../shared/run-command.js";
import { MEDIA_MOUNT, waitForMediaRemoval, type BootMedia } from "./boot-media.js";
import { say } from "./console.js";
import { bootedUefi, rebootToDisk, REMOVE_MEDIA_MESSAGE } from "./disk-boot.js";
import { waitForNics } from "./network.js";

/** Where the media's ISO9660 tree (the image's blob) is mounted. */
const ISO_MOUNT = "/run/bootwright/media-iso";
const OPTS = { timeoutMs: 30_000 };
const NIC_WAIT_MS = 15_000;

/** The plugins the loader carries for offline media: every one that needs nothing but the machine. */
const OFFLINE_PLUGINS: ReadonlyMap<string, InstallerPlugin> = new Map(
  [diskReport, uefiVars, mdadmRaid, partition, imageStream, partitionAfterImage].map((p) => [p.name, p]),
);
/** Plugins that talk to the server (boot-area uploads, recipe-capture captures): skipped offline, logged. */
const SERVER_PLUGINS = new Set(["boot-area", "recipe-capture"]);

const sha256Hex = (text: string): string => createHash("sha256").update(text).digest("hex");

/** The ISO9660 tree through a read-only loop device (the ESP may hold the device's partition). */
async function mountIsoTree(media: BootMedia): Promise<string> {
  await mkdir(ISO_MOUNT, { recursive: true });
  await run("umount", [ISO_MOUNT], OPTS).catch(() => undefined);
  const loop = (await run("losetup", ["-f"], OPTS)).stdout.trim();
  await run("losetup", ["-r", loop, `/dev/${media.device}`], OPTS);
  await run("mount", ["-t", "iso9660", "-o", "ro", loop, ISO_MOUNT], OPTS);
  return ISO_MOUNT;
}

/** Writes the report atomically (temp, fsync, rename) into reports/<run>/ on the ESP. */
async function writeReport(report: OfflineRunReport): Promise<string> {
  const dir = join(MEDIA_MOUNT, REPORTS_DIR, report.runId);
  await mkdir(dir, { recursive: true });
  const file = join(dir, REPORT_FILE);
  const handle = await open(`${file}.tmp`, "w");
  try {
    await handle.writeFile(`${JSON.stringify(report, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(`${file}.tmp`, file);
  await run("sync", [], OPTS);
  return `${REPORTS_DIR}/${report.runId}/${REPORT_FILE}`;
}

async function idleForever(message: string): Promise<never> {
  for (;;) {
    say("fail", message);
    await sleep(60_000);
  }
}

interface Outcome {
  outcome: OfflineRunReport["outcome"];
  error: string | null;
  rule: string | null;
  planHash: string | null;
  plan: OfflineRunReport["plan"];
  steps: StepReport[];
}

/** Resolves the media's policy for this machine and runs the plan's plugins, phase by phase. */
async function install(
  manifest: OfflineManifest,
  inventory: Inventory,
  machine: MachineIdentity,
  isoRoot: string,
  gather: () => Promise<Inventory>,
): Promise<Outcome> {
  const resolution = resolveCompiled(compilePolicyWith(manifest.policy, sha256Hex), inventory);
  if (resolution.kind === "no-policy") {
    const failed = resolution.explanation.rules.map(
      (r) => `${r.name}: ${r.failed ? `${r.failed.fact} is ${JSON.stringify(r.failed.actual)}` : "?"}`,
    );
    return {
      outcome: "no-policy",
      error: `no rule of the media's policy matches this machine (${failed.join("; ")})`,
      rule: null,
      planHash: null,
      plan: null,
      steps: [],
    };
  }
  const base = { rule: resolution.rule, planHash: resolution.planHash, plan: resolution.plan };
  say("ok", "offline plan", { rule: resolution.rule, image: resolution.plan.image });
  const plan = {
    ...agentPlanFor(resolution, inventory, manifest.image.source),
    imageFile: join(isoRoot, manifest.image.blob),
  };
  const selected = selectPlugins(inventory, plan).map((p) => p.name);
  const missing = selected.filter((name) => !OFFLINE_PLUGINS.has(name) && !SERVER_PLUGINS.has(name));
  if (missing.length > 0)
    return { ...base, outcome: "failed", error: `offline media cannot run ${missing.join(", ")}`, steps: [] };
  const skipped = selected.filter((name) => SERVER_PLUGINS.has(name));
  if (skipped.length > 0)
    say("warn", "skipped offline: they need the server", { plugins: skipped.join(",") });
  const plugins = selected.flatMap((name) => OFFLINE_PLUGINS.get(name) ?? []);
  const steps: StepReport[] = [];
  for (const phase of ["configure", "image"] as Phase[]) {
    const reports = await runSteps(plan, plugins, {
      phase,
      machine,
      inventory: await gather(),
      root: "/",
      signal: AbortSignal.timeout(3_600_000),
      progress: (message, fields = {}) => {
        say("step", message, fields);
      },
      onStepStart: () => Promise.resolve(),
      onStep: (report) => {
        say(report.ok ? "ok" : "fail", `step ${report.plugin}/${report.step}`, {
          ms: report.ms,
          error: report.error ?? undefined,
        });
        return Promise.resolve();
      },
    });
    steps.push(...reports);
    const failed = reports.find((r) => !r.ok);
    if (failed)
      return {
        ...base,
        outcome: "failed",
        error: `step ${failed.plugin}/${failed.step} failed: ${failed.error ?? "no reason given"}`,
        steps,
      };
  }
  return { ...base, outcome: "installed", error: null, steps };
}

/** The whole offline run; ends in the installed disk's boot (or idles, saying why, when it cannot). */
export async function runOffline(
  media: BootMedia,
  settings: MediaSettings,
  bootPath: BootPath | null,
): Promise<never> {
  const started = new Date();
  say("step", "offline media: installing from the media, no server");
  let manifest: OfflineManifest;
  try {
    manifest = OfflineManifest.parse(
      JSON.parse(await readFile(join(MEDIA_MOUNT, OFFLINE_MANIFEST_FILE), "utf8")),
    );
  } catch (err) {
    return idleForever(
      `${OFFLINE_MANIFEST_FILE} on the media is missing or not valid: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  // A CD has no partition device: its ESP is read through a read-only loop, and it keeps no reports.
  const reports = media.partition !== null;
  if (reports) await run("mount", ["-o", "remount,rw", MEDIA_MOUNT], OPTS);
  else say("warn", "offline media on a CD keeps no reports: write it to a USB stick for `media import`");
  const isoRoot = await mountIsoTree(media);
  const nics = await waitForNics(undefined, NIC_WAIT_MS);
  const bootMac = nics[0]?.mac;
  if (!bootMac) return idleForever("offline media: the machine has no NIC, whose MAC names it");
  const gather = (): Promise<Inventory> => gatherFullInventory("/", bootMac, { bootPath });
  const inventory = await gather();
  say("ok", "inventory", {
    serial: inventory.system.serial,
    disks: inventory.disks.map((d) => `${d.name}:${d.sizeBytes}`).join(","),
  });
  const machine: MachineIdentity = {
    id: machineIdentity(inventory.system.uuid, bootMac),
    serverUrl: settings.server ?? "",
    credential: "",
  };
  const outcome = await install(manifest, inventory, machine, isoRoot, gather);
  const report: OfflineRunReport = {
    version: 1,
    runId: offlineRunId(bootMac, started.getTime()),
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    inventory,
    image: `sha256:${manifest.image.source.sha256}`,
    ...outcome,
  };
  if (reports)
    say("ok", "offline report written", { file: await writeReport(report), outcome: report.outcome });
  if (report.outcome !== "installed")
    return idleForever(`offline install did not finish (${report.outcome}): ${report.error ?? ""}`);
  say("ok", "offline install done", { image: manifest.image.name, rule: report.rule ?? undefined });
  await run("umount", [MEDIA_MOUNT], OPTS).catch(() => undefined);
  if (!bootedUefi("/")) await waitForMediaRemoval(media, REMOVE_MEDIA_MESSAGE);
  return rebootToDisk(bootPath);
}
