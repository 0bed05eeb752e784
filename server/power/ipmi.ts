// Power control of a machine through its BMC over IPMI-over-LAN, with ipmitool (apt: ipmitool): set the
// next boot to PXE, then reset the machine, or power it on when it is off (vm-notes.md, "Power control
// through a real IPMI BMC").
import { spawn } from "node:child_process";
import type { PowerSettings } from "../../protocol/index.js";
import type { PowerDriver } from "./driver.js";
import { PowerError } from "./driver.js";

export type IpmiSettings = Extract<PowerSettings, { driver: "ipmi" }>;

/** One ipmitool call must not outlast this, whatever the caller's signal allows. */
const COMMAND_TIMEOUT_MS = 30_000;
const TAIL_CHARS = 500;

/** A failed ipmitool call: its command words (never the password), exit code and stderr tail. */
export class IpmitoolError extends PowerError {
  constructor(
    readonly command: readonly string[],
    readonly exitCode: number | null,
    readonly stderrTail: string,
    readonly target: string,
    options?: ErrorOptions,
  ) {
    const status = exitCode === null ? "killed or not started" : `exit ${exitCode}`;
    super(
      `BMC ${target}: ipmitool ${command.join(" ")} failed (${status})${stderrTail ? `: ${stderrTail}` : ""}`,
      { target, command, exitCode, stderrTail },
      options,
    );
  }
}

/** ipmitool's argv for one command. The password is not in it: `-E` reads IPMI_PASSWORD (argv shows in `ps`). */
export function ipmitoolArgs(settings: IpmiSettings, command: readonly string[]): string[] {
  return [
    "-I",
    "lanplus",
    // Cipher suite 3 (HMAC-SHA1, AES-128): without -C ipmitool probes suites, ~10 s per call on ipmi_sim.
    "-C",
    "3",
    "-H",
    settings.host,
    "-p",
    String(settings.port),
    "-U",
    settings.username,
    "-E",
    ...command,
  ];
}

/**
 * What stdout says when each command worked. ipmitool exits 0 on some failures (a refused `bootdev`
 * prints "Set Chassis Boot Parameter 5 failed" to stderr and nothing to stdout), so the driver checks
 * for this line, not only the exit code. Other stderr lines may come with a success: they do not count.
 */
export const SUCCESS = {
  bootdevPxe: /^Set Boot Device to pxe$/m,
  powerStatus: /^Chassis Power is (on|off)$/m,
  powerReset: /^Chassis Power Control: Reset$/m,
  powerOn: /^Chassis Power Control: Up\/On$/m,
  powerOff: /^Chassis Power Control: Down\/Off$/m,
} as const;

/** "on" or "off" from `chassis power status` output; undefined when it says neither. */
export function parsePowerStatus(stdout: string): "on" | "off" | undefined {
  const state = SUCCESS.powerStatus.exec(stdout)?.[1];
  return state === "on" || state === "off" ? state : undefined;
}

export class IpmiPowerDriver implements PowerDriver {
  readonly name = "ipmi";
  constructor(private readonly settings: IpmiSettings) {}

  async cycle(signal: AbortSignal): Promise<void> {
    // Boot flags first: a reset that came before them would boot the machine's default device.
    await this.ipmitool(["chassis", "bootdev", "pxe"], SUCCESS.bootdevPxe, signal);
    const status = await this.ipmitool(["chassis", "power", "status"], SUCCESS.powerStatus, signal);
    // A reset does nothing to a machine that is off: power it on instead (the boot flags still apply).
    if (parsePowerStatus(status) === "on")
      await this.ipmitool(["chassis", "power", "reset"], SUCCESS.powerReset, signal);
    else await this.ipmitool(["chassis", "power", "on"], SUCCESS.powerOn, signal);
  }

  async off(signal: AbortSignal): Promise<void> {
    await this.ipmitool(["chassis", "power", "off"], SUCCESS.powerOff, signal);
  }

  /** Runs one ipmitool command; resolves with its stdout when `success` matches it, else throws. */
  private ipmitool(command: readonly string[], success: RegExp, signal: AbortSignal): Promise<string> {
    const target = `${this.settings.host}:${this.settings.port}`;
    const both = AbortSignal.any([signal, AbortSignal.timeout(COMMAND_TIMEOUT_MS)]);
    if (both.aborted) return Promise.reject(new IpmitoolError(command, null, "aborted before start", target));
    return new Promise((resolve, reject) => {
      const child = spawn("ipmitool", ipmitoolArgs(this.settings, command), {
        // stdin closed: without IPMI_PASSWORD ipmitool would prompt for a password and wait.
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, IPMI_PASSWORD: this.settings.password },
        signal: both,
        killSignal: "SIGKILL",
      });
      let stdout = "";
      let stderr = "";
      let spawnError: Error | undefined;
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
      // An abort or a missing binary comes here; "close" still follows, and settles.
      child.on("error", (err) => (spawnError ??= err));
      child.on("close", (exitCode) => {
        if (exitCode === 0 && success.test(stdout)) {
          resolve(stdout);
          return;
        }
        let tail = stderr.trim().slice(-TAIL_CHARS);
        if (both.aborted) tail = `${tail}\n(no answer in time: killed)`.trim();
        else if (spawnError) tail = `${tail}\n${spawnError.message}`.trim();
        // Exit 0 without the success line: say what stdout said instead, if stderr was silent.
        else if (!tail) tail = `unexpected output: ${stdout.trim().slice(-TAIL_CHARS) || "(none)"}`;
        // Not started (ENOENT) or killed: Node reports a negative errno or null, not an exit code.
        const code = spawnError ? null : exitCode;
        reject(new IpmitoolError(command, code, tail, target, spawnError ? { cause: spawnError } : {}));
      });
    });
  }
}
