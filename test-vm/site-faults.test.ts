// The site settings that cannot work stop the server at start with the reason, before any machine is
// told anything: a wrong interface name, a full-DHCP range outside the interface's network, the DHCP port
// already taken by another server on the host, the TFTP port taken. Real `bootwright server` processes
// in a namespace of the test's own (no VM: seconds, not minutes).
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./paths.js";
import { SiteNetwork, stopChild } from "./site-network.js";

let dir: string;
let site: SiteNetwork;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "bootwright-site-faults-"));
  site = new SiteNetwork({ name: "sf", prefix: "10.77.9", workDir: join(dir, "site") }).create();
});

afterAll(async () => {
  await site.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `bootwright server` in the namespace until it exits (or fails the test after 60 s). */
function serverRun(name: string, flags: string[]): Promise<{ code: number | null; stderr: string }> {
  const dataDir = join(dir, name);
  mkdirSync(dataDir, { recursive: true });
  const child = spawn(
    "ip",
    [
      "netns",
      "exec",
      site.namespace,
      process.execPath,
      "--import",
      "tsx",
      join(REPO_ROOT, "server/cli/main.ts"),
      "server",
      "--host",
      site.serverAddress,
      "--port",
      "8080",
      "--data-dir",
      dataDir,
      "--log-level",
      "warn",
      ...flags,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stopChild(child).then(() => {
        reject(new Error(`bootwright server did not stop by itself: ${stderr}`));
      });
    }, 60_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe("site settings that cannot work stop the server at start, saying why", () => {
  it("a wrong interface name", async () => {
    const run = await serverRun("wrong-interface", ["--dhcp", "proxy", "--interface", "eth9"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/no network interface named eth9 \(there are: .*br0/);
  });

  it("--dhcp without an interface, and a range outside the interface's network", async () => {
    expect((await serverRun("no-interface", ["--dhcp", "proxy"])).stderr).toMatch(
      /--dhcp proxy needs --interface/,
    );
    const outside = await serverRun("range", [
      "--dhcp",
      "full",
      "--interface",
      "br0",
      "--range",
      "10.0.0.1-10.0.0.9",
    ]);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/DHCP range end 10\.0\.0\.1 is outside 10\.77\.9\.0\/24 \(br0\)/);
  });

  it("the DHCP port held by another DHCP server on this host: dnsmasq's own reason", async () => {
    // Another DHCP server bound to port 67 on every address of the namespace (no SO_REUSEADDR sharing).
    const other = site.spawnIn(
      site.namespace,
      "dnsmasq",
      [
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--port=0",
        `--dhcp-range=10.77.9.100,10.77.9.110,1h`,
        `--dhcp-leasefile=${join(dir, "other.leases")}`,
        `--pid-file=${join(dir, "other.pid")}`,
      ],
      join(dir, "other-dhcp.log"),
    );
    await new Promise((done) => setTimeout(done, 1_000));
    try {
      const run = await serverRun("port-taken", ["--dhcp", "proxy", "--interface", "br0"]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(
        /dnsmasq did not start: .*failed to bind DHCP server socket: Address already in use/,
      );
    } finally {
      await stopChild(other);
    }
  });
});
