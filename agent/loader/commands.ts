// The commands the loader runs for the server's command queue (seed 000): each returns its output or
// throws; the caller posts the result under the command's lease.
import { open } from "node:fs/promises";
import type {
  AgentEvent,
  CommandOutput,
  DiskCheck,
  Inventory,
  LeasedCommand,
  StepReport,
} from "../../protocol/index.js";
import type { MachineIdentity, Phase } from "../installer/plugin.js";
import { readDisks } from "../inventory/disks.js";
import { loadVerifiedAgent } from "./agent-runner.js";
import { runMaintenance } from "./maintenance-runner.js";
import { say } from "./console.js";
import { eraseDisks } from "./erase.js";
import { describeLoaded, kexecIntoInstalled } from "./kexec.js";
import { postAgentEvent } from "./server-client.js";

export interface CommandContext {
  machine: MachineIdentity;
  /** Sends a step/progress event to the server for this command (best effort). */
  postEvent: (event: Omit<AgentEvent, "commandId" | "leaseId">) => void;
  /** Gathers the inventory the same way the loader did at enrollment. */
  gatherInventory: () => Promise<Inventory>;
  signal: AbortSignal;
  /** Root of /sys and /dev (tests point it elsewhere). */
  root: string;
  /** Reboots into the installed system (agent/loader/disk-boot.ts); never returns. */
  rebootToDisk: () => Promise<never>;
}

const CHECK_BYTES = 2 ** 20;

/** Reads the first and last MiB of one disk: proves the device answers at both ends. */
async function checkDisk(
  root: string,
  name: string,
  sizeBytes: number,
  signal: AbortSignal,
): Promise<DiskCheck> {
  const started = performance.now();
  const handle = await open(`${root}/dev/${name}`, "r");
  try {
    const buffer = Buffer.alloc(Math.min(CHECK_BYTES, sizeBytes));
    let bytesRead = 0;
    const offsets = sizeBytes > CHECK_BYTES ? [0, sizeBytes - CHECK_BYTES] : [0];
    for (const position of offsets) {
      signal.throwIfAborted();
      const { bytesRead: n } = await handle.read(buffer, 0, buffer.length, position);
      if (n !== buffer.length)
        throw new Error(`/dev/${name}: short read at offset ${position} (${n} of ${buffer.length} bytes)`);
      bytesRead += n;
    }
    return { name, sizeBytes, bytesRead, ms: Math.round(performance.now() - started) };
  } finally {
    await handle.close();
  }
}

export async function runCommand(command: LeasedCommand, ctx: CommandContext): Promise<CommandOutput> {
  switch (command.kind) {
    case "report-inventory":
      return { kind: "report-inventory", inventory: await ctx.gatherInventory() };
    case "check-disks": {
      const disks = await readDisks(ctx.root);
      if (disks.length === 0) throw new Error("no disks found in /sys/block");
      const checks: DiskCheck[] = [];
      for (const disk of disks) checks.push(await checkDisk(ctx.root, disk.name, disk.sizeBytes, ctx.signal));
      return { kind: "check-disks", disks: checks };
    }
    case "run-agent":
      return { kind: "run-agent", ...(await runAgent(command, ctx, "configure")) };
    case "write-image": {
      const ran = await runAgent(command, ctx, "image");
      // An agent with no image step for this plan's format would "succeed" having written nothing.
      if (ran.steps.length === 0)
        throw new Error(
          `the agent has no step that writes this plan's image (plugins: ${command.agent?.plugins.join(", ") ?? "none"})`,
        );
      return { kind: "write-image", ...ran };
    }
    case "boot-installed":
      return bootInstalled(command, ctx);
    case "run-maintenance":
      return runMaintenance(command, ctx);
    case "resolve-policy":
      throw new Error("resolve-policy is the server's own step; it is never leased to an agent");
    case "erase-disks": {
      const mode = command.erase?.mode ?? "quick";
      const disks = await eraseDisks(mode, {
        root: ctx.root,
        signal: ctx.signal,
        progress: (disk, message, data) => {
          say("step", `${disk}: ${message}`, data);
          ctx.postEvent({ event: "progress", plugin: "erase", step: disk, message, data });
        },
      });
      return { kind: "erase-disks", mode, disks };
    }
  }
}

/**
 * Starts the installed system: with kexec when the server allows it (the plan's `reboot`), else (or
 * when kexec cannot) by a reboot through the firmware. No result is posted: the installed OS calling
 * home completes the command on the server (and if it never does, the lease running out fails the
 * machine with the reason).
 */
async function bootInstalled(command: LeasedCommand, ctx: CommandContext): Promise<never> {
  if (command.reboot === "kexec")
    // The step log says which way it went (the jump waits a moment for it).
    await kexecIntoInstalled(ctx.root, (loaded) =>
      postAgentEvent(ctx.machine, {
        event: "progress",
        plugin: "boot",
        step: "kexec",
        message: "starting the installed kernel (kexec)",
        data: describeLoaded(loaded),
        commandId: command.id,
        leaseId: command.leaseId,
      }),
    );
  say("ok", "rebooting into the installed system");
  return ctx.rebootToDisk();
}

/**
 * Fetches the tailored agent, verifies its sha256, runs the steps of one phase; the first failing step
 * fails the command.
 */
async function runAgent(
  command: LeasedCommand,
  ctx: CommandContext,
  phase: Phase,
): Promise<{ sha256: string; steps: StepReport[] }> {
  if (!command.agent) throw new Error(`command ${command.id} is run-agent but names no agent`);
  say("step", "fetching tailored agent", {
    sha256: command.agent.sha256.slice(0, 16),
    plugins: command.agent.plugins.join(","),
  });
  const agent = await loadVerifiedAgent(command.agent.url, command.agent.sha256, ctx.machine);
  say("ok", "agent verified", { plan: agent.plan.planHash, image: agent.plan.image });
  let currentStep = { plugin: "", step: "" };
  const steps = await agent.run({
    phase,
    machine: command.osCredential ? { ...ctx.machine, osCredential: command.osCredential } : ctx.machine,
    inventory: await ctx.gatherInventory(),
    root: ctx.root,
    signal: ctx.signal,
    progress: (message, fields = {}) => {
      say("step", message, fields);
      ctx.postEvent({ event: "progress", ...currentStep, message, data: fields });
    },
    onStepStart: (plugin, step) => {
      currentStep = { plugin, step };
      ctx.postEvent({
        event: "step-started",
        plugin,
        step,
        message: `step ${plugin}/${step} started`,
        data: {},
      });
      return Promise.resolve();
    },
    onStep: (report) => {
      ctx.postEvent({
        event: "step-finished",
        plugin: report.plugin,
        step: report.step,
        message: report.ok
          ? `step ${report.plugin}/${report.step} done`
          : `step ${report.plugin}/${report.step} failed`,
        data: { ok: report.ok, ms: report.ms, error: report.error },
      });
      say(report.ok ? "ok" : "fail", `step ${report.plugin}/${report.step}`, {
        ms: report.ms,
        error: report.error ?? undefined,
      });
      return Promise.resolve();
    },
  });
  const failed = steps.find((step) => !step.ok);
  if (failed)
    throw new Error(`step ${failed.plugin}/${failed.step} failed: ${failed.error ?? "no reason given"}`);
  return { sha256: command.agent.sha256, steps };
}
