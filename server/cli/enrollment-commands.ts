// CLI for enrollment (issue 17): approve a waiting machine, or every machine matching --where; list
// the SMBIOS UUIDs found shared by several machines.
import type { Command } from "commander";
import { ApproveAnswer, Machine, SharedUuidList } from "../../protocol/index.js";
import { clientServerUrl } from "../config.js";
import { getJson, print, requestJson, SERVER_HELP, type ClientOptions } from "./api-client.js";
import { formatTable } from "./format.js";
import { parseWhere } from "../selector.js";

export function addEnrollmentCommands(program: Command): void {
  program
    .command("approve")
    .description(
      "approve a waiting machine's enrollment (approve/allowlist mode, changed hardware, a held re-enrollment): its next inventory enrolls it",
    )
    .argument("[machine]", "machine id (or --where)")
    .option(
      "--where <path=value>",
      "every machine whose fact equals the value, e.g. enrollment.state=awaiting-approval",
    )
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (machine: string | undefined, opts: ClientOptions & { where?: string }) => {
      if ((machine === undefined) === (opts.where === undefined))
        throw new Error("give a machine id or --where path=value (not both)");
      const base = clientServerUrl(opts.server);
      if (opts.where !== undefined) {
        const answer = ApproveAnswer.parse(
          await requestJson(`${base}/v1/approve`, {
            method: "POST",
            body: { where: parseWhere(opts.where) },
          }),
        );
        print(
          opts,
          answer,
          () =>
            `approved ${answer.machineIds.length} machine(s): ${answer.machineIds.join(", ") || "none waited"}`,
        );
        return;
      }
      const approved = Machine.parse(
        await requestJson(`${base}/v1/machines/${encodeURIComponent(machine ?? "")}/approve`, {
          method: "POST",
        }),
      );
      print(opts, approved, () =>
        approved.enrollment.state === "approved"
          ? `${approved.id}: approved; its next inventory enrolls it`
          : `${approved.id}: ${approved.enrollment.state}, nothing to approve`,
      );
    });

  program
    .command("shared-uuids")
    .description("list SMBIOS UUIDs reported by several different machines (they identify none; MACs do)")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (opts: ClientOptions) => {
      const list = SharedUuidList.parse(await getJson(`${clientServerUrl(opts.server)}/v1/shared-uuids`));
      print(opts, list, () =>
        list.sharedUuids.length === 0
          ? "no shared UUIDs"
          : formatTable(
              ["UUID", "FIRST MACHINES", "NOTICED"],
              list.sharedUuids.map((s) => [s.uuid, s.machines.join(", "), s.noticedAt]),
            ),
      );
    });
}
