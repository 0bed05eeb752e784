// CLI for the policy: show, set (checked here first, with line numbers; --dry-run: who would re-plan or
// drift), check (offline), explain.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import {
  PlanResolution,
  PolicyDryRun,
  PolicyFormat,
  PolicyState,
  StoredPolicy,
  type FailedCondition,
  type PlanSpec,
} from "../../protocol/index.js";
import { clientServerUrl } from "../config.js";
import { getJson, print, requestJson, SERVER_HELP, type ClientOptions } from "./api-client.js";
import { formatBytes, formatTable } from "./format.js";

/** A fact's value for people: sizes in KiB/MiB/GiB, the rest as JSON. */
function showValue(fact: string, value: unknown): string {
  const isSize = /Bytes$|^diskSizes$|sizeBytes$/.test(fact);
  if (isSize && typeof value === "number") return formatBytes(value);
  if (isSize && Array.isArray(value))
    return `[${value.map((v) => (typeof v === "number" ? formatBytes(v) : JSON.stringify(v))).join(", ")}]`;
  return JSON.stringify(value);
}

function showFailure(failed: FailedCondition): string {
  return `${failed.fact} ${failed.operator} ${showValue(failed.fact, failed.expected)} failed: the machine has ${showValue(failed.fact, failed.actual)}`;
}

function showPlan(plan: PlanSpec): string {
  const parts = [`image ${plan.image}`];
  if (plan.raid) parts.push(`RAID ${plan.raid.level} over ${plan.raid.disks} disks`);
  if (plan.partitions) parts.push(`${plan.partitions.length} partition(s)`);
  if (plan.uefi) parts.push(`UEFI ${JSON.stringify(plan.uefi)}`);
  if (plan.steps?.length) parts.push(`steps ${plan.steps.join(", ")}`);
  if (plan.recipe)
    parts.push(`recipe ${plan.recipe.name} (captured image per configuration, else built on ${plan.image})`);
  return parts.join("; ");
}

/** The readable explain: the outcome first, then each earlier rule and the first fact that failed. */
export function formatResolution(resolution: PlanResolution): string {
  if (resolution.kind === "no-inventory")
    return `${resolution.machineId}: no inventory yet, so no plan (the loader posts one at its next boot)`;
  const lines =
    resolution.kind === "matched"
      ? [
          `${resolution.machineId}: rule #${resolution.ruleIndex} "${resolution.rule}" matched (policy v${resolution.policyVersion})`,
          `  plan ${resolution.planHash}: ${showPlan(resolution.plan)}`,
        ]
      : [`${resolution.machineId}: no policy: ${resolution.reason}`];
  const earlier = resolution.explanation.rules.filter((rule) => !rule.matched);
  if (earlier.length > 0) lines.push(resolution.kind === "matched" ? "earlier rules:" : "rules:");
  for (const rule of earlier)
    lines.push(`  #${rule.index} "${rule.name}": ${rule.failed ? showFailure(rule.failed) : "failed"}`);
  return lines.join("\n");
}

/** The dry run for people: who would re-plan, who would drift, and that nothing changed. */
export function formatDryRun(file: string, result: PolicyDryRun): string {
  const head = `dry run: ${file} would be policy v${result.policyVersion} (${result.rules} rule(s)); nothing was changed`;
  if (result.replan.length === 0 && result.drift.length === 0)
    return `${head}\nno machine would re-plan or drift`;
  const parts = [head];
  if (result.replan.length > 0)
    parts.push(
      `would re-plan (planned, not started installing):\n${formatTable(
        ["MACHINE", "CHANGE"],
        result.replan.map((r) => [r.machineId, r.message]),
      )}`,
    );
  if (result.drift.length > 0)
    parts.push(
      `would drift (installed, left alone; bootwright expect <id> installed --replan reinstalls):\n${formatTable(
        ["MACHINE", "DRIFT"],
        result.drift.map((d) => [d.machineId, d.message]),
      )}`,
    );
  return parts.join("\n\n");
}

/** Reads and checks a policy file here, so problems are shown with their lines before anything is sent. */
async function readPolicyFile(
  file: string,
  format: string | undefined,
): Promise<{ source: string; format: PolicyFormat }> {
  // The YAML parser is loaded by the commands that read a policy file, not by every command's start.
  const { formatPolicyIssues, parsePolicy, policyFormatOf } = await import("../policy/load.js");
  const chosen = format === undefined ? policyFormatOf(file) : PolicyFormat.parse(format);
  if (!chosen)
    throw new Error(`cannot tell the format of ${file}: name it .yaml/.yml/.json or pass --format`);
  const source = readFileSync(file, "utf8");
  const parsed = parsePolicy(source, chosen);
  if (!parsed.ok)
    throw new Error(`policy file ${file} is not valid:\n${formatPolicyIssues(parsed.issues, file)}`);
  return { source, format: chosen };
}

export function addPolicyCommands(program: Command): void {
  const policy = program
    .command("policy")
    .description("the policy: ordered rules that give each machine its plan");

  policy
    .command("show")
    .description("print the current policy as it was set")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (opts: ClientOptions) => {
      const state = PolicyState.parse(await getJson(`${clientServerUrl(opts.server)}/v1/policy`));
      print(opts, state, () =>
        state.policy
          ? `# policy v${state.policy.version} (${state.policy.format}), set ${state.policy.updatedAt}\n${state.policy.source.trimEnd()}`
          : "no policy set: every machine is in the no-policy state (bootwright policy set <file>)",
      );
    });

  policy
    .command("set")
    .description(
      "replace the policy with a YAML or JSON file (checked first; nothing changes if it is bad); planned machines re-plan, installed ones whose plan changes show as drift",
    )
    .argument("<file>", "policy file (.yaml, .yml or .json)")
    .option("--format <format>", "yaml or json (default: from the file name)")
    .option("--dry-run", "print which machines would re-plan or drift, and change nothing")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (file: string, opts: ClientOptions & { format?: string; dryRun?: boolean }) => {
      const upload = await readPolicyFile(file, opts.format);
      if (opts.dryRun === true) {
        const result = PolicyDryRun.parse(
          await requestJson(`${clientServerUrl(opts.server)}/v1/policy/dry-run`, {
            method: "POST",
            body: upload,
          }),
        );
        print(opts, result, () => formatDryRun(file, result));
        return;
      }
      const stored = StoredPolicy.parse(
        await requestJson(`${clientServerUrl(opts.server)}/v1/policy`, { method: "PUT", body: upload }),
      );
      print(
        opts,
        stored,
        () =>
          `policy v${stored.version} set from ${file} (bootwright diff shows installed machines that drift)`,
      );
    });

  policy
    .command("check")
    .description("check a policy file without sending it (exit 1 with each problem's line if it is bad)")
    .argument("<file>", "policy file (.yaml, .yml or .json)")
    .option("--format <format>", "yaml or json (default: from the file name)")
    .action(async (file: string, opts: { format?: string }) => {
      await readPolicyFile(file, opts.format);
      console.log(`${file}: valid`);
    });

  policy
    .command("explain")
    .description("which rule gives a machine its plan, and the first fact each earlier rule failed on")
    .argument("<machine>", "machine id")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (machine: string, opts: ClientOptions) => {
      const resolution = PlanResolution.parse(
        await getJson(`${clientServerUrl(opts.server)}/v1/machines/${encodeURIComponent(machine)}/plan`),
      );
      print(opts, resolution, () => formatResolution(resolution));
    });
}
