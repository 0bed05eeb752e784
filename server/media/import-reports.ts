// `bootwright media import <device|file>`: the reports offline media wrote (reports/<run>/report.json on
// its ESP) into the store, each run in one transaction: the machine enrolls with its inventory as if it
// had posted it, gets the plan the loader resolved, its step log and `installed` (or `failed`). A run
// already imported (its runId in the machine's log) is skipped: importing twice adds nothing.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  BootwrightError,
  ESP_TYPE,
  fatVolumeLabel,
  MEDIA_LABEL,
  OfflineRunReport,
  parseMbr,
  REPORT_FILE,
  REPORTS_DIR,
  SECTOR,
} from "../../protocol/index.js";
import { run } from "../../build-scripts/os-image/run.js";
import type { Rows, Store } from "../db/rows.js";
import { enrollInventory } from "../enrollment/enroll.js";
import { resolveIdentity } from "../enrollment/identity.js";
import { mustGet, setCategory } from "../queue/steps.js";

export class MediaImportRefused extends BootwrightError<"media_import_refused"> {
  constructor(message: string, context: { source: string; file?: string }) {
    super("media_import_refused", message, context);
  }
}

/** The log event one imported run leaves (its data names the runId). */
export const OFFLINE_RUN_EVENT = "offline-run";

export interface ImportedRun {
  runId: string;
  machineId: string;
  outcome: OfflineRunReport["outcome"];
  /** False when an earlier import already brought it in. */
  imported: boolean;
}

export interface ImportResult {
  runs: ImportedRun[];
  /** Reports that do not parse: left out (and on the media), each with why. */
  unreadable: { file: string; reason: string }[];
}

/** The byte offset of the media's ESP (the MBR's 0xef partition labelled MEDIA_LABEL). */
async function espOffset(source: string): Promise<number> {
  const read = async (position: number): Promise<Buffer> => {
    const handle = await open(source, "r");
    try {
      const buffer = Buffer.alloc(SECTOR);
      await handle.read(buffer, 0, SECTOR, position);
      return buffer;
    } finally {
      await handle.close();
    }
  };
  let sector0: Buffer;
  try {
    sector0 = await read(0);
  } catch (err) {
    throw new MediaImportRefused(
      `media import: cannot read ${source}: ${err instanceof Error ? err.message : String(err)}`,
      { source },
    );
  }
  for (const part of parseMbr(sector0)) {
    if (part.type !== ESP_TYPE) continue;
    if (fatVolumeLabel(await read(part.startLba * SECTOR)) === MEDIA_LABEL) return part.startLba * SECTOR;
  }
  throw new MediaImportRefused(
    `media import: ${source} has no partition labelled ${MEDIA_LABEL}: not bootwright media`,
    { source },
  );
}

/** Copies the ESP's reports/ out with mtools (no mount, no root); [] when the media has none yet. */
async function readReports(source: string): Promise<{ files: [string, string][]; cleanup: () => void }> {
  const image = `${source}@@${String(await espOffset(source))}`;
  const dir = mkdtempSync(join(tmpdir(), "bootwright-import-"));
  const cleanup = (): void => {
    rmSync(dir, { recursive: true, force: true });
  };
  const env = { ...process.env, MTOOLS_SKIP_CHECK: "1" };
  const listing = await run("mdir", ["-b", "-i", image, "::/"], { env }).catch(() => null);
  if (listing === null) {
    cleanup();
    throw new MediaImportRefused(`media import: the ESP of ${source} does not read as FAT`, { source });
  }
  if (
    !listing
      .toString("utf8")
      .split("\n")
      .some((line) => line.trim().replace(/\/$/, "") === `::/${REPORTS_DIR}`)
  )
    return { files: [], cleanup };
  await run("mcopy", ["-s", "-n", "-i", image, `::/${REPORTS_DIR}`, dir], { env });
  const files: [string, string][] = [];
  for (const runDir of readdirSync(join(dir, REPORTS_DIR)).sort()) {
    const file = join(dir, REPORTS_DIR, runDir, REPORT_FILE);
    files.push([`${REPORTS_DIR}/${runDir}/${REPORT_FILE}`, file]);
  }
  return { files, cleanup };
}

/** One run into the store; false when its runId is already in the machine's log. */
export async function importRun(rows: Rows, report: OfflineRunReport): Promise<ImportedRun> {
  const { inventory } = report;
  const known = await resolveIdentity(rows, inventory.system.uuid, inventory.bootMac);
  const log = await rows.log.forMachine(known.id);
  const done = { runId: report.runId, machineId: known.id, outcome: report.outcome };
  if (log.some((entry) => entry.event === OFFLINE_RUN_EVENT && entry.data.runId === report.runId))
    return { ...done, imported: false };
  const enrolled = await enrollInventory(rows, inventory, new Date(report.startedAt));
  if (enrolled.kind === "refused")
    throw new MediaImportRefused(
      `media import: machine ${enrolled.machineId} is not admitted (${enrolled.code}): ${enrolled.reason}`,
      { source: report.runId },
    );
  const id = enrolled.machine.id;
  const at = report.finishedAt;
  for (const step of report.steps)
    await rows.log.append(id, at, "offline-step", {
      runId: report.runId,
      plugin: step.plugin,
      step: step.step,
      ok: step.ok,
      ms: step.ms,
      error: step.error,
      data: step.data,
    });
  if (report.rule !== null && report.planHash !== null && report.plan !== null)
    await rows.machines.update(id, {
      plan: { rule: report.rule, planHash: report.planHash, plan: report.plan },
    });
  const machine = await mustGet(rows, id);
  const why = `offline media run ${report.runId}`;
  if (report.outcome === "installed" && report.planHash !== null) {
    await rows.machines.setInstalled(id, { image: report.image, planHash: report.planHash, os: null, at });
    await setCategory(rows, machine, "installed", at, why);
  } else if (report.outcome === "failed") await setCategory(rows, machine, "failed", at, why);
  await rows.log.append(id, at, OFFLINE_RUN_EVENT, {
    runId: report.runId,
    outcome: report.outcome,
    rule: report.rule,
    image: report.image,
    error: report.error,
    startedAt: report.startedAt,
  });
  return { ...done, machineId: id, imported: true };
}

/** Reads every report on the media and imports each run in its own transaction. */
export async function importMediaReports(store: Store, source: string): Promise<ImportResult> {
  const { files, cleanup } = await readReports(source);
  const result: ImportResult = { runs: [], unreadable: [] };
  try {
    for (const [name, file] of files) {
      let report: OfflineRunReport;
      try {
        report = OfflineRunReport.parse(JSON.parse(readFileSync(file, "utf8")));
      } catch (err) {
        result.unreadable.push({ file: name, reason: err instanceof Error ? err.message : String(err) });
        continue;
      }
      result.runs.push(await store.transaction((rows) => importRun(rows, report)));
    }
  } finally {
    cleanup();
  }
  return result;
}
