// The Debian package as an operator meets it, in a Debian 12 chroot (test-vm/debian-chroot.ts): dpkg -i,
// `bootwright init`, the server started the way its systemd unit says (user, environment, capabilities:
// systemd is not PID 1 here), `bootwright machines`, a machine enrolled and planned (its tailored agent
// built by the packaged esbuild), an upgrade to the next version that keeps it, remove (state and
// configuration stay) and purge (both go); and lintian finds no error in the package.
// Needs the debian image (its debootstrap tree): on a fresh machine the suite builds it in the background
// and starts this file after the others (test-vm/timing/sequencer.ts).
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BootList } from "../protocol/index.js";
import { StepLog } from "../protocol/index.js";
import { buildDeb, type BuiltDeb } from "../build-scripts/package/build-deb.js";
import { runText } from "../build-scripts/os-image/run.js";
import {
  freePort,
  installUntilReboot,
  inventoryFor,
  jsonRequest,
  killProcess,
  serveTestImage,
} from "../server/test-support.js";
import { CHROOT_ENV, debianChroot, type Chroot } from "./debian-chroot.js";
import { parseServiceUnit, setprivArgv } from "./systemd-unit.js";

const UUID = "0e0c8a6a-6f5f-4c43-9d57-00000000d0eb";
const MAC = "52:54:00:de:b0:01";
const STOP_MS = 15_000;

/** The host's processes whose root directory is `root` (a chroot's). */
function processesRootedIn(root: string): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/root`) === root;
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

/** A Depends line's package names: version constraints dropped, the first of alternatives taken. */
function dependencyNames(depends: string): string[] {
  return depends
    .split(",")
    .map((dep) => (dep.split("|")[0] ?? "").replace(/\(.*\)/, "").trim())
    .filter(Boolean);
}

describe("the Debian package", () => {
  const work = mkdtempSync(join(tmpdir(), "bootwright-package-test-"));
  let chroot: Chroot | undefined;
  let server: ChildProcess | undefined;
  let serverOutput: string[] = [];
  let first: BuiltDeb;
  let next: BuiltDeb;
  let lintian: Promise<string>;
  let port = 0;
  let baseUrl = "";
  let adminToken = "";

  /** Starts the installed server as its unit says, and resolves once it logs that it listens. */
  async function startAsTheUnitWould(root: string): Promise<void> {
    const unit = parseServiceUnit(readFileSync(join(root, "lib/systemd/system/bootwright.service"), "utf8"));
    serverOutput = [];
    // What systemd gives a service with User=: its environment lines, PATH, and the user's own variables.
    const env = {
      ...CHROOT_ENV,
      HOME: "/var/lib/bootwright",
      USER: unit.user,
      LOGNAME: unit.user,
      ...unit.environment,
    };
    const child = spawn("chroot", [root, ...setprivArgv(unit)], { env, stdio: ["ignore", "pipe", "pipe"] });
    server = child;
    const listening = new Promise<void>((resolve, reject) => {
      child.once("exit", (code) => {
        reject(new Error(`the server exited (${code}) before listening:\n${serverOutput.join("\n")}`));
      });
      createInterface({ input: child.stdout }).on("line", (line) => {
        serverOutput.push(line);
        if (line.includes('"server listening"')) resolve();
      });
      createInterface({ input: child.stderr }).on("line", (line) => serverOutput.push(`stderr: ${line}`));
    });
    await listening;
  }

  async function stopServer(): Promise<void> {
    const child = server;
    server = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM"); // what systemctl stop sends
    const timer = setTimeout(() => void killProcess(child), STOP_MS);
    expect(await exited).toBe(0);
    clearTimeout(timer);
  }

  /** `bootwright machines --json` inside the chroot, with the admin token from the environment. */
  async function machinesInChroot(): Promise<BootList> {
    if (!chroot) throw new Error("no chroot");
    const out = await chroot.run(["bootwright", "machines", "--json", "--server", baseUrl], {
      BOOTWRIGHT_TOKEN: adminToken,
    });
    return BootList.parse(JSON.parse(out));
  }

  /** `bootwright log <machine> --json`, the machine's step log, inside the chroot. */
  async function machineLog(): Promise<StepLog> {
    if (!chroot) throw new Error("no chroot");
    const out = await chroot.run(["bootwright", "log", UUID, "--json", "--server", baseUrl], {
      BOOTWRIGHT_TOKEN: adminToken,
    });
    return StepLog.parse(JSON.parse(out));
  }

  beforeAll(async () => {
    // Two versions of the same tree; gzip rather than xz builds each in seconds (lintian reads either).
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "../package.json"), "utf8")) as {
      version: string;
    };
    first = await buildDeb({ version: pkg.version, outDir: work, compression: "gzip" });
    lintian = runText("lintian", ["--fail-on", "none", "--no-tag-display-limit", first.path]);
    // lintian meanwhile (it takes ~20 s); the second build shares the CPU with it.
    next = await buildDeb({ version: `${pkg.version}+next`, outDir: work, compression: "gzip" });
    const depends = await runText("dpkg-deb", ["--field", first.path, "Depends"]);
    chroot = await debianChroot(dependencyNames(depends));
    for (const deb of [first, next]) copyFileSync(deb.path, join(chroot.root, "tmp", `${deb.version}.deb`));
    port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
  }, 600_000); // the first run on a machine also installs the dependencies into the cached chroot layer

  afterAll(async () => {
    try {
      await killProcess(server);
    } finally {
      await chroot?.close();
      rmSync(work, { recursive: true, force: true });
    }
  });

  it("installs, makes its user and directories, and starts nothing", async () => {
    if (!chroot) throw new Error("no chroot");
    await chroot.run(["dpkg", "-i", `/tmp/${first.version}.deb`]);
    expect(await chroot.run(["dpkg-query", "-W", "-f", "${Status} ${Version}", "bootwright"])).toBe(
      `install ok installed ${first.version}`,
    );
    expect(await chroot.run(["getent", "passwd", "bootwright"])).toMatch(
      /^bootwright:x:\d+:\d+:.*:\/var\/lib\/bootwright:\/usr\/sbin\/nologin$/m,
    );
    expect(await chroot.run(["stat", "-c", "%U:%G %a", "/var/lib/bootwright", "/etc/bootwright"])).toBe(
      "bootwright:bootwright 750\nroot:bootwright 750\n",
    );
    expect(existsSync(join(chroot.root, "etc/bootwright/config.json"))).toBe(false);
    // Nothing runs in the chroot: the package unpacked, made a user and directories, and started nothing.
    expect(processesRootedIn(chroot.root)).toEqual([]);
    // systemd's own reading of the unit: its syntax, its settings, and that its ExecStart is there.
    expect(await chroot.run(["systemd-analyze", "verify", "/lib/systemd/system/bootwright.service"])).toBe(
      "",
    );
    // The network boot programs the TFTP server hands out are Debian's, where its packages put them. Read
    // inside the chroot: ipxe's own /usr/lib/ipxe/ipxe.efi is an absolute link (to /boot/ipxe.efi), which
    // the host would resolve against its own root.
    for (const name of ["undionly.kpxe", "ipxe.efi", "snponly.efi", "shimx64.efi", "grubx64.efi"]) {
      const size = await chroot.run([
        "stat",
        "-L",
        "-c",
        "%s",
        `/usr/lib/bootwright/build/boot-files/${name}`,
      ]);
      expect(Number(size.trim())).toBeGreaterThan(0);
    }
  });

  it("bootwright init writes the first configuration and prints the first admin token", async () => {
    if (!chroot) throw new Error("no chroot");
    const out = await chroot.run([
      "bootwright",
      "init",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--advertise-url",
      "http://127.0.0.1:{port}",
    ]);
    adminToken = /^\s+(bwo_\S+)$/m.exec(out)?.[1] ?? "";
    expect(adminToken).toMatch(/^bwo_[0-9a-f]{32}\./);
    expect(out).toContain("wrote /etc/bootwright/config.json; the state is in /var/lib/bootwright");
    expect(JSON.parse(readFileSync(join(chroot.root, "etc/bootwright/config.json"), "utf8"))).toEqual({
      host: "127.0.0.1",
      port,
      advertiseUrl: "http://127.0.0.1:{port}",
      dataDir: "/var/lib/bootwright",
    });
    // Made as the service's user, so the service can open them.
    expect(
      await chroot.run([
        "stat",
        "-c",
        "%U %a",
        "/etc/bootwright/config.json",
        "/var/lib/bootwright/bootwright.sqlite",
        "/var/lib/bootwright/admin-token",
      ]),
    ).toBe("root 640\nbootwright 644\nbootwright 600\n");
    await expect(chroot.run(["bootwright", "init"])).rejects.toThrow(
      /exists: edit it, or run init with --force/,
    );
  });

  it("runs as its unit says, logs JSON lines, answers bootwright machines, and builds agents", async () => {
    if (!chroot) throw new Error("no chroot");
    await startAsTheUnitWould(chroot.root);
    const pid = server?.pid ?? 0;
    // The unit's user and exactly the unit's capabilities, nothing more.
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    expect(status).toMatch(/^CapAmb:\s+0000000000003400$/m); // net_bind_service, net_admin, net_raw
    expect(status).toMatch(/^CapBnd:\s+0000000000003400$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    for (const line of serverOutput) expect(JSON.parse(line)).toMatchObject({ svc: "bootwright" });
    expect(serverOutput.join("\n")).not.toContain(adminToken.split(".")[1]);

    expect((await machinesInChroot()).machines).toEqual([]);
    await expect(
      chroot.run(["bootwright", "machines", "--server", baseUrl], { BOOTWRIGHT_TOKEN: "bwo_x.y" }),
    ).rejects.toThrow(/401|unauthenticated|token/i);

    // The boot scripts come from the packaged templates, the loader from the packaged kernel.
    const script = await fetch(`${baseUrl}/boot.ipxe`);
    expect(await script.text()).toMatch(/^#!ipxe\n/);
    const kernel = await fetch(`${baseUrl}/assets/vmlinuz`);
    expect(kernel.status).toBe(200);
    expect((await kernel.arrayBuffer()).byteLength).toBe(
      statSync(join(chroot.root, "usr/lib/bootwright/build/kernel/vmlinuz")).size,
    );

    // A machine enrolls, and a policy plans it: its tailored agent is built by the packaged esbuild.
    await serveTestImage(baseUrl, undefined, adminToken);
    const enrolled = await jsonRequest(
      `${baseUrl}/v1/inventory`,
      "POST",
      inventoryFor(MAC, { product: "Deb-1", serial: "SN-DEB", uuid: UUID }),
      null,
    );
    expect(enrolled.status).toBe(200);
    const credential = (enrolled.body as { credential: string }).credential;
    let agentBytes = 0;
    await installUntilReboot(
      baseUrl,
      UUID,
      async (kind, command) => {
        if (kind !== "run-agent" || !command.agent) return;
        const bundle = Buffer.from(
          await (
            await fetch(command.agent.url, { headers: { authorization: `Bearer ${credential}` } })
          ).arrayBuffer(),
        );
        expect(createHash("sha256").update(bundle).digest("hex")).toBe(command.agent.sha256);
        agentBytes = bundle.length;
      },
      credential,
      adminToken,
    );
    expect(agentBytes).toBeGreaterThan(1000);
    expect((await machinesInChroot()).machines).toEqual([
      expect.objectContaining({ id: UUID, bootMac: MAC }),
    ]);
  });

  it("upgrades to the next version and keeps the machine and its log", async () => {
    if (!chroot) throw new Error("no chroot");
    const before = await machineLog();
    expect(before.entries.length).toBeGreaterThan(3);
    const machinesBefore = (await machinesInChroot()).machines;
    await stopServer();
    await chroot.run(["dpkg", "-i", `/tmp/${next.version}.deb`]);
    expect(await chroot.run(["dpkg-query", "-W", "-f", "${Version}", "bootwright"])).toBe(next.version);
    await startAsTheUnitWould(chroot.root); // migrations run here, at start
    expect((await machinesInChroot()).machines).toEqual(machinesBefore);
    expect((await machineLog()).entries.slice(0, before.entries.length)).toEqual(before.entries);
  });

  it("remove keeps the configuration and the state; purge deletes both", async () => {
    if (!chroot) throw new Error("no chroot");
    await stopServer();
    await chroot.run(["dpkg", "-r", "bootwright"]);
    expect(existsSync(join(chroot.root, "usr/bin/bootwright"))).toBe(false);
    expect(existsSync(join(chroot.root, "usr/lib/bootwright"))).toBe(false);
    for (const kept of [
      "etc/bootwright/config.json",
      "var/lib/bootwright/bootwright.sqlite",
      "var/lib/bootwright/admin-token",
    ])
      expect(existsSync(join(chroot.root, kept))).toBe(true);
    // Installed again, it finds its machines where it left them.
    await chroot.run(["dpkg", "-i", `/tmp/${next.version}.deb`]);
    await startAsTheUnitWould(chroot.root);
    expect((await machinesInChroot()).machines.map((m) => m.id)).toEqual([UUID]);
    await stopServer();

    await chroot.run(["dpkg", "--purge", "bootwright"]);
    expect(existsSync(join(chroot.root, "etc/bootwright"))).toBe(false);
    expect(existsSync(join(chroot.root, "var/lib/bootwright"))).toBe(false);
    expect(
      await chroot.run(["dpkg-query", "-W", "-f", "${Status}", "bootwright"]).catch(() => "gone"),
    ).toMatch(/gone|not-installed/);
    // Debian's practice: the system user stays (files elsewhere may still carry its uid).
    expect(await chroot.run(["getent", "passwd", "bootwright"])).toMatch(/^bootwright:/);
  });

  it("passes lintian with no error", async () => {
    const report = await lintian;
    const errors = report.split("\n").filter((line) => line.startsWith("E: "));
    expect(errors).toEqual([]);
  });
});
