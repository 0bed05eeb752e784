// `bootwright init` (initInstall) on a temp directory: the file it writes is what the server reads, a bad
// combination writes nothing, an existing file is kept unless --force, and the first admin token is made
// once, in the store the server will open. (As root over a directory the service's user owns, and in the
// Debian package: test-vm/package.test.ts.)
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hasCode } from "../protocol/index.js";
import { AuthService } from "./auth/service.js";
import { loadServerConfig } from "./config.js";
import { SqliteStore } from "./db/sqlite/store.js";
import { initInstall } from "./first-run.js";
import { createLogger } from "./logger.js";

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "bootwright-init-"));
  file = join(dir, "etc/config.json");
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const settings = (): Parameters<typeof initInstall>[0] => ({
  host: "127.0.0.1",
  port: 18080,
  advertiseUrl: "http://192.0.2.10:{port}",
  dataDir: join(dir, "state"),
});

describe("initInstall", () => {
  it("writes the settings the server then reads, prepares the store and makes the first admin token", async () => {
    const done = await initInstall(settings(), { configFile: file, env: {} });
    expect(done).toEqual({
      configFile: file,
      dataDir: join(dir, "state"),
      adminToken: expect.stringMatching(/^bwo_[0-9a-f]{32}\.[A-Za-z0-9_-]{43}$/) as unknown,
      adminTokenFile: join(dir, "state/admin-token"),
    });
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(readFileSync(done.adminTokenFile, "utf8")).toBe(`${done.adminToken ?? ""}\n`);
    const config = loadServerConfig({}, { env: {}, configFile: file });
    expect(config).toMatchObject({ host: "127.0.0.1", port: 18080, dataDir: join(dir, "state") });

    // The token is live in the store the server opens.
    const store = SqliteStore.open(join(dir, "state/bootwright.sqlite"));
    try {
      const auth = new AuthService(store, createLogger("silent"));
      expect(await auth.authenticate(done.adminToken ?? "", new Date())).toMatchObject({ role: "admin" });
    } finally {
      await store.close();
    }
  });

  it("keeps an existing file unless --force, and makes no second admin token", async () => {
    await initInstall(settings(), { configFile: file, env: {} });
    const before = readFileSync(file, "utf8");
    const refused = await initInstall({ ...settings(), port: 9 }, { configFile: file, env: {} }).catch(
      (err: unknown) => err,
    );
    expect(hasCode(refused, "init_refused")).toBe(true);
    expect(readFileSync(file, "utf8")).toBe(before);

    const again = await initInstall({ ...settings(), port: 9 }, { configFile: file, env: {}, force: true });
    expect(again.adminToken).toBeNull();
    expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ port: 9 });
  });

  it("writes nothing for settings the server would refuse", async () => {
    const err = await initInstall({ ...settings(), dhcp: "full" }, { configFile: file, env: {} }).catch(
      (e: unknown) => e,
    );
    expect(hasCode(err, "invalid_config")).toBe(true);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(join(dir, "state"))).toBe(false);
  });

  it("names where the file goes from BOOTWRIGHT_CONFIG, and says so when nothing names it", async () => {
    const named = await initInstall(settings(), { env: { BOOTWRIGHT_CONFIG: file } });
    expect(named.configFile).toBe(file);
    const err = await initInstall(settings(), { env: {} }).catch((e: unknown) => e);
    expect(hasCode(err, "init_refused")).toBe(true);
  });
});
