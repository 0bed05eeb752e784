// The commands the loader runs for the server's command queue (seed 000): each returns its output or
// throws; the caller posts the result under the command's lease.
import { open } from "node:fs/promises";
import type { CommandOutput, DiskCheck, Inventory, LeasedCommand } from "../../protocol/index.js";
import { readDisks } from "../inventory/disks.js";
import { loadVerifiedAgent } from "./agent-runner.js";
import { say } from "./console.js";

export interface CommandContext {
  /** Gathers the inventory the same way the loader did at enrollment. */
  gatherInventory: () => Promise<Inventory>;
  signal: AbortSignal;
  /** Root of /sys and /dev (tests point it elsewhere). */
  root: string;
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
      return runAgent(command, ctx);
    case "resolve-policy":
      throw new Error("resolve-policy is the server's own step; it is never leased to an agent");
  }
}

/** Fetches the tailored agent, verifies its sha256, runs its steps; the first failing step fails the command. */
async function runAgent(command: LeasedCommand, ctx: CommandContext): Promise<CommandOutput> {
  if (!command.agent) throw new Error(`command ${command.id} is run-agent but names no agent`);
  say("step", "fetching tailored agent", {
    sha256: command.agent.sha256.slice(0, 16),
    plugins: command.agent.plugins.join(","),
  });
  const agent = await loadVerifiedAgent(command.agent.url, command.agent.sha256);
  say("ok", "agent verified", { plan: agent.plan.planHash, image: agent.plan.image });
  const steps = await agent.run({
    inventory: await ctx.gatherInventory(),
    root: ctx.root,
    signal: ctx.signal,
    progress: (message, fields) => {
      say("step", message, fields);
    },
    onStep: (report) => {
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
  return { kind: "run-agent", sha256: command.agent.sha256, steps };
}
