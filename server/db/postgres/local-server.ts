// A throwaway PostgreSQL server of Debian's `postgresql` package, for tests and benchmarks: initdb into a
// temp directory, started with no TCP port (a Unix socket in that directory only), stopped by its PID
// (postmaster.pid) even when the caller failed. As root it runs as the `postgres` user (initdb refuses
// root). Each database made by createDatabase() starts empty.
import { execFile, spawn } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import pg from "pg";
import { userIds } from "../../system-user.js";

const PG_LIB = "/usr/lib/postgresql";

export interface LocalPostgres {
  /** The socket directory: `host` for pg, and the `host=` of a connection URL. */
  socketDir: string;
  user: string;
  /** A postgres:// URL for a database (the default one when omitted). */
  url(database?: string): string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** The newest PostgreSQL server installed: /usr/lib/postgresql/<version>/bin. */
export function postgresBin(): string {
  const versions = existsSync(PG_LIB)
    ? readdirSync(PG_LIB)
        .filter((v) => existsSync(join(PG_LIB, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const version = versions[0];
  if (!version)
    throw new Error(
      `no PostgreSQL server under ${PG_LIB}: install Debian's postgresql (build-scripts/setup.sh)`,
    );
  return join(PG_LIB, version, "bin");
}

function runAs(
  ids: { uid: number; gid: number } | undefined,
  command: string,
  args: string[],
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { ...(ids ?? {}), timeout: 120_000 }, (err, stdout, stderr) => {
      if (err)
        reject(
          new Error(`${command} ${args.join(" ")} failed: ${stderr.trim() || err.message}`, { cause: err }),
        );
      else resolve({ stdout, stderr });
    });
  });
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startLocalPostgres(): Promise<LocalPostgres> {
  const bin = postgresBin();
  const ids = process.getuid?.() === 0 ? userIds("postgres", "Debian's postgresql package") : undefined;
  const root = mkdtempSync(join(tmpdir(), "bootwright-pg-"));
  if (ids) chownSync(root, ids.uid, ids.gid);
  const dataDir = join(root, "data");
  const user = "bootwright";
  const stopNow = async (): Promise<void> => {
    const pid = postmasterPid(dataDir);
    if (pid !== undefined && alive(pid)) {
      // SIGINT is PostgreSQL's fast shutdown: clients are disconnected, nothing waits for them.
      process.kill(pid, "SIGINT");
      for (let waited = 0; alive(pid) && waited < 10_000; waited += 100) await delay(100);
      if (alive(pid)) process.kill(pid, "SIGKILL");
    }
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await runAs(ids, join(bin, "initdb"), [
      "-D",
      dataDir,
      "-U",
      user,
      "-A",
      "trust",
      "-E",
      "UTF8",
      "--no-sync",
    ]);
    // No TCP at all; fsync off: a test database need not survive a power loss, and it is the slow part.
    const options = `-c listen_addresses='' -c unix_socket_directories=${root} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
    const child = spawn(
      join(bin, "pg_ctl"),
      ["-D", dataDir, "-o", options, "-l", join(root, "server.log"), "-w", "-t", "60", "start"],
      {
        ...(ids ?? {}),
        stdio: "ignore",
      },
    );
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    if (code !== 0) {
      const log = existsSync(join(root, "server.log")) ? readFileSync(join(root, "server.log"), "utf8") : "";
      throw new Error(`pg_ctl start exited ${String(code)}: ${log.slice(-2000)}`);
    }
  } catch (err) {
    await stopNow();
    throw err;
  }
  const url = (database = "postgres"): string =>
    `postgres://${user}@/${database}?host=${encodeURIComponent(root)}`;
  return {
    socketDir: root,
    user,
    url,
    async createDatabase(name: string): Promise<string> {
      const client = new pg.Client({ host: root, user, database: "postgres" });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name.replace(/"/g, "")}"`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    stop: stopNow,
  };
}
