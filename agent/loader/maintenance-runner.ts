// Runs a maintenance image (seed 001) from the network-booted loader: downloads it from the image store,
// checks its sha256, unpacks it (tar.zst) into tmpfs, imports its program and runs the steps the server
// asked for, reporting each. Active mode answers the server's poll at the cadence it set and takes the
// extra steps it sends; passive mode only sends the completion signal (the command's result).
import { credentialHeaders, type Credentialed } from "../shared/credential.js";
import { httpRequest } from "../shared/http-client.js";
import { createHash } from "node:crypto";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { backoffDelayMs, RESUME_BACKOFF } from "../shared/backoff.js";
import { untar } from "../shared/untar.js";
import {
  BootwrightError,
  MaintenanceManifest,
  type CommandOutput,
  type FailureContext,
  type LeasedCommand,
  type MaintenanceAssignment,
  type MaintenanceStep,
  type MaintenanceStepResult,
} from "../../protocol/index.js";
import type { MaintenanceProgram } from "../installer/maintenance/program.js";
import { loadZstd } from "../installer/native.js";
import type { CommandContext } from "./commands.js";
import { say } from "./console.js";
import { run } from "../shared/run-command.js";
import { describeRequestFailure, postMaintenanceProgress } from "./server-client.js";

/** Maintenance images are programs and a few tools, not disks: refuse anything this big. */
const MAX_IMAGE_BYTES = 256 * 2 ** 20;
const WORK_DIR = "/run/bootwright/maintenance";

export class MaintenanceImageError extends BootwrightError<"maintenance_image_invalid"> {
  constructor(message: string, context: FailureContext<"maintenance_image_invalid">, options?: ErrorOptions) {
    super("maintenance_image_invalid", message, context, options);
  }
}

/** How long a download may keep failing on a server that went away (restarted) before the run fails. */
const DOWNLOAD_RETRY_MS = 120_000;

/**
 * The image's bytes. A dropped connection or a 5xx (a server restarting) is asked again, with backoff,
 * for up to DOWNLOAD_RETRY_MS; a refusal (4xx) is final.
 */
async function fetchImage(image: MaintenanceAssignment["image"], machine: Credentialed, signal: AbortSignal) {
  const context = { image: image.name };
  const deadline = Date.now() + DOWNLOAD_RETRY_MS;
  for (let attempt = 1; ; attempt++) {
    let failure: string;
    try {
      const response = await httpRequest(image.url, { headers: credentialHeaders(machine), signal });
      if (response.ok) return response.body;
      if (response.status < 500)
        throw new MaintenanceImageError(`GET ${image.url}: HTTP ${response.status}`, context);
      failure = `HTTP ${response.status}`;
    } catch (err) {
      if (err instanceof MaintenanceImageError || signal.aborted) throw err;
      failure = describeRequestFailure(err);
    }
    if (Date.now() > deadline)
      throw new MaintenanceImageError(
        `GET ${image.url} kept failing for ${DOWNLOAD_RETRY_MS / 1000} s: ${failure}`,
        context,
      );
    say("warn", "maintenance image download failed: retrying", { attempt, reason: failure });
    await delay(backoffDelayMs(attempt, RESUME_BACKOFF), undefined, { signal });
  }
}

async function download(
  image: MaintenanceAssignment["image"],
  machine: Credentialed,
  signal: AbortSignal,
): Promise<Buffer> {
  const context = { image: image.name };
  const bytes = await fetchImage(image, machine, signal);
  if (bytes.length > MAX_IMAGE_BYTES)
    throw new MaintenanceImageError(
      `maintenance image ${image.name} is ${bytes.length} bytes: over ${MAX_IMAGE_BYTES}`,
      context,
    );
  const actual = createHash("sha256").update(bytes).digest("hex");
  if (actual !== image.sha256)
    throw new MaintenanceImageError(
      `maintenance image ${image.name}: received ${bytes.length} bytes with sha256 ${actual}, expected ${image.sha256}: not running it`,
      context,
    );
  return bytes;
}

/** Downloads, verifies and unpacks the image; returns its directory and manifest. */
async function unpack(
  image: MaintenanceAssignment["image"],
  machine: Credentialed,
  signal: AbortSignal,
): Promise<{ dir: string; manifest: MaintenanceManifest }> {
  const compressed = await download(image, machine, signal);
  let tar: Buffer;
  try {
    tar = loadZstd().decompress(compressed);
  } catch (err) {
    throw new MaintenanceImageError(
      `maintenance image ${image.name} is not a zstd stream: ${String(err)}`,
      { image: image.name },
      { cause: err },
    );
  }
  const dir = join(WORK_DIR, image.sha256);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const count = (
    await untar(
      tar,
      dir,
      (file) =>
        new MaintenanceImageError(`maintenance image entry ${file} leaves its directory`, {
          image: image.name,
          file,
        }),
    )
  ).length;
  const manifestText = await readFile(join(dir, "manifest.json"), "utf8").catch(() => {
    throw new MaintenanceImageError(`maintenance image ${image.name} has no manifest.json`, {
      image: image.name,
      file: "manifest.json",
    });
  });
  const manifest = MaintenanceManifest.safeParse(JSON.parse(manifestText));
  if (!manifest.success)
    throw new MaintenanceImageError(
      `maintenance image ${image.name}: manifest.json: ${manifest.error.message}`,
      { image: image.name, file: "manifest.json" },
    );
  say("ok", "maintenance image unpacked", { name: image.name, files: count, dir });
  return { dir, manifest: manifest.data };
}

async function loadProgram(file: string, image: string): Promise<MaintenanceProgram> {
  const loaded: unknown = await import(pathToFileURL(file).href);
  const steps: unknown =
    typeof loaded === "object" && loaded !== null && "steps" in loaded ? loaded.steps : undefined;
  if (typeof steps !== "object" || steps === null)
    throw new MaintenanceImageError(`maintenance program ${file} exports no steps`, { image, file });
  for (const [name, step] of Object.entries(steps as Record<string, unknown>))
    if (typeof step !== "object" || step === null || !("run" in step) || typeof step.run !== "function")
      throw new MaintenanceImageError(`maintenance program ${file}: step ${name} has no run()`, {
        image,
        file,
      });
  return steps as MaintenanceProgram;
}

export async function runMaintenance(command: LeasedCommand, ctx: CommandContext): Promise<CommandOutput> {
  const assignment = command.maintenance;
  if (!assignment)
    throw new Error(`command ${command.id} is run-maintenance but carries no maintenance assignment`);
  const { image, mode } = assignment;
  const until = Date.now() + command.timeoutMs;
  say("step", "maintenance run", { run: assignment.runId, image: image.name, purpose: image.purpose, mode });
  const { dir, manifest } = await unpack(image, ctx.machine, ctx.signal);
  const program = await loadProgram(join(dir, manifest.program), image.name);
  const queue: { step: MaintenanceStep; extra: boolean }[] = (
    assignment.steps.length > 0 ? assignment.steps : manifest.defaultSteps
  ).map((step) => ({ step, extra: false }));
  const done: MaintenanceStepResult[] = [];
  const inventory = await ctx.gatherInventory();
  const plugin = `maintenance:${image.name}`;
  let current: { name: string; percent: number | null } | null = null;

  // Active mode: the server polls; each answer may bring extra steps, queued behind the others.
  const poll = async (message: string): Promise<void> => {
    if (mode !== "active") return;
    try {
      const answer = await postMaintenanceProgress(ctx.machine, {
        runId: assignment.runId,
        leaseId: command.leaseId,
        step: current?.name ?? null,
        message,
        percent: current?.percent ?? null,
        done,
      });
      for (const step of answer.extraSteps) {
        say("ok", "extra maintenance step from the server", { step: step.name });
        queue.push({ step, extra: true });
      }
    } catch (err) {
      // A missed poll is the server's to judge (it fails a run whose reports stop): keep working.
      say("warn", "maintenance progress not sent", { reason: describeRequestFailure(err) });
    }
  };
  const timer =
    mode === "active"
      ? setInterval(() => {
          void poll("working");
        }, assignment.reportEveryMs)
      : undefined;
  try {
    await poll("started");
    for (;;) {
      for (let next = queue.shift(); next; next = queue.shift()) {
        ctx.signal.throwIfAborted();
        current = { name: next.step.name, percent: null };
        done.push(
          await runStep(program, manifest, next.step, next.extra, {
            ctx,
            dir,
            inventory,
            plugin,
            current,
            until,
          }),
        );
        current = null;
        await poll(`step ${next.step.name} done`);
      }
      // A last poll picks up a step the operator added while the others ran.
      await poll("steps done");
      if (queue.length === 0) break;
    }
  } finally {
    clearInterval(timer);
  }
  const report = { image: image.sha256, ok: done.every((s) => s.ok), steps: done };
  say(report.ok ? "ok" : "fail", "maintenance run finished", {
    run: assignment.runId,
    ok: report.ok,
    failed:
      done
        .filter((s) => !s.ok)
        .map((s) => s.name)
        .join(",") || undefined,
  });
  return { kind: "run-maintenance", runId: assignment.runId, report };
}

/**
 * A step's promise, failed when the run's time is up. The timer is a real (ref'd) one: a step that waits
 * on nothing would otherwise let Node's event loop run dry and the loader exit in the middle of the run.
 */
async function withinDeadline<T>(name: string, until: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => {
        reject(
          new Error(`step ${name} did not finish by the run's deadline (${new Date(until).toISOString()})`),
        );
      },
      Math.max(0, until - Date.now()),
    );
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function runStep(
  program: MaintenanceProgram,
  manifest: MaintenanceManifest,
  step: MaintenanceStep,
  extra: boolean,
  env: {
    ctx: CommandContext;
    dir: string;
    inventory: Awaited<ReturnType<CommandContext["gatherInventory"]>>;
    plugin: string;
    current: { percent: number | null };
    /** When the run must be over (the command's time): a step still running then fails. */
    until: number;
  },
): Promise<MaintenanceStepResult> {
  const { ctx, plugin } = env;
  ctx.postEvent({
    event: "step-started",
    plugin,
    step: step.name,
    message: `step ${step.name} started`,
    data: step.params,
  });
  say("step", `maintenance step ${step.name}`, step.params);
  const started = performance.now();
  const definition = program[step.name];
  let data: Record<string, unknown> = {};
  let error: string | null = null;
  try {
    if (!definition)
      throw new Error(
        `maintenance image ${manifest.name} has no step ${step.name} (it has: ${Object.keys(program).join(", ")})`,
      );
    data = await withinDeadline(
      step.name,
      env.until,
      definition.run({
        machine: ctx.machine,
        inventory: env.inventory,
        root: ctx.root,
        imageDir: env.dir,
        params: step.params,
        signal: ctx.signal,
        exec: run,
        progress: (message, fields = {}) => {
          if (typeof fields.percent === "number") env.current.percent = fields.percent;
          say("step", message, fields);
          ctx.postEvent({ event: "progress", plugin, step: step.name, message, data: fields });
        },
      }),
    );
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
  }
  const result: MaintenanceStepResult = {
    name: step.name,
    params: step.params,
    ok: error === null,
    ms: Math.round(performance.now() - started),
    data,
    error,
    extra,
  };
  ctx.postEvent({
    event: "step-finished",
    plugin,
    step: step.name,
    message: result.ok ? `step ${step.name} done` : `step ${step.name} failed`,
    data: { ok: result.ok, ms: result.ms, error, ...data },
  });
  say(result.ok ? "ok" : "fail", `maintenance step ${step.name}`, {
    ms: result.ms,
    error: error ?? undefined,
  });
  return result;
}
