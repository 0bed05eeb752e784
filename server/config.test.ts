// loadServerConfig: flags > environment > JSON file > defaults, validated once, failing at start-up.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hasCode } from "../protocol/index.js";
import { clientServerUrl, loadServerConfig } from "./config.js";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "bootwright-config-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function configFile(content: unknown, name = "bootwright.json"): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

/** Catches the error `fn` throws (failing the test if it does not). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected a throw");
}

describe("loadServerConfig", () => {
  it("uses the defaults when nothing is given (advertise URL set, so no interface guessing)", () => {
    const config = loadServerConfig({ advertiseUrl: "http://10.0.2.2:8080" }, { env: {} });
    expect(config).toMatchObject({
      host: "0.0.0.0",
      port: 8080,
      advertiseUrl: "http://10.0.2.2:8080",
      bodyLimitBytes: 1 << 20,
      logLevel: "info",
      kernelArgs: "console=tty0 console=ttyS0,115200n8 quiet panic=30",
    });
    expect(config.dataDir).toMatch(/[/\\]var$/);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("takes flags over environment over file over defaults, key by key", async () => {
    const file = await configFile({
      port: 7000,
      logLevel: "debug",
      dataDir: "/srv/file",
      kernelArgs: "console=ttyS1",
      advertiseUrl: "http://file.example:{port}",
    });
    const env = { BOOTWRIGHT_PORT: "7001", BOOTWRIGHT_LOG_LEVEL: "warn", BOOTWRIGHT_DATA_DIR: "/srv/env" };
    const config = loadServerConfig({ port: "7002" }, { env, configFile: file });
    expect(config).toMatchObject({
      port: 7002, // flag
      logLevel: "warn", // env over file
      dataDir: "/srv/env", // env over file
      kernelArgs: "console=ttyS1", // file over default
      host: "0.0.0.0", // default
      advertiseUrl: "http://file.example:{port}", // file
    });
  });

  it("ignores undefined flags and empty environment variables", async () => {
    const file = await configFile({ port: 7000, advertiseUrl: "http://a.example" });
    const config = loadServerConfig(
      { port: undefined, host: undefined },
      { env: { BOOTWRIGHT_PORT: "" }, configFile: file },
    );
    expect(config.port).toBe(7000);
    expect(config.host).toBe("0.0.0.0");
  });

  it("finds the config file through BOOTWRIGHT_CONFIG", async () => {
    const file = await configFile({ port: 9000, advertiseUrl: "http://a.example" });
    expect(loadServerConfig({}, { env: { BOOTWRIGHT_CONFIG: file } }).port).toBe(9000);
  });

  it("keeps {port} in the advertise URL for substitution once bound, and drops trailing slashes", () => {
    const config = loadServerConfig(
      { port: 0, advertiseUrl: "http://10.0.2.2:{port}/" },
      { env: { BOOTWRIGHT_PORT: "8081" } },
    );
    expect(config.port).toBe(0);
    expect(config.advertiseUrl).toBe("http://10.0.2.2:{port}");
  });

  it("builds the advertise URL from an explicit host, with {port}", () => {
    expect(loadServerConfig({ host: "192.0.2.10" }, { env: {} }).advertiseUrl).toBe(
      "http://192.0.2.10:{port}",
    );
  });

  it("brackets an IPv6 host in the advertise URL it builds", () => {
    expect(loadServerConfig({ host: "::1" }, { env: {} }).advertiseUrl).toBe("http://[::1]:{port}");
    expect(loadServerConfig({ host: "fd00::10" }, { env: {} }).advertiseUrl).toBe("http://[fd00::10]:{port}");
  });

  it.each([
    ["a flag", { port: "eighty" }, {}],
    ["a flag out of range", { port: 65536 }, {}],
    ["a negative flag", { port: -1 }, {}],
    ["the environment", {}, { BOOTWRIGHT_PORT: "80.5" }],
  ])("rejects an invalid port from %s with a ConfigError", (_from, flags, env) => {
    const err = thrown(() => loadServerConfig({ advertiseUrl: "http://a.example", ...flags }, { env }));
    if (!hasCode(err, "invalid_config")) throw err;
    expect(err.name).toBe("ConfigError");
    expect(err.message).toContain("port");
  });

  it("rejects an unknown key in the config file, naming the file and the key", async () => {
    const file = await configFile({ port: 8080, listenPort: 9090 });
    const err = thrown(() => loadServerConfig({}, { env: {}, configFile: file }));
    if (!hasCode(err, "invalid_config")) throw err;
    expect(err.context.file).toBe(file);
    expect(err.message).toContain(file);
    expect(err.message).toContain("listenPort");
  });

  it("rejects a config file that is not JSON, or missing, naming it", async () => {
    const bad = await configFile("{ port: 8080 ");
    for (const path of [bad, join(dir, "missing.json")]) {
      const err = thrown(() => loadServerConfig({}, { env: {}, configFile: path }));
      if (!hasCode(err, "invalid_config")) throw err;
      expect(err.context.file).toBe(path);
      expect(err.message).toContain(path);
    }
  });

  it("rejects an advertise URL that is not a URL", () => {
    expect(() => loadServerConfig({ advertiseUrl: "not a url" }, { env: {} })).toThrow(
      expect.objectContaining({ code: "invalid_config" }),
    );
  });
});

describe("clientServerUrl", () => {
  it("takes the flag, then BOOTWRIGHT_SERVER, then localhost:8080, without trailing slashes", () => {
    expect(clientServerUrl("http://a.example:1/", { BOOTWRIGHT_SERVER: "http://b.example" })).toBe(
      "http://a.example:1",
    );
    expect(clientServerUrl(undefined, { BOOTWRIGHT_SERVER: "http://b.example/" })).toBe("http://b.example");
    expect(clientServerUrl(undefined, {})).toBe("http://127.0.0.1:8080");
  });
});
