// CLI for the maintenance swap (seeds 001, 004): maintenance start|list|show|step|restore, maintenance
// schedule add|list|remove, health (each with --json).
import type { Command } from "commander";
import {
  HealthHistory,
  MaintenanceRun,
  MaintenanceRunList,
  MaintenanceSchedule,
  MaintenanceScheduleList,
  type MaintenanceScheduleSpec,
  type StepParams,
} from "../../protocol/index.js";
import { clientServerUrl } from "../config.js";
import { parseDuration } from "../maintenance/duration.js";
import { getJson, print, requestJson, SERVER_HELP, type ClientOptions } from "./api-client.js";
import { formatTable } from "./format.js";
import { parseWhere } from "../selector.js";

export const machinePath = (base: string, machine: string, rest = ""): string =>
  `${base}/v1/machines/${encodeURIComponent(machine)}${rest}`;

/** `--param k=v` (repeatable): numbers and booleans as such, the rest as text. */
function collectParam(raw: string, params: StepParams): StepParams {
  const eq = raw.indexOf("=");
  if (eq <= 0) throw new Error(`--param wants name=value (got ${raw})`);
  const text = raw.slice(eq + 1);
  const value =
    text === "true" ? true : text === "false" ? false : /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
  return { ...params, [raw.slice(0, eq)]: value };
}

function formatRun(run: MaintenanceRun): string {
  const lines = [
    `run ${run.id} on ${run.machineId}: ${run.state}${run.error ? ` (${run.error})` : ""}`,
    `  image     ${run.image.name} (${run.image.purpose}, ${run.mode}), trigger ${JSON.stringify(run.trigger)}`,
    `  original  ${run.original.image} plan ${run.original.planHash} (rule ${run.original.rule})`,
    `  started   ${run.startedAt}, deadline ${run.deadlineAt}${run.endedAt ? `, ended ${run.endedAt}` : ""}`,
    ...run.power.map((p) => `  reboot    ${p.via} at ${p.at}: ${p.ok ? "ok" : `failed: ${p.error ?? "?"}`}`),
    ...run.extraSteps.map(
      (e) =>
        `  extra     ${e.step.name} ${JSON.stringify(e.step.params)} ${e.delivered ? "(delivered)" : "(waiting)"}`,
    ),
  ];
  for (const step of run.report?.steps ?? [])
    lines.push(
      `  step      ${step.ok ? "ok  " : "FAIL"} ${step.name} ${step.ms} ms ${step.error ?? JSON.stringify(step.data)}`,
    );
  return lines.join("\n");
}

function formatRuns(runs: readonly MaintenanceRun[]): string {
  if (runs.length === 0) return "no maintenance runs";
  return formatTable(
    ["RUN", "MACHINE", "IMAGE", "MODE", "TRIGGER", "STATE", "STARTED", "ERROR"],
    runs.map((r) => [
      r.id,
      r.machineId,
      r.image.name,
      r.mode,
      r.trigger.kind,
      r.state,
      r.startedAt,
      r.error ?? "",
    ]),
  );
}

/** POSTs to one of the machine's maintenance routes and prints the run it answers with. */
async function postRun(opts: ClientOptions, machine: string, path: string, body?: unknown): Promise<void> {
  const run = MaintenanceRun.parse(
    await requestJson(machinePath(clientServerUrl(opts.server), machine, path), {
      method: "POST",
      ...(body === undefined ? {} : { body }),
    }),
  );
  print(opts, run, () => formatRun(run));
}

export function addMaintenanceCommands(program: Command): void {
  const maintenance = program
    .command("maintenance")
    .description("swap machines into maintenance images and back (diagnostics, repair)");

  maintenance
    .command("start")
    .description("swap an installed machine into a maintenance image; it comes back to its system after")
    .argument("<machine>", "machine id")
    .requiredOption("--image <name>", "a maintenance image in the store (purpose diagnostic, repair, …)")
    .option("--active", "the server polls the run and may send it extra steps (maintenance step)")
    .option("--passive", "the server only waits for the run's completion signal (default)")
    .option("--timeout <duration>", "from the swap to the report, e.g. 20m (default: the server's)")
    .option(
      "--step <name>",
      "run these steps instead of the image's defaults (repeatable)",
      (v, acc: string[]) => [...acc, v],
      [],
    )
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(
      async (
        machine: string,
        opts: ClientOptions & {
          image: string;
          active?: boolean;
          passive?: boolean;
          timeout?: string;
          step: string[];
        },
      ) => {
        if (opts.active && opts.passive) throw new Error("give --active or --passive, not both");
        await postRun(opts, machine, "/maintenance", {
          image: opts.image,
          mode: opts.active ? "active" : "passive",
          ...(opts.timeout ? { timeoutMs: parseDuration(opts.timeout) } : {}),
          steps: opts.step.map((name) => ({ name, params: {} })),
        });
      },
    );

  maintenance
    .command("list")
    .description("maintenance runs, of one machine or of all")
    .argument("[machine]", "machine id")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (machine: string | undefined, opts: ClientOptions) => {
      const base = clientServerUrl(opts.server);
      const list = MaintenanceRunList.parse(
        await getJson(machine ? machinePath(base, machine, "/maintenance") : `${base}/v1/maintenance`),
      );
      print(opts, list, () => formatRuns(list.runs));
    });

  maintenance
    .command("show")
    .description("one maintenance run: its original target, reboots, steps and report")
    .argument("<run>", "run id")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (runId: string, opts: ClientOptions) => {
      const run = MaintenanceRun.parse(
        await getJson(`${clientServerUrl(opts.server)}/v1/maintenance/runs/${encodeURIComponent(runId)}`),
      );
      print(opts, run, () => formatRun(run));
    });

  maintenance
    .command("step")
    .description("send an extra step to a machine's active maintenance run")
    .argument("<machine>", "machine id")
    .argument("<step>", "a step of the run's image, e.g. memory-test")
    .option("--param <name=value>", "a step parameter (repeatable)", collectParam, {})
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (machine: string, step: string, opts: ClientOptions & { param: StepParams }) => {
      await postRun(opts, machine, "/maintenance/steps", { name: step, params: opts.param });
    });

  maintenance
    .command("restore")
    .description("bring back the original system of a machine whose maintenance run failed (or stop one)")
    .argument("<machine>", "machine id")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (machine: string, opts: ClientOptions) => {
      await postRun(opts, machine, "/maintenance/restore");
    });

  const schedule = maintenance.command("schedule").description("timed maintenance programs (cron, UTC)");
  schedule
    .command("add")
    .description("swap a machine (or every machine matching --where) into an image at a time or on a cron")
    .option("--machine <id>", "the machine")
    .option("--where <path=value>", "every installed machine whose fact equals the value")
    .option("--cron <expr>", '"m h dom mon dow" in UTC, or @daily, @weekly, …')
    .option("--at <time>", "once, at this ISO 8601 time")
    .requiredOption("--image <name>", "the maintenance image")
    .option("--active", "active monitoring (default passive)")
    .option("--timeout <duration>", "each run's deadline, e.g. 20m")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(
      async (
        opts: ClientOptions & {
          machine?: string;
          where?: string;
          cron?: string;
          at?: string;
          image: string;
          active?: boolean;
          timeout?: string;
        },
      ) => {
        if ((opts.machine === undefined) === (opts.where === undefined))
          throw new Error("give exactly one of --machine and --where");
        const spec: MaintenanceScheduleSpec = {
          target:
            opts.machine !== undefined ? { machine: opts.machine } : { where: parseWhere(opts.where ?? "") },
          image: opts.image,
          mode: opts.active ? "active" : "passive",
          ...(opts.cron !== undefined ? { cron: opts.cron } : {}),
          ...(opts.at !== undefined ? { at: new Date(opts.at).toISOString() } : {}),
          ...(opts.timeout ? { timeoutMs: parseDuration(opts.timeout) } : {}),
        };
        const added = MaintenanceSchedule.parse(
          await requestJson(`${clientServerUrl(opts.server)}/v1/maintenance/schedules`, {
            method: "POST",
            body: spec,
          }),
        );
        print(opts, added, () => `schedule ${added.id}: next at ${added.nextFireAt ?? "never"}`);
      },
    );
  schedule
    .command("list")
    .description("the maintenance schedules and when each fires next")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (opts: ClientOptions) => {
      const list = MaintenanceScheduleList.parse(
        await getJson(`${clientServerUrl(opts.server)}/v1/maintenance/schedules`),
      );
      print(opts, list, () =>
        list.schedules.length === 0
          ? "no maintenance schedules"
          : formatTable(
              ["SCHEDULE", "TARGET", "WHEN", "IMAGE", "MODE", "NEXT", "FIRED"],
              list.schedules.map((s) => [
                s.id,
                "machine" in s.target
                  ? s.target.machine
                  : `${s.target.where.path}=${String(s.target.where.equals)}`,
                s.cron ?? `at ${s.at ?? "?"}`,
                s.image,
                s.mode,
                s.nextFireAt ?? "done",
                String(s.fired),
              ]),
            ),
      );
    });
  schedule
    .command("remove")
    .argument("<schedule>", "schedule id")
    .option("--server <url>", SERVER_HELP)
    .action(async (id: string, opts: ClientOptions) => {
      await requestJson(
        `${clientServerUrl(opts.server)}/v1/maintenance/schedules/${encodeURIComponent(id)}`,
        {
          method: "DELETE",
        },
      );
      console.log(`schedule ${id} removed`);
    });

  program
    .command("health")
    .description("a machine's latest health reports (from its installed OS)")
    .argument("<machine>", "machine id")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (machine: string, opts: ClientOptions) => {
      const history = HealthHistory.parse(
        await getJson(machinePath(clientServerUrl(opts.server), machine, "/health")),
      );
      print(opts, history, () =>
        history.reports.length === 0
          ? `${machine}: no health reports`
          : formatTable(
              ["AT", "OS", "FIGURES", "CROSSED"],
              history.reports.map((r) => [r.at, r.os, JSON.stringify(r.figures), r.crossed.join(",")]),
            ),
      );
    });
}
