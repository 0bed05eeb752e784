// Shared by the server's tests: a real server on port 0 over a temp SQLite file, and a sample inventory.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { compress } from "zstd-napi";
import { NextAction, type CommandResult, type LeasedCommand, type Machine } from "../protocol/index.js";
import { loadServerConfig, type ServerConfig, type ServerConfigInput } from "./config.js";
import type { Logger } from "pino";
import { createLogger } from "./logger.js";
import { startServer, type RunningServer } from "./server.js";

export function makeTempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, "vmlinuz"), "kernel-bytes");
  writeFileSync(join(dir, "initramfs.img"), Buffer.alloc(100_000, 7));
  return {
    dir,
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The admin token every test server of this process is started with (BOOTWRIGHT_ADMIN_TOKEN's way):
 * random per process, a token like any other.
 */
export const TEST_ADMIN_TOKEN = `bwo_${randomBytes(16).toString("hex")}.${randomBytes(32).toString("base64url")}`;

/** What a test sends as an operator: the admin token. */
export const OPERATOR = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } as const;

/** A test API server's configuration: `dir` holds its data, loopback on a free port, advertised as QEMU's host. */
export function apiServerConfig(dir: string, overrides: Partial<ServerConfigInput> = {}): ServerConfig {
  return loadServerConfig(
    {
      host: "127.0.0.1",
      port: 0,
      advertiseUrl: "http://10.0.2.2:{port}",
      dataDir: dir,
      kernelPath: join(dir, "vmlinuz"),
      initramfsPath: join(dir, "initramfs.img"),
      bodyLimitBytes: 64 * 1024,
      adminToken: TEST_ADMIN_TOKEN,
      ...overrides,
    },
    { env: {} },
  );
}

export function startApiServer(
  dir: string,
  overrides: Partial<ServerConfigInput> = {},
  logger: Logger = createLogger("silent"),
): Promise<RunningServer> {
  return startServer(apiServerConfig(dir, overrides), { logger });
}

export { SAMPLE_UUID, inventoryFor, sampleInventory, sampleMachine } from "./test-samples.js";

/** A JSON request, as an operator (the test admin token) unless `token` says otherwise (null: none). */
export async function jsonRequest(
  url: string,
  method: string,
  body?: unknown,
  token: string | null = TEST_ADMIN_TOKEN,
): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  const res = await fetch(url, {
    method,
    ...(body === undefined
      ? { headers }
      : { headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

/** A loopback port that was free a moment ago (for a server that must be started later on a known port). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, "127.0.0.1", done));
  const address = probe.address();
  await new Promise<void>((done) =>
    probe.close(() => {
      done();
    }),
  );
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return address.port;
}

/**
 * Starts `bootwright server` as a process of its own (for kill -9 and for load from another process)
 * on 127.0.0.1:port over `dataDir`, and resolves once it answers /healthz.
 */
export async function spawnServerProcess(
  dataDir: string,
  port: number,
  env: Record<string, string> = {},
  /** Flags for Node itself (e.g. --cpu-prof, which NODE_OPTIONS does not take). */
  nodeFlags: readonly string[] = [],
): Promise<ChildProcess> {
  // Node itself with tsx as a loader: one process, so SIGKILL kills the server (through the tsx CLI the
  // server is a grandchild that outlives its killed parent and keeps the port).
  const cli = resolve(import.meta.dirname, "cli/main.ts");
  const args = [
    "server",
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "--advertise-url",
    `http://127.0.0.1:${port}`,
  ];
  const child = spawn(
    process.execPath,
    [...nodeFlags, "--import", "tsx", cli, ...args, "--data-dir", dataDir, "--log-level", "warn"],
    {
      env: { ...process.env, BOOTWRIGHT_ADMIN_TOKEN: TEST_ADMIN_TOKEN, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return child;
    } catch {
      // not up yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`bootwright server did not start on port ${port}: ${stderr}`);
    }
    await new Promise((done) => setTimeout(done, 100));
  }
}

/**
 * The loader's part over the HTTP API: lease the machine's next command, which must be of `kind`; under
 * `token` (the machine's credential), else the test admin's, which may act for any machine.
 */
export async function leaseCommand(
  baseUrl: string,
  machineId: string,
  kind: string,
  token?: string,
): Promise<LeasedCommand> {
  const next = NextAction.parse(
    (await jsonRequest(`${baseUrl}/v1/machines/${machineId}/next`, "GET", undefined, token)).body,
  );
  if (next.action !== "run" || next.command.kind !== kind)
    throw new Error(`expected to lease ${kind} for ${machineId}, got ${JSON.stringify(next)}`);
  return next.command;
}

/** Posts a command's result; throws unless the server took it. */
export async function postResult(
  baseUrl: string,
  machineId: string,
  command: LeasedCommand,
  result: CommandResult,
  token?: string,
): Promise<void> {
  const res = await jsonRequest(
    `${baseUrl}/v1/machines/${machineId}/commands/${command.id}/result`,
    "POST",
    result,
    token,
  );
  if (res.status !== 200) throw new Error(`result of ${command.kind} refused: ${JSON.stringify(res.body)}`);
}

/**
 * Plays the loader and agent through an install over the API (expect installed → check-disks → run-agent →
 * write-image) and returns the leased boot-installed: the machine is rebooting into its install.
 * `onLeased` sees each command as it is leased (write-image carries the OS's credential); `token` is the
 * loader's credential (else the test admin acts for the machine).
 */
export async function installUntilReboot(
  baseUrl: string,
  machineId: string,
  onLeased: (kind: LeasedCommand["kind"], command: LeasedCommand) => Promise<void> = () => Promise.resolve(),
  token?: string,
  adminToken: string = TEST_ADMIN_TOKEN,
): Promise<LeasedCommand> {
  const expected = await jsonRequest(
    `${baseUrl}/v1/machines/${machineId}/expected`,
    "PUT",
    { category: "installed" },
    adminToken,
  );
  if (expected.status !== 200) throw new Error(`expect installed: HTTP ${expected.status}`);
  const check = await leaseCommand(baseUrl, machineId, "check-disks", token);
  await onLeased(check.kind, check);
  const disks = [{ name: "vda", sizeBytes: 2 ** 30, bytesRead: 2 ** 21, ms: 2 }];
  const checked: CommandResult = {
    leaseId: check.leaseId,
    outcome: "succeeded",
    output: { kind: "check-disks", disks },
  };
  await postResult(baseUrl, machineId, check, checked, token);
  for (const kind of ["run-agent", "write-image"] as const) {
    const command = await leaseCommand(baseUrl, machineId, kind, token);
    if (!/^[0-9a-f]{64}$/.test(command.agent?.sha256 ?? ""))
      throw new Error(`${kind} leased without an agent`);
    await onLeased(command.kind, command);
    const output = { kind, sha256: command.agent?.sha256 ?? "", steps: [] };
    await postResult(
      baseUrl,
      machineId,
      command,
      { leaseId: command.leaseId, outcome: "succeeded", output },
      token,
    );
  }
  return leaseCommand(baseUrl, machineId, "boot-installed", token);
}

/**
 * installUntilReboot with the image's bytes really streamed (the agent's GET of the blob, through the
 * server's fan-out: its progress events and byte counters), then, with `callHome`, the installed OS's
 * call home that completes the install. Returns the image's size in bytes.
 */
export async function installStreamingImage(
  baseUrl: string,
  machineId: string,
  sha256: string,
  options: { callHome: boolean },
): Promise<number> {
  let imageBytes = 0;
  await installUntilReboot(baseUrl, machineId, async (kind) => {
    if (kind !== "write-image") return;
    const blob = await fetch(`${baseUrl}/v1/images/${sha256}/blob?machine=${machineId}`, {
      headers: OPERATOR,
    });
    imageBytes = (await blob.arrayBuffer()).byteLength;
  });
  if (!options.callHome) return imageBytes;
  const machine = (await jsonRequest(`${baseUrl}/v1/machines/${machineId}`, "GET")).body as Machine;
  const call = await jsonRequest(`${baseUrl}/v1/machines/${machineId}/callhome`, "POST", {
    image: `sha256:${sha256}`,
    planHash: machine.plan?.planHash ?? "",
    os: "tiny 6.1",
  });
  if (call.status !== 200) throw new Error(`call home: HTTP ${call.status} ${JSON.stringify(call.body)}`);
  return imageBytes;
}

/** SIGKILL a server process started by spawnServerProcess, and wait until it is gone. */
export async function killProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) =>
    child.once("exit", () => {
      done();
    }),
  );
  child.kill("SIGKILL");
  await exited;
}

/**
 * A policy (by default: every machine gets "tiny") and a 1 MiB stand-in image named tiny, as an install
 * over the API needs them; returns the image's sha256.
 */
export async function serveTestImage(
  baseUrl: string,
  rules: unknown[] = [{ name: "all", match: [], plan: { image: "tiny" } }],
  adminToken: string = TEST_ADMIN_TOKEN,
): Promise<string> {
  const set = await jsonRequest(
    `${baseUrl}/v1/policy`,
    "PUT",
    { format: "json", source: JSON.stringify({ rules }) },
    adminToken,
  );
  if (set.status !== 200) throw new Error(`PUT /v1/policy: HTTP ${set.status} ${JSON.stringify(set.body)}`);
  const put = await fetch(`${baseUrl}/v1/images?name=tiny&format=raw.zst`, {
    method: "PUT",
    headers: { authorization: `Bearer ${adminToken}` },
    body: compress(Buffer.alloc(1 << 20, 7)),
  });
  if (!put.ok) throw new Error(`PUT /v1/images: HTTP ${put.status}`);
  return ((await put.json()) as { image: { sha256: string } }).image.sha256;
}

/**
 * What a maintenance swap over the API needs: the policy "every machine gets tiny", and two small
 * images: tiny (the OS, raw.zst) and diag (a diagnostic maintenance image, tar.zst).
 */
export async function serveMaintenanceImages(baseUrl: string): Promise<void> {
  const policy = { rules: [{ name: "all", match: [], plan: { image: "tiny" } }] };
  const set = await jsonRequest(`${baseUrl}/v1/policy`, "PUT", {
    format: "json",
    source: JSON.stringify(policy),
  });
  if (set.status !== 200) throw new Error(`PUT /v1/policy: HTTP ${set.status}`);
  for (const [name, purpose, format] of [
    ["tiny", "os", "raw.zst"],
    ["diag", "diagnostic", "tar.zst"],
  ] as const) {
    const put = await fetch(`${baseUrl}/v1/images?name=${name}&format=${format}&purpose=${purpose}`, {
      headers: OPERATOR,
      method: "PUT",
      body: compress(Buffer.from(`${name} image bytes`.repeat(1000))),
    });
    if (put.status !== 201) throw new Error(`PUT /v1/images (${name}): HTTP ${put.status}`);
  }
}

/**
 * The real CLI (bin/bootwright) against `serverUrl`, as an operator's shell runs it: the token from the
 * environment (never argv), its profile under `configHome`. A refusal is an answer here, not a throw.
 */
export async function runCli(
  serverUrl: string,
  configHome: string,
  args: readonly string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      resolve(import.meta.dirname, "../bin/bootwright"),
      [...args, "--server", serverUrl],
      { env: { ...process.env, BOOTWRIGHT_TOKEN: TEST_ADMIN_TOKEN, XDG_CONFIG_HOME: configHome } },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
  }
}

/** runCli's stdout; a non-zero exit throws with the CLI's stderr. */
export async function cliOutput(
  serverUrl: string,
  configHome: string,
  args: readonly string[],
): Promise<string> {
  const result = await runCli(serverUrl, configHome, args);
  if (result.code !== 0)
    throw new Error(`bootwright ${args.join(" ")}: exit ${result.code}: ${result.stderr}`);
  return result.stdout;
}

/**
 * A real agent process streaming an image from `baseUrl` (a server or a relay) into a file as machine
 * `machineId` (agent/installer/stream-cli.ts: the VMs' streamImage), under the test admin's token, from
 * the sources through tsx unless `program` names a bundle of it. Resolves when it succeeded.
 */
export function runStreamAgent(
  baseUrl: string,
  sha256: string,
  target: string,
  machineId?: string,
  program: readonly string[] = [
    "--import",
    "tsx",
    resolve(import.meta.dirname, "../agent/installer/stream-cli.ts"),
  ],
  /** More environment for the agent (BOOTWRIGHT_STREAM_CPUS). */
  env: Readonly<Record<string, string>> = {},
): Promise<void> {
  return new Promise((done, fail) => {
    const args = [...program, baseUrl, sha256, target, ...(machineId === undefined ? [] : [machineId])];
    const child = spawn(process.execPath, args, {
      // The token in the environment, never argv; zstd-napi from our node_modules, as in the initramfs.
      env: {
        ...process.env,
        BOOTWRIGHT_NODE_MODULES: resolve(import.meta.dirname, "../node_modules"),
        BOOTWRIGHT_TOKEN: TEST_ADMIN_TOKEN,
        ...env,
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("exit", (code) => {
      if (code === 0) done();
      else fail(new Error(`stream agent ${machineId ?? ""} exited ${String(code)}: ${stderr}`));
    });
  });
}
