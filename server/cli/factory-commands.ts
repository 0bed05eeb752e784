// CLI for the factory line (issue 22): `bootwright factory --interface <if> --range <first>-<last>
// --station <file>` runs the server as the line's only DHCP server with the station stored, and
// `bootwright factory report [--since …] [--failed]` lists the travelers.
import type { Command } from "commander";
import { TravelerList, type Traveler } from "../../protocol/index.js";
import { clientServerUrl } from "../config.js";
import { parseDuration } from "../maintenance/duration.js";
import { getJson, print, SERVER_HELP, type ClientOptions } from "./api-client.js";

/** One line per unit: serial, verdict, the stage it is at (or failed at) and why. */
export function formatTravelers(travelers: readonly Traveler[]): string {
  if (travelers.length === 0) return "no travelers";
  const rows = travelers.map((t) => {
    const failed = t.state === "failed" ? t.stages.findLast((s) => s.result === "failed") : undefined;
    const readBack = t.image?.readBackMatches === true ? "read-back ok" : t.image ? "read-back DIFFERS" : "";
    return [t.serial, t.state.toUpperCase(), t.stage, t.updatedAt, failed?.reason ?? readBack];
  });
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => (r[i] ?? "").length), 6));
  return rows
    .map((r) => r.map((cell, i) => (i < 4 ? cell.padEnd(widths[i] ?? 0) : cell)).join("  "))
    .join("\n");
}

/** `--since 2026-12-03T08:00Z` or a duration back from now (`8h`). */
function sinceTime(since: string, now: Date): string {
  const at = Date.parse(since);
  if (!Number.isNaN(at) && /\d{4}-\d{2}-\d{2}/.test(since)) return new Date(at).toISOString();
  return new Date(now.getTime() - parseDuration(since)).toISOString();
}

/**
 * `configure`: the server's flags and action (main.ts), put on the `factory` command, which adds the
 * station; `report` is its subcommand.
 */
export function addFactoryCommands(program: Command, configure: (command: Command) => Command): void {
  const factory = program
    .command("factory")
    .description(
      "run the server as a factory line's station: full DHCP on --interface/--range, every unit through --station's stages",
    )
    // Not commander's requiredOption: it would be required of `factory report` too.
    .option("--station <file>", "station file (.yaml/.json): inventory checks, burn-in, image (required)");
  configure(factory);
  factory
    .command("report")
    .description("list the units' travelers: serial, PASSED/FAILED/IN-PROGRESS, stage, reason")
    .option("--since <time>", "changed since an ISO time, or a duration back from now (8h)")
    .option("--failed", "failed units only")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (opts: ClientOptions & { since?: string; failed?: boolean }) => {
      const query = new URLSearchParams();
      if (opts.since !== undefined) query.set("since", sinceTime(opts.since, new Date()));
      if (opts.failed) query.set("failed", "true");
      const url = `${clientServerUrl(opts.server)}/v1/factory/travelers?${query.toString()}`;
      const list = TravelerList.parse(await getJson(url));
      print(opts, list, () => formatTravelers(list.travelers));
    });
}
