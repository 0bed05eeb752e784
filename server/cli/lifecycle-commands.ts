// CLI for a machine's lifecycle (issue 18): retire / unretire, `machines delete`, tags (+add -remove,
// on one machine or every machine matching --where) and notes.
import type { Command } from "commander";
import { Machine, MachineDeleted, TagAnswer } from "../../protocol/index.js";
import { clientServerUrl } from "../config.js";
import { print, requestJson, SERVER_HELP, type ClientOptions } from "./api-client.js";
import { parseWhere } from "../selector.js";

const machineUrl = (opts: ClientOptions, id: string, tail = ""): string =>
  `${clientServerUrl(opts.server)}/v1/machines/${encodeURIComponent(id)}${tail}`;

/** `+rack12 -spare` → what to add and remove; anything else is a mistake worth naming. */
export function parseTagChanges(words: readonly string[]): { add: string[]; remove: string[] } {
  const add: string[] = [];
  const remove: string[] = [];
  for (const word of words) {
    if (word.startsWith("+") && word.length > 1) add.push(word.slice(1));
    else if (word.startsWith("-") && !word.startsWith("--") && word.length > 1) remove.push(word.slice(1));
    else throw new Error(`tags are +tag to add and -tag to remove (got ${word})`);
  }
  if (add.length === 0 && remove.length === 0)
    throw new Error("give tags to change: +tag to add, -tag to remove");
  return { add, remove };
}

export const tagList = (tags: readonly string[]): string => (tags.length === 0 ? "no tags" : tags.join(", "));

export function addLifecycleCommands(program: Command): void {
  for (const [verb, description] of [
    ["retire", "retire a machine: it stays in the boot list with its log, but is never planned or installed"],
    ["unretire", "put a retired machine back in service: its difference closes again"],
  ] as const)
    program
      .command(verb)
      .description(description)
      .argument("<machine>", "machine id")
      .option("--json", "print JSON")
      .option("--server <url>", SERVER_HELP)
      .action(async (id: string, opts: ClientOptions) => {
        const machine = Machine.parse(
          await requestJson(machineUrl(opts, id, `/${verb}`), { method: "POST" }),
        );
        print(opts, machine, () =>
          machine.retired
            ? `${machine.id}: retired by ${machine.retired.by} at ${machine.retired.at}; not planned or installed until unretired`
            : `${machine.id}: in service (${machine.category}, expected ${machine.expected ?? "nothing"})`,
        );
      });

  program
    .command("tag")
    .description("add (+tag) and remove (-tag) tags on a machine, or on every machine matching --where")
    .argument("<machine-or-tags...>", "machine id, then +tag / -tag (with --where: only the tags)")
    .option("--where <path=value>", "every machine whose fact equals the value, e.g. tag=rack12")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    // -spare is a tag to remove, not an option.
    .allowUnknownOption()
    .action(async (words: string[], opts: ClientOptions & { where?: string }) => {
      const base = clientServerUrl(opts.server);
      if (opts.where !== undefined) {
        const answer = TagAnswer.parse(
          await requestJson(`${base}/v1/tags`, {
            method: "POST",
            body: { ...parseTagChanges(words), where: parseWhere(opts.where) },
          }),
        );
        print(
          opts,
          answer,
          () =>
            `tagged ${answer.machineIds.length} machine(s): ${answer.machineIds.join(", ") || "none matched"}`,
        );
        return;
      }
      const [id, ...changes] = words;
      if (id === undefined || /^[+-]/.test(id)) throw new Error("give a machine id or --where path=value");
      const machine = Machine.parse(
        await requestJson(machineUrl(opts, id, "/tags"), { method: "POST", body: parseTagChanges(changes) }),
      );
      print(opts, machine, () => `${machine.id}: ${tagList(machine.tags)}`);
    });

  program
    .command("note")
    .description('write a note on a machine (shown by `machines show`); "" clears it')
    .argument("<machine>", "machine id")
    .argument("<text>", "the note (quote it); at most 2000 characters")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (id: string, text: string, opts: ClientOptions) => {
      const machine = Machine.parse(
        await requestJson(machineUrl(opts, id, "/note"), { method: "PUT", body: { note: text } }),
      );
      print(opts, machine, () => `${machine.id}: ${machine.note === null ? "note cleared" : "note set"}`);
    });
}

/** Adds `delete <id>` under `machines`; reads --json/--server from itself or its parent. */
export function addMachineDelete(machines: Command): void {
  machines
    .command("delete <id>")
    .description(
      "delete a machine: refused while something runs on it; its credentials are revoked, its log kept, and its next boot enrolls it as new",
    )
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (id: string, _opts: unknown, command: Command) => {
      const opts = command.optsWithGlobals<ClientOptions>();
      const deleted = MachineDeleted.parse(await requestJson(machineUrl(opts, id), { method: "DELETE" }));
      print(
        opts,
        deleted,
        () =>
          `${deleted.machineId}: deleted; ${deleted.credentialsRevoked} credential(s) revoked, ${deleted.commandsRemoved} pending command(s) dropped; its log stays (bootwright log ${deleted.machineId})`,
      );
    });
}
