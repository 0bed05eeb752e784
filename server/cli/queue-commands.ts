// CLI for seed 000's lists: expect, diff, queue, log (each with --json).
import type { Command } from "commander";
import { BootCategory, DifferenceList, Machine, QueuedCommand } from "../../protocol/index.js";
import { z } from "zod";
import { clientServerUrl } from "../config.js";
import { getJson, print, requestJson, SERVER_HELP, type ClientOptions } from "./api-client.js";
import { formatTable } from "./format.js";

const LogEntries = z.object({
  entries: z.array(
    z.object({ seq: z.number(), at: z.string(), event: z.string(), data: z.record(z.string(), z.unknown()) }),
  ),
});

/**
 * `key=value` → a selector; the value is JSON when it parses (numbers, true, null), else a string.
 * `tag=value` selects machines with that tag.
 */
export function parseWhere(raw: string): { path: string; equals: string | number | boolean | null } {
  const eq = raw.indexOf("=");
  if (eq <= 0) throw new Error(`--where wants path=value, e.g. inventory.system.product=X1 (got ${raw})`);
  const text = raw.slice(eq + 1);
  let equals: string | number | boolean | null = text;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || ["number", "boolean", "string"].includes(typeof parsed))
      equals = parsed as typeof equals;
  } catch {
    // not JSON: a plain string
  }
  // tag=rack12: one of its tags is rack12 (a tag is always a string, even one that reads as a number).
  const path = raw.slice(0, eq);
  return path === "tag" ? { path: "tags", equals: text } : { path, equals };
}

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
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (first: string, second: string | undefined, opts: ClientOptions & { where?: string }) => {
      const [machine, rawCategory] = opts.where ? [undefined, first] : [first, second];
      if (opts.where && second !== undefined) throw new Error("with --where, give only the category");
      if (rawCategory === undefined) throw new Error("give the expected category (or none)");
      const category = rawCategory === "none" ? null : BootCategory.parse(rawCategory);
      const base = clientServerUrl(opts.server);
      if (machine === undefined) {
        const answer = z.object({ machineIds: z.array(z.string()) }).parse(
          await requestJson(`${base}/v1/expected`, {
            method: "POST",
            body: { category, where: parseWhere(opts.where ?? "") },
          }),
        );
        print(
          opts,
          answer,
          () =>
            `expected ${category ?? "nothing"} of ${answer.machineIds.length} machine(s): ${answer.machineIds.join(", ")}`,
        );
        return;
      }
      const updated = Machine.parse(
        await requestJson(`${base}/v1/machines/${encodeURIComponent(machine)}/expected`, {
          method: "PUT",
          body: { category },
        }),
      );
      print(
        opts,
        updated,
        () => `${updated.id}: current ${updated.category}, expected ${updated.expected ?? "nothing"}`,
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
        if (list.enrollment.length === 0) return categories;
        const enrollment = formatTable(
          ["MACHINE", "ENROLLMENT", "SHARED UUID", "REASON"],
          list.enrollment.map((e) => [e.machineId, e.state, e.sharedUuid ?? "", e.reason ?? ""]),
        );
        return `${categories}\n\nidentity and enrollment:\n${enrollment}`;
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
      const log = LogEntries.parse(
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
