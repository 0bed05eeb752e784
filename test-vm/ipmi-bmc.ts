// A real BMC for VM tests: OpenIPMI's ipmi_sim (apt: openipmi) serving IPMI-over-LAN on 127.0.0.1, with a
// chassis_control script that powers a QEMU VM the test started through its QMP socket (vm-notes.md,
// "Power control through a real IPMI BMC"). ipmi_sim is always stopped by its PID, even when a test fails.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { runText } from "../build-scripts/os-image/run.js";
import { ipmitoolArgs, type IpmiSettings } from "../server/power/ipmi.js";

/**
 * ipmi_sim runs `chassis_control` through popen and, single-threaded, waits for its stdout to close: a slow
 * script makes ipmitool resend, so this one is quick (Node starts in ~0.1 s; each QMP exchange gives up
 * after 1.5 s, the whole script after 3 s), idempotent (power and boot are levels; only a reset, a pulse,
 * repeats) and starts nothing: no child outlives it to hold ipmi_sim's pipe and sockets, and what it
 * inherited closes when it exits. Self-contained: it imports nothing of ours. Called as
 *   node chassis-control.mjs STATE_DIR QMP_SOCKET get power|boot…  /  set power 1|0 | reset 1 | boot pxe|…
 * "Off" is the VM paused (QMP stop): QEMU stays up, so power on is system_reset + cont.
 * A file STATE_DIR/refuse-<parm> makes `set <parm>` fail, as a BMC that refuses the request would.
 */
const CHASSIS_CONTROL_SCRIPT = String.raw`// chassis_control hook of ipmi_sim for a bootwright test VM (written by test-vm/ipmi-bmc.ts).
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";

const [stateDir, qmpSocket, op, ...words] = process.argv.slice(2);
const started = Date.now();
const log = (result) =>
  appendFileSync(join(stateDir, "calls.log"), op + " " + words.join(" ") + " -> " + result + " (" + (Date.now() - started) + " ms)\n");
const fail = (message) => {
  log("error: " + message);
  process.stdout.write(message + "\n"); // ipmi_sim logs the script's stdout on failure
  process.exit(1);
};
setTimeout(() => fail("timed out"), 3000).unref();

/** qmp_capabilities, then each command; their answers, or undefined when QEMU does not answer. */
function qmp(commands) {
  return new Promise((resolve, reject) => {
    const socket = createConnection(qmpSocket);
    const pending = ["qmp_capabilities", ...commands];
    const answers = [];
    let buffered = "";
    const finish = (settle) => {
      clearTimeout(timer);
      socket.destroy();
      settle();
    };
    const timer = setTimeout(() => finish(() => resolve(undefined)), 1500);
    socket.on("error", () => finish(() => resolve(undefined)));
    socket.on("close", () => finish(() => resolve(undefined)));
    socket.setEncoding("utf8").on("data", (chunk) => {
      buffered += chunk;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const message = JSON.parse(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        if ("event" in message) continue; // RESET, STOP… arrive between answers
        if ("error" in message) return finish(() => reject(new Error("QMP: " + JSON.stringify(message.error))));
        if ("return" in message) answers.push(message.return);
        const next = pending.shift();
        if (next === undefined) return finish(() => resolve(answers.slice(1)));
        socket.write(JSON.stringify({ execute: next }) + "\n");
      }
    });
  });
}

/** true when QEMU answers and its vCPUs run, false when paused (off), undefined when QEMU is gone. */
async function running() {
  const answers = await qmp(["query-status"]);
  return answers && answers[0].running === true;
}

async function set(parm, value) {
  if (existsSync(join(stateDir, "refuse-" + parm))) fail("refused: set " + parm + " " + value);
  if (parm === "boot") return writeFileSync(join(stateDir, "boot"), value);
  if (parm === "identify" || (parm !== "power" && value === "0")) return;
  const state = await running();
  if (state === undefined) {
    if (parm === "power" && value === "0") return; // QEMU gone: already off
    fail("no VM answers on " + qmpSocket + " (this chassis does not start QEMU)");
  }
  if (parm === "power" && value === "0") return qmp(["stop"]);
  if (parm === "shutdown") return qmp(["system_powerdown"]);
  // reset 1, or power 1: a paused ("off") VM starts over from its firmware; a running one is reset.
  return qmp(state ? ["system_reset"] : ["system_reset", "cont"]);
}

try {
  if (op === "get") {
    const lines = [];
    for (const parm of words) {
      if (parm === "power") lines.push("power:" + ((await running()) ? 1 : 0));
      else if (parm === "boot")
        lines.push("boot:" + (existsSync(join(stateDir, "boot")) ? readFileSync(join(stateDir, "boot"), "utf8") : "default"));
      else fail("cannot get " + parm);
    }
    process.stdout.write(lines.join("\n") + "\n");
    log(lines.join(" "));
  } else if (op === "set") {
    for (let i = 0; i + 1 < words.length; i += 2) await set(words[i], words[i + 1]);
    log("ok");
  } else fail("unsupported: " + op);
  process.exit(0);
} catch (err) {
  fail(String(err));
}
`;

export interface IpmiBmcOptions {
  /** A directory of the test's own: lan.conf, the .emu file, the script and ipmi_sim's state go there. */
  workDir: string;
  /** The VM's QMP socket (the test passes `qemuArgs`, which include it, to Vm.start). */
  qmpSocket: string;
  username?: string;
  /** Default: random. */
  password?: string;
}

export interface IpmiBmc {
  /** IPMI-over-LAN UDP port on 127.0.0.1. */
  readonly port: number;
  readonly username: string;
  readonly password: string;
  /** What a machine's power settings would say to reach this BMC. */
  readonly settings: IpmiSettings;
  /** QEMU arguments: the BMC's KCS interface on the VM's side of ipmi_sim, and the QMP socket. */
  readonly qemuArgs: string[];
  /** The boot device the chassis remembers from `set boot` (ipmitool chassis bootdev): pxe, default… */
  bootDevice(): string;
  /** Each call of the chassis_control script: "set reset 1 -> ok (80 ms)". */
  calls(): string[];
  /** Whether QEMU's ipmi-bmc-extern is connected to ipmi_sim's system interface (channel 15). */
  vmConnected(): boolean;
  /** Makes the chassis refuse `set <parm>` (or accept it again). */
  refuse(parm: "boot" | "power" | "reset", refused: boolean): void;
  /** Runs ipmitool against this BMC (with the right password); resolves with stdout. */
  ipmitool(command: readonly string[]): Promise<string>;
  /** Stops ipmi_sim by its PID: SIGTERM, then SIGKILL if it lingers. Safe to call twice. */
  stop(): Promise<void>;
}

/** lan.conf and popen's sh both split on spaces and quotes: keep every path and secret plain. */
const PLAIN = /^[\w./+-]+$/;
const START_TIMEOUT_MS = 10_000;

export async function startIpmiBmc(options: IpmiBmcOptions): Promise<IpmiBmc> {
  const username = options.username ?? "admin";
  // IPMI 2.0 passwords are at most 20 bytes.
  const password = options.password ?? randomBytes(8).toString("hex");
  const stateDir = join(options.workDir, "bmc");
  mkdirSync(stateDir, { recursive: true });
  const script = join(stateDir, "chassis-control.mjs");
  writeFileSync(script, CHASSIS_CONTROL_SCRIPT);
  for (const value of [process.execPath, script, stateDir, options.qmpSocket, username, password])
    if (!PLAIN.test(value)) throw new Error(`ipmi-bmc: ${JSON.stringify(value)} must match ${PLAIN}`);
  if (password.length > 20) throw new Error("ipmi-bmc: an IPMI 2.0 password is at most 20 bytes");
  writeFileSync(
    join(stateDir, "bmc.emu"),
    // One MC, the BMC, at IPMB address 0x20; the rest is its Get Device ID answer (hex: device 0, no SDRs,
    // revision 0x23, firmware 9.08, support bits, manufacturer, product), as OpenIPMI's ipmisim1.emu has it.
    "mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02\nmc_enable 0x20\n",
  );

  // Free ports are only free until someone binds them: retry ipmi_sim on new ones if it could not bind.
  let failure = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort("udp");
    const serialPort = await freePort("tcp");
    writeFileSync(
      join(stateDir, "lan.conf"),
      lanConf(options, { username, password, port, serialPort, script, stateDir }),
    );
    const child = spawn(
      "ipmi_sim",
      ["-c", join(stateDir, "lan.conf"), "-f", join(stateDir, "bmc.emu"), "-s", stateDir, "-n"],
      // A plain environment: the test runner's NODE_OPTIONS must not reach the script's node.
      {
        cwd: stateDir,
        stdio: ["ignore", "ignore", "pipe"],
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      },
    );
    // Set from callbacks, read through a function (TypeScript would narrow a plain `let` to its first value).
    const state = { ended: false, stderr: "" };
    const ended = (): boolean => state.ended;
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      state.stderr += chunk;
    });
    child.once("exit", () => {
      state.ended = true;
    });
    child.once("error", (err) => {
      state.ended = true;
      state.stderr += err.message;
    });
    const deadline = performance.now() + START_TIMEOUT_MS;
    while (
      !ended() &&
      !(bound("udp", port) && bound("tcp", serialPort, LISTEN)) &&
      performance.now() < deadline
    )
      await delay(50);
    if (!ended() && performance.now() < deadline)
      return handle(child, options, { username, password, port, serialPort, stateDir });
    await stopChild(child);
    failure = `ipmi_sim on 127.0.0.1:${port} (serial ${serialPort}) ${ended() ? "exited" : "never bound"}: ${state.stderr.trim()}`;
  }
  throw new Error(failure);
}

interface Started {
  username: string;
  password: string;
  port: number;
  serialPort: number;
  stateDir: string;
}

function lanConf(options: IpmiBmcOptions, s: Started & { script: string }): string {
  return [
    `name "bootwright-test"`,
    "set_working_mc 0x20",
    // Channel 1: IPMI-over-LAN, loopback only.
    "  startlan 1",
    `    addr 127.0.0.1 ${s.port}`,
    "    priv_limit admin",
    "    allowed_auths_admin md5",
    // Without a GUID, RMCP+ (ipmitool -I lanplus) cannot open a session (measured).
    "    guid a123456789abcdefa123456789abcdef",
    "  endlan",
    `  chassis_control "${process.execPath} ${s.script} ${s.stateDir} ${options.qmpSocket}"`,
    // Channel 15, the system interface: QEMU's ipmi-bmc-extern connects here with the "VM" codec.
    `  serial 15 127.0.0.1 ${s.serialPort} codec VM`,
    // user number, enabled, name, password, max privilege, max sessions, IPMI 1.5 auths.
    `  user 2 true "${s.username}" "${s.password}" admin 10 md5`,
    "",
  ].join("\n");
}

function handle(child: ChildProcess, options: IpmiBmcOptions, s: Started): IpmiBmc {
  // The last resort when a test dies before its cleanup: never leave ipmi_sim behind.
  const killOnExit = (): void => {
    child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);
  const settings: IpmiSettings = {
    driver: "ipmi",
    host: "127.0.0.1",
    port: s.port,
    username: s.username,
    password: s.password,
  };
  const file = (name: string): string => join(s.stateDir, name);
  return {
    port: s.port,
    username: s.username,
    password: s.password,
    settings,
    qemuArgs: [
      "-chardev",
      `socket,id=ipmi0,host=127.0.0.1,port=${s.serialPort},reconnect=10`,
      "-device",
      "ipmi-bmc-extern,id=bmc0,chardev=ipmi0",
      "-device",
      "isa-ipmi-kcs,bmc=bmc0",
      "-qmp",
      `unix:${options.qmpSocket},server=on,wait=off`,
    ],
    bootDevice: () => (existsSync(file("boot")) ? readFileSync(file("boot"), "utf8") : "default"),
    vmConnected: () => bound("tcp", s.serialPort, ESTABLISHED),
    calls: () =>
      existsSync(file("calls.log"))
        ? readFileSync(file("calls.log"), "utf8").split("\n").filter(Boolean)
        : [],
    refuse: (parm, refused) => {
      if (refused) writeFileSync(file(`refuse-${parm}`), "");
      else rmSync(file(`refuse-${parm}`), { force: true });
    },
    ipmitool: (command) =>
      runText("ipmitool", ipmitoolArgs(settings, command), {
        timeoutMs: 30_000,
        env: { ...process.env, IPMI_PASSWORD: s.password },
      }),
    stop: async () => {
      process.removeListener("exit", killOnExit);
      await stopChild(child);
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((done) => {
    child.once("exit", () => {
      done();
    });
  });
  child.kill("SIGTERM");
  const killer = setTimeout(() => child.kill("SIGKILL"), 2_000);
  await exited;
  clearTimeout(killer);
}

/** A port the kernel just handed out on 127.0.0.1 (UDP for IPMI-over-LAN, TCP for the VM's serial link). */
function freePort(kind: "udp" | "tcp"): Promise<number> {
  return new Promise((resolve, reject) => {
    if (kind === "udp") {
      const socket = createSocket("udp4");
      socket.once("error", reject);
      socket.bind(0, "127.0.0.1", () => {
        const { port } = socket.address();
        socket.close(() => {
          resolve(port);
        });
      });
    } else {
      const server = createServer();
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        const port = typeof address === "object" && address !== null ? address.port : 0;
        server.close(() => {
          resolve(port);
        });
      });
    }
  });
}

/** /proc/net/tcp socket states (include/net/tcp_states.h). */
const ESTABLISHED = "01";
const LISTEN = "0A";

/**
 * Whether 127.0.0.1:port is bound (UDP), or has a TCP socket in `state`, from /proc/net: nothing is sent
 * to ipmi_sim (a connection to its serial port would take the VM's place).
 */
function bound(kind: "udp" | "tcp", port: number, state?: string): boolean {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  return readFileSync(`/proc/net/${kind}`, "utf8")
    .split("\n")
    .some((line) => {
      const fields = line.trim().split(/\s+/);
      return fields[1] === local && (state === undefined || fields[3] === state);
    });
}
