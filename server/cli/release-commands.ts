// CLI for giving machines back (issue 18): `bootwright release <id>|--where … [--erase quick|full|secure]`.
import { Option, type Command } from "commander";
import * as z from "zod";
import { EraseMode, Machine } from "../../protocol/index.js";
import { clientServerUrl } from "../config.js";
import { print, requestJson, SERVER_HELP, type ClientOptions } from "./api-client.js";
import { parseWhere } from "../selector.js";

export function addReleaseCommands(program: Command): void {
  program
    .command("release")
    .description(
      "give a machine back (or every machine matching --where): erase its disks, then it waits in the loader as released",
    )
    .argument("[machine]", "machine id (or --where)")
    .option(
      "--where <path=value>",
      "every machine whose fact equals the value, e.g. inventory.system.product=X1",
    )
    .addOption(
      new Option(
        "--erase <mode>",
        "quick: partition tables and signatures; full: zeros over every byte; secure: the device's own erase",
      )
        .choices(EraseMode.options)
        .default("quick"),
    )
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (machine: string | undefined, opts: ClientOptions & { where?: string; erase: string }) => {
      const erase = EraseMode.parse(opts.erase);
      const base = clientServerUrl(opts.server);
      if ((machine === undefined) === (opts.where === undefined))
        throw new Error("give a machine id or --where, not both");
      if (opts.where !== undefined) {
        const answer = z.object({ machineIds: z.array(z.string()) }).parse(
          await requestJson(`${base}/v1/release`, {
            method: "POST",
            body: { erase, where: parseWhere(opts.where) },
          }),
        );
        print(
          opts,
          answer,
          () =>
            `releasing ${answer.machineIds.length} machine(s), erase ${erase}: ${answer.machineIds.join(", ")}`,
        );
        return;
      }
      const released = Machine.parse(
        await requestJson(`${base}/v1/machines/${encodeURIComponent(machine ?? "")}/release`, {
          method: "POST",
          body: { erase },
        }),
      );
      print(
        opts,
        released,
        () =>
          `${released.id}: releasing (erase ${erase}); current ${released.category}, expected ${released.expected ?? "nothing"}`,
      );
    });
}
