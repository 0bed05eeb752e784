// The one way the OS image builder runs a program: argv (never a shell string), a timeout, and on
// failure a CommandError naming the tool, its exit code and the tail of its stderr (style.md §5).
// Asynchronous, so a test that builds an image (minutes of debootstrap) keeps its event loop alive.
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { BootwrightError } from "../../protocol/failure.js";

export interface RunOptions {
  /** Default 10 minutes; debootstrap gets more. */
  timeoutMs?: number;
  cwd?: string;
  input?: string | Buffer;
  /** Write stdout to this file instead of capturing it (cpio archives are tens of MB). */
  stdoutFile?: string;
  env?: NodeJS.ProcessEnv;
}

export class CommandError extends BootwrightError<"command_failed"> {
  constructor(
    command: string,
    argv: readonly string[],
    exitCode: number | null,
    stderrTail: string,
    options?: ErrorOptions,
  ) {
    const status = exitCode === null ? "killed or not started" : `exit ${exitCode}`;
    super(
      "command_failed",
      `${command} ${argv.join(" ")} failed (${status})${stderrTail ? `:\n${stderrTail}` : ""}`,
      { command, argv, exitCode, stderrTail },
      options,
    );
  }

  get command(): string {
    return this.context.command;
  }
  get argv(): readonly string[] {
    return this.context.argv;
  }
  /** null when the program was killed (timeout, signal) or did not start. */
  get exitCode(): number | null {
    return this.context.exitCode;
  }
  get stderrTail(): string {
    return this.context.stderrTail;
  }
}

const DEFAULT_TIMEOUT_MS = 10 * 60_000;
const TAIL_CHARS = 2000;

/** Runs `command argv…`; resolves with its stdout (empty when sent to `stdoutFile`). */
export function run(command: string, argv: readonly string[], options: RunOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const stdoutFd = options.stdoutFile === undefined ? undefined : openSync(options.stdoutFile, "w");
    const child = spawn(command, argv, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? "ignore" : "pipe", stdoutFd ?? "pipe", "pipe"],
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      killSignal: "SIGKILL",
    });
    if (stdoutFd !== undefined) closeSync(stdoutFd);
    const stdout: Buffer[] = [];
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      // Keep only a tail: debootstrap and mke2fs can be chatty.
      stderr = (stderr + chunk).slice(-TAIL_CHARS * 4);
    });
    child.stdin?.end(options.input);
    child.on("error", (err) => {
      reject(new CommandError(command, argv, null, err.message, { cause: err }));
    });
    child.on("close", (exitCode, signal) => {
      if (exitCode === 0) resolve(Buffer.concat(stdout));
      else {
        const why = signal
          ? `${stderr}\n(killed by ${signal}${signal === "SIGKILL" ? ", timeout?" : ""})`
          : stderr;
        reject(new CommandError(command, argv, exitCode, why.trim().slice(-TAIL_CHARS)));
      }
    });
  });
}

/** Like `run`, for tools whose output is text. */
export async function runText(
  command: string,
  argv: readonly string[],
  options: RunOptions = {},
): Promise<string> {
  return (await run(command, argv, options)).toString("utf8");
}
