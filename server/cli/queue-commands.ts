// CLI for seed 000's lists: expect, diff, queue, log (each with --json).
import type { Command } from "commander";
import { BootCategory, DifferenceList, Machine, QueuedCommand, StepLog } from "../../protocol/index.js";
import * as z from "zod";
import { clientServerUrl } from "../config.js";
import { getJson, print, requestJson, SERVER_HELP, type ClientOptions } from "./api-client.js";
import { formatTable } from "./format.js";
import { parseWhere } from "../selector.js";

type ExpectOptions = ClientOptions & { where?: string; replan?: boolean };

export function addQueueCommands(program: Command): void {
  program
    .command("expect")
    .description(
      "set the expected boot category of a machine, or of every machine matching --where ('none' clears it)",
    )
    .argument("<machine-or-category>", "machine id; with --where, the category")
    .argument("[category]", `one of ${BootCategory.options.join(", ")}, or none`)
    .option(
      "--where <path=value>",
      "every machine whose fact equals the value, e.g. inventory.system.product=X1 or tag=rack12",
    )
    .option(
      "--replan",
      "with installed: reinstall a machine that drifted (installed under a plan the policy now changes) with its new plan",
    )
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (first: string, second: string | undefined, opts: ExpectOptions) => {
      const [machine, rawCategory] = opts.where ? [undefined, first] : [first, second];
      if (opts.where && second !== undefined) throw new Error("with --where, give only the category");
      if (rawCategory === undefined) throw new Error("give the expected category (or none)");
      const category = rawCategory === "none" ? null : BootCategory.parse(rawCategory);
      if (opts.replan === true && category !== "installed")
        throw new Error("--replan reinstalls a drifted machine: give the category installed");
      const replan = opts.replan === true ? { replan: true } : {};
      const base = clientServerUrl(opts.server);
      if (machine === undefined) {
        const answer = z
          .object({ machineIds: z.array(z.string()), replanned: z.array(z.string()).optional() })
          .parse(
            await requestJson(`${base}/v1/expected`, {
              method: "POST",
              body: { category, where: parseWhere(opts.where ?? ""), ...replan },
            }),
          );
        print(opts, answer, () => {
          const line = `expected ${category ?? "nothing"} of ${answer.machineIds.length} machine(s): ${answer.machineIds.join(", ")}`;
          return answer.replanned === undefined
            ? line
            : `${line}\nre-planned for reinstall (drifted): ${answer.replanned.join(", ") || "none"}`;
        });
        return;
      }
      const updated = Machine.parse(
        await requestJson(`${base}/v1/machines/${encodeURIComponent(machine)}/expected`, {
          method: "PUT",
          body: { category, ...replan },
        }),
      );
      print(opts, updated, () =>
        opts.replan === true
          ? `${updated.id}: re-planned for reinstall with rule ${updated.plan?.rule ?? "?"} (policy v${String(updated.plan?.policyVersion ?? "?")}); current ${updated.category}, expected ${updated.expected ?? "nothing"}: it reinstalls at its next network boot`
          : `${updated.id}: current ${updated.category}, expected ${updated.expected ?? "nothing"}`,
      );
    });

  program
    .command("diff")
    .description(
      "show the difference list: machines not at their expected category, and the commands that close it",
    )
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (opts: ClientOptions) => {
      const list = DifferenceList.parse(await getJson(`${clientServerUrl(opts.server)}/v1/differences`));
      print(opts, list, () => {
        const categories =
          list.differences.length === 0
            ? "no differences: every machine is at its expected category"
            : formatTable(
                ["MACHINE", "CURRENT", "EXPECTED", "COMMANDS / BLOCKED"],
                list.differences.map((d) => [
                  d.machineId,
                  d.current,
                  d.expected,
                  d.blocked ?? d.commands.map((c) => `${c.kind}→${c.onSuccess}`).join(", "),
                ]),
              );
        const parts = [categories];
        if (list.enrollment.length > 0)
          parts.push(
            `identity and enrollment:\n${formatTable(
              ["MACHINE", "ENROLLMENT", "SHARED UUID", "REASON"],
              list.enrollment.map((e) => [e.machineId, e.state, e.sharedUuid ?? "", e.reason ?? ""]),
            )}`,
          );
        // Drift: installed under a plan the policy now changes; `policy explain <id>` says why.
        if (list.drift.length > 0)
          parts.push(
            `drift (installed, left alone; bootwright expect <id> installed --replan reinstalls):\n${formatTable(
              ["MACHINE", "DRIFT"],
              list.drift.map((d) => [d.machineId, d.message]),
            )}`,
          );
        if (list.drivers.length > 0)
          parts.push(
            `no driver for a storage or network controller (bootwright drivers <id> says why):\n${formatTable(
              ["MACHINE", "DEVICES"],
              list.drivers.map((d) => [
                d.machineId,
                d.devices
                  .map((device) => `${device.address} ${device.kind} ${device.vendorId}:${device.deviceId}`)
                  .join(", "),
              ]),
            )}`,
          );
        return parts.join("\n\n");
      });
    });

  program
    .command("queue")
    .description("show a machine's command queue")
    .argument("<machine>", "machine id")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (machine: string, opts: ClientOptions) => {
      const { commands } = z
        .object({ commands: z.array(QueuedCommand) })
        .parse(
          await getJson(`${clientServerUrl(opts.server)}/v1/machines/${encodeURIComponent(machine)}/queue`),
        );
      print(opts, { commands }, () =>
        commands.length === 0
          ? `${machine}: no commands`
          : formatTable(
              ["COMMAND", "KIND", "STATE", "ON SUCCESS", "ATTEMPTS", "UPDATED", "ERROR"],
              commands.map((c) => [
                c.id,
                c.kind,
                c.state,
                c.onSuccess,
                String(c.attempts),
                c.updatedAt,
                c.error ?? "",
              ]),
            ),
      );
    });

  program
    .command("log")
    .description("show a machine's step log")
    .argument("<machine>", "machine id")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (machine: string, opts: ClientOptions) => {
      const log = StepLog.parse(
        await getJson(`${clientServerUrl(opts.server)}/v1/machines/${encodeURIComponent(machine)}/log`),
      );
      print(
        opts,
        log,
        () =>
          log.entries.map((e) => `${e.at}  ${e.event.padEnd(24)} ${JSON.stringify(e.data)}`).join("\n") ||
          `${machine}: empty log`,
      );
    });
}
