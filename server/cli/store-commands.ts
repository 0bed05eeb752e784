// `bootwright store copy`: moves a site's state between stores (server/db/copy.ts), e.g. from the
// embedded SQLite file to PostgreSQL before running several servers on one database.
import type { Command } from "commander";

export function addStoreCommands(program: Command): void {
  const store = program.command("store").description("the server's state store");
  store
    .command("copy")
    .description("copy every table from one store to an empty one, then compare row counts and checksums")
    .requiredOption("--from <store>", "sqlite:<file> or postgres://… (stop the server using it first)")
    .requiredOption("--to <store>", "sqlite:<file> or postgres://… (must be empty: a new database)")
    .option("--json", "print JSON")
    .action(async (opts: { from: string; to: string; json?: boolean }) => {
      // Loaded here, not at start: the stores' drivers would slow every other command (`--help` too).
      const { copyStore } = await import("../db/copy.js");
      const { describeStore, openStore } = await import("../db/open-store.js");
      const from = await openStore(opts.from);
      try {
        const to = await openStore(opts.to);
        try {
          const tables = await copyStore(from, to);
          if (opts.json)
            console.log(
              JSON.stringify({ from: describeStore(opts.from), to: describeStore(opts.to), tables }, null, 2),
            );
          else {
            console.log(
              `copied ${describeStore(opts.from)} → ${describeStore(opts.to)}; every table verified:`,
            );
            for (const t of tables)
              console.log(
                `  ${t.table.padEnd(22)} ${String(t.rows).padStart(8)} rows  sha256 ${t.sha256.slice(0, 16)}`,
              );
          }
        } finally {
          await to.close();
        }
      } finally {
        await from.close();
      }
    });
}
