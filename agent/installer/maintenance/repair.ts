// The repair image's program (seed 004: "a disk boot sector repair after an infection"): compares the
// install disk's boot area with the copy the installer recorded on the server (plugins/boot-area.ts),
// writes back exactly the sectors that differ, and checks the root filesystem with the e2fsck it carries.
import { credentialHeaders } from "../../shared/credential.js";
import { createHash } from "node:crypto";
import { open, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { hasCode } from "../../../protocol/failure.js";
import { BootAreaRecord } from "../../../protocol/maintenance.js";
import { readDisks } from "../../inventory/disks.js";
import { exists, readText } from "../../inventory/sysfs.js";
import { backoffDelayMs, DEFAULT_BACKOFF, sleep } from "../../shared/backoff.js";
import { partitionDevice, readRange, rereadPartitions, type BlockTarget } from "../block-device.js";
import { describeError } from "../describe-error.js";
import { readAnswer } from "../http-answer.js";
import { readGpt } from "../gpt.js";
import {
  describeRuns,
  diffBootArea,
  splitBootArea,
  type BootAreaBytes,
  type BootAreaDiff,
  type BootAreaLayout,
} from "./boot-area.js";
import type { MaintenanceProgram, MaintenanceStepContext } from "./program.js";

const REQUEST_TIMEOUT_MS = 60_000;
const REQUEST_ATTEMPTS = 4;
const FSCK_TIMEOUT_MS = 60 * 60_000;
/** The GPT partition name of an installed system's root filesystem (as plugins/recipe-capture.ts). */
const ROOT_PARTITION = "root";

/** GET from the machine's own resources on the server, retrying what a retry can fix (network, 5xx). */
async function getFromServer(ctx: MaintenanceStepContext, path: string): Promise<Response> {
  const url = `${ctx.machine.serverUrl}/v1/machines/${encodeURIComponent(ctx.machine.id)}/${path}`;
  for (let attempt = 1; ; attempt++) {
    let failure: string;
    try {
      const response = await fetch(url, {
        headers: credentialHeaders(ctx.machine),
        signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
      });
      if (response.ok) return response;
      failure = `HTTP ${response.status} ${(await readAnswer(response)).reason}`;
      if (response.status < 500) throw new Error(`GET ${url}: ${failure}`);
    } catch (err) {
      // fetch's network failures are TypeErrors; our per-request timeout is a TimeoutError: both retry.
      const retry = err instanceof TypeError || (err instanceof Error && err.name === "TimeoutError");
      if (ctx.signal.aborted || !retry) throw err;
      failure = describeError(err.cause ?? err);
    }
    if (attempt >= REQUEST_ATTEMPTS) throw new Error(`GET ${url}: ${failure} (after ${attempt} tries)`);
    const waitMs = backoffDelayMs(attempt, DEFAULT_BACKOFF);
    ctx.progress("server request failed: retrying", { url, attempt, waitMs, reason: failure });
    await sleep(waitMs, ctx.signal);
  }
}

async function fetchRecord(ctx: MaintenanceStepContext): Promise<BootAreaRecord> {
  const response = await getFromServer(ctx, "boot-area");
  const parsed = BootAreaRecord.safeParse(await response.json().catch(() => undefined));
  if (!parsed.success) throw new Error(`the server's boot-area record is not valid: ${parsed.error.message}`);
  return parsed.data;
}

/** The recorded bytes, refused unless they are the record's length and sha256. */
async function fetchRecordedBytes(
  ctx: MaintenanceStepContext,
  record: BootAreaRecord,
): Promise<BootAreaBytes> {
  const bytes = Buffer.from(await (await getFromServer(ctx, "boot-area/bytes")).arrayBuffer());
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  if (sha256 !== record.sha256)
    throw new Error(
      `the recorded boot area is corrupt: its ${bytes.length} bytes have sha256 ${sha256}, the record says ${record.sha256}: refusing to use it`,
    );
  return splitBootArea(bytes, record);
}

interface FoundDisk {
  target: BlockTarget;
  /** How the disk was matched to the record: its kernel name, or (renamed since) its size alone. */
  foundBy: "name" | "size";
}

async function diskSizeBytes(root: string, name: string): Promise<number | null> {
  const sectors = await readText(join(root, "sys/block", name, "size"));
  return sectors === null ? null : Number(sectors) * 512;
}

/** /dev/<record.device> when its size is the record's; else the only disk of that size. */
async function findDisk(ctx: MaintenanceStepContext, record: BootAreaRecord): Promise<FoundDisk> {
  let name = record.device;
  let foundBy: FoundDisk["foundBy"] = "name";
  const namedBytes = await diskSizeBytes(ctx.root, name);
  if (namedBytes !== record.diskBytes || !(await exists(join(ctx.root, "dev", name)))) {
    const disks = await readDisks(ctx.root);
    const sameSize = disks.filter((d) => d.sizeBytes === record.diskBytes);
    const [only] = sameSize;
    if (sameSize.length !== 1 || !only) {
      const seen = disks.map((d) => `${d.name} (${d.sizeBytes} bytes)`).join(", ") || "no disks";
      throw new Error(
        `no disk matches the boot-area record (${record.device}, ${record.diskBytes} bytes): ` +
          `${sameSize.length > 1 ? `${sameSize.length} disks have that size` : "none has that size"}; saw ${seen}`,
      );
    }
    name = only.name;
    foundBy = "size";
  }
  const sectorBytes =
    Number((await readText(join(ctx.root, "sys/block", name, "queue/logical_block_size"))) ?? "512") || 512;
  if (sectorBytes !== record.sectorBytes)
    throw new Error(
      `${name} has ${sectorBytes}-byte sectors, the boot-area record ${record.sectorBytes}-byte ones`,
    );
  const path = join(ctx.root, "dev", name);
  return { target: { path, name, kernelName: name, sizeBytes: record.diskBytes, sectorBytes }, foundBy };
}

async function readBootArea(target: BlockTarget, layout: BootAreaLayout): Promise<BootAreaBytes> {
  return {
    head: await readRange(target.path, 0, layout.headBytes),
    tail: await readRange(target.path, layout.diskBytes - layout.tailBytes, layout.tailBytes),
  };
}

interface Comparison {
  record: BootAreaRecord;
  recorded: BootAreaBytes;
  disk: FoundDisk;
  diff: BootAreaDiff;
  /** Whether the disk's installed marker names the record's image and plan (null: no marker read). */
  markerMatches: boolean | null;
}

async function compare(ctx: MaintenanceStepContext): Promise<Comparison> {
  const record = await fetchRecord(ctx);
  const recorded = await fetchRecordedBytes(ctx, record);
  const disk = await findDisk(ctx, record);
  ctx.progress("comparing the boot area with the record", {
    device: disk.target.name,
    recordedAt: record.recordedAt,
  });
  const diff = diffBootArea(record, recorded, await readBootArea(disk.target, record));
  const marker = ctx.inventory.installedMarker;
  const markerMatches = marker ? marker.image === record.image && marker.planHash === record.planHash : null;
  return { record, recorded, disk, diff, markerMatches };
}

function comparisonData(c: Comparison): Record<string, unknown> {
  return {
    device: c.disk.target.name,
    foundBy: c.disk.foundBy,
    diskBytes: c.record.diskBytes,
    headBytes: c.record.headBytes,
    tailBytes: c.record.tailBytes,
    recordedAt: c.record.recordedAt,
    image: c.record.image,
    planHash: c.record.planHash,
    markerMatches: c.markerMatches,
    differs: c.diff.differingSectors > 0,
    differingSectors: c.diff.differingSectors,
    regions: c.diff.runs,
    summary: describeRuns(c.diff.runs),
  };
}

const checkBootArea = async (ctx: MaintenanceStepContext): Promise<Record<string, unknown>> => {
  const comparison = await compare(ctx);
  ctx.progress("boot area compared", { summary: describeRuns(comparison.diff.runs), percent: 100 });
  return comparisonData(comparison);
};

const restoreBootArea = async (ctx: MaintenanceStepContext): Promise<Record<string, unknown>> => {
  const c = await compare(ctx);
  const { record, recorded, diff } = c;
  const { target } = c.disk;
  if (diff.differingSectors === 0)
    return {
      ...comparisonData(c),
      restoredSectors: 0,
      written: [],
      message: "the boot area matches the record: nothing written",
    };
  if (c.markerMatches === false)
    throw new Error(
      `${target.name} now holds a different install (its marker names ${ctx.inventory.installedMarker?.image ?? "?"}) ` +
        `than the boot-area record (${record.image}, ${record.recordedAt}): restoring it would write a stale table`,
    );
  const tailBase = record.diskBytes - record.tailBytes;
  const written: { offsetBytes: number; bytes: number }[] = [];
  const handle = await open(target.path, "r+");
  try {
    for (const run of diff.runs) {
      const bytes = run.sectors * 512;
      const source =
        run.area === "head"
          ? recorded.head.subarray(run.offsetBytes, run.offsetBytes + bytes)
          : recorded.tail.subarray(run.offsetBytes - tailBase, run.offsetBytes - tailBase + bytes);
      const { bytesWritten } = await handle.write(source, 0, source.length, run.offsetBytes);
      if (bytesWritten !== source.length)
        throw new Error(
          `${target.name}: short write at ${run.offsetBytes} (${bytesWritten} of ${source.length} bytes)`,
        );
      written.push({ offsetBytes: run.offsetBytes, bytes: source.length });
      ctx.progress("sectors restored", {
        region: run.region,
        firstSector: run.firstSector,
        sectors: run.sectors,
      });
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  // The kernel keeps the partitions it read at boot (from the damaged table) until asked again.
  let partitionTable: string;
  if ((await stat(target.path)).isBlockDevice()) {
    try {
      await rereadPartitions(target, ctx.exec, ctx.signal);
      partitionTable = "re-read by the kernel";
    } catch (err) {
      partitionTable = `re-read failed: ${describeError(err)}`;
    }
  } else partitionTable = "not a block device: nothing to re-read";
  // Read back (through the page cache: what the kernel now serves for these sectors).
  const after = diffBootArea(record, recorded, await readBootArea(target, record));
  if (after.differingSectors > 0)
    throw new Error(
      `${target.name} still differs from the record after the restore: ${describeRuns(after.runs)}`,
    );
  ctx.progress("boot area restored", { device: target.name, sectors: diff.differingSectors, percent: 100 });
  return {
    ...comparisonData(c),
    restoredSectors: diff.differingSectors,
    written,
    verified: true,
    partitionTable,
  };
};

/**
 * A CommandError from agent/shared/run-command.ts, matched by its code (this bundle has no copy of the
 * class). Its fields are read one by one, not through `context`: the loader that threw it may be older
 * than this maintenance image, from before errors had a context.
 */
function commandFailure(
  err: unknown,
): { exitCode: number | null; stdout: string; stderrTail: string } | undefined {
  if (!hasCode(err, "command_failed")) return undefined;
  const exitCode = "exitCode" in err && typeof err.exitCode === "number" ? err.exitCode : null;
  const stderrTail = "stderrTail" in err && typeof err.stderrTail === "string" ? err.stderrTail : "";
  const stdout = "stdout" in err && typeof err.stdout === "string" ? err.stdout : "";
  return { exitCode, stdout, stderrTail };
}

/** e2fsck(8) EXIT CODE: a sum of these. */
const E2FSCK_EXIT: readonly [number, string][] = [
  [1, "errors corrected"],
  [2, "errors corrected, reboot advised"],
  [4, "errors left uncorrected"],
  [8, "operational error"],
  [16, "usage or syntax error"],
  [32, "cancelled"],
  [128, "shared-library error"],
];

function e2fsckMeaning(code: number): string {
  return E2FSCK_EXIT.filter(([bit]) => (code & bit) !== 0)
    .map(([, what]) => what)
    .join(", ");
}

const fsckRoot = async (ctx: MaintenanceStepContext): Promise<Record<string, unknown>> => {
  const record = await fetchRecord(ctx);
  const { target } = await findDisk(ctx, record);
  const root = (await readGpt(target.path, target.sectorBytes)).find((p) => p.name === ROOT_PARTITION);
  if (!root) return { skipped: `no partition named ${ROOT_PARTITION}`, device: target.name };
  const node = await partitionDevice(ctx.root, target, root.index);
  // The kernel's partition must be the table's (a stale view after an unread restore would be another range).
  const start = await readText(join(ctx.root, "sys/block", target.kernelName, basename(node), "start"));
  const expected = (root.firstLba * BigInt(target.sectorBytes)) / 512n;
  if (start !== String(expected))
    throw new Error(
      `${basename(node)} starts at sector ${start ?? "?"} for the kernel but at ${expected} in the GPT: re-read the partition table (restore-boot-area) first`,
    );
  const e2fsck = join(ctx.imageDir, "bin/e2fsck");
  ctx.progress("checking the root filesystem", { partition: basename(node), tool: e2fsck });
  let exitCode = 0;
  let output: string;
  try {
    const result = await ctx.exec(e2fsck, ["-p", "-f", node], {
      timeoutMs: FSCK_TIMEOUT_MS,
      signal: ctx.signal,
      env: { LD_LIBRARY_PATH: join(ctx.imageDir, "lib") },
    });
    output = result.stdout + result.stderr;
  } catch (err) {
    const failure = commandFailure(err);
    if (failure?.exitCode == null || failure.exitCode >= 4) {
      const where = `e2fsck on ${basename(node)} (partition ${root.index} "${ROOT_PARTITION}" of ${target.name})`;
      // e2fsck says what it found on stdout; the error's own message has the command and stderr.
      const said = failure ? failure.stdout.trim().slice(-500) : "";
      throw new Error(
        failure?.exitCode == null
          ? `${where} did not run: ${describeError(err)}`
          : `${where}: exit ${failure.exitCode}, ${e2fsckMeaning(failure.exitCode)}: ${said || failure.stderrTail}`,
        { cause: err },
      );
    }
    exitCode = failure.exitCode;
    output = `${failure.stdout}${failure.stderrTail}`;
  }
  ctx.progress("root filesystem checked", { partition: basename(node), exitCode, percent: 100 });
  return {
    device: target.name,
    partition: basename(node),
    exitCode,
    corrected: exitCode !== 0,
    result: exitCode === 0 ? "clean" : e2fsckMeaning(exitCode),
    output: output.trim().slice(-1_000),
  };
};

export const steps: MaintenanceProgram = {
  "check-boot-area": {
    describe: "Compare the disk's MBR, GPT and backup GPT with the copy recorded at install (writes nothing)",
    run: checkBootArea,
  },
  "restore-boot-area": {
    describe: "Write back the recorded boot-area sectors that differ, re-read the partition table and verify",
    run: restoreBootArea,
  },
  "fsck-root": {
    describe: "Check and repair (e2fsck -p -f) the filesystem of the GPT partition named root",
    run: fsckRoot,
  },
};
