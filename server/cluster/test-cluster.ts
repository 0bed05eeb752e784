// For tests: N real `bootwright server` processes on one real PostgreSQL (Debian's, in a temp directory)
// sharing one data directory (the image store, the key, the agents' cache), each on a free loopback port.
// stop() kills them (SIGKILL, by PID) and PostgreSQL, even after a failed test.
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import pg from "pg";
import { startLocalPostgres, type LocalPostgres } from "../db/postgres/local-server.js";
import { freePort, killProcess, makeTempDir, spawnServerProcess } from "../test-support.js";

export interface TestServer {
  url: string;
  child: ChildProcess;
}

export interface TestCluster {
  servers: TestServer[];
  /** The shared data directory (also a scratch place for the test's own files). */
  dir: string;
  /** PostgreSQL's socket directory, which its server's command line names (to find its processes). */
  postgresDir: string;
  /** One statement on the store, on a connection of its own. */
  sql<T>(text: string, params?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

export async function startTestCluster(count: number, env: Record<string, string>): Promise<TestCluster> {
  const work = makeTempDir("bootwright-cluster-");
  const servers: TestServer[] = [];
  let postgres: LocalPostgres | undefined;
  const stop = async (): Promise<void> => {
    for (const server of servers) await killProcess(server.child);
    await postgres?.stop();
    work.remove();
  };
  try {
    postgres = await startLocalPostgres();
    const storeUrl = await postgres.createDatabase("cluster");
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      // One after the other: the first makes the data directory's key, which the others then read.
      const child = await spawnServerProcess(work.dir, port, {
        BOOTWRIGHT_STORE: storeUrl,
        BOOTWRIGHT_KERNEL: join(work.dir, "vmlinuz"),
        BOOTWRIGHT_INITRAMFS: join(work.dir, "initramfs.img"),
        ...env,
      });
      servers.push({ url: `http://127.0.0.1:${port}`, child });
    }
    return {
      servers,
      dir: work.dir,
      postgresDir: postgres.socketDir,
      async sql<T>(text: string, params: unknown[] = []): Promise<T[]> {
        const client = new pg.Client({ connectionString: storeUrl });
        await client.connect();
        try {
          return (await client.query(text, params)).rows as T[];
        } finally {
          await client.end();
        }
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
