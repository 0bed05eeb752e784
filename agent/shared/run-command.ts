// The one way the agent runs a program: argv, never a shell string; a timeout; failure throws
// CommandError with the exit code and the tail of stderr (style.md §5).
import { spawn } from "node:child_process";
import { BootwrightError } from "../../protocol/failure.js";

export interface RunOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Variables added to the inherited environment (LD_LIBRARY_PATH for a maintenance image's tools). */
  env?: Readonly<Record<string, string>>;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export class CommandError extends BootwrightError<"command_failed"> {
  /** The program's whole stdout, when it ran: some (smartctl, e2fsck) report through it and a non-zero status. */
  readonly stdout: string | undefined;
  constructor(
    command: string,
    argv: readonly string[],
    exitCode: number | null,
    stderrTail: string,
    options?: ErrorOptions & { stdout?: string },
  ) {
    super(
      "command_failed",
      `${command} ${argv.join(" ")} failed (${exitCode === null ? "killed" : `exit ${exitCode}`})${stderrTail ? `: ${stderrTail}` : ""}`,
      { command, argv, exitCode, stderrTail },
      options,
    );
    this.stdout = options?.stdout;
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

const TAIL_CHARS = 500;

export function run(command: string, argv: readonly string[], options: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, {
      stdio: ["ignore", "pipe", "pipe"],
      timeout: options.timeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.env ? { env: { ...process.env, ...options.env } } : {}),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", (err) => {
      reject(new CommandError(command, argv, null, err.message, { cause: err }));
    });
    child.on("close", (exitCode) => {
      if (exitCode === 0) resolve({ stdout, stderr });
      else reject(new CommandError(command, argv, exitCode, stderr.trim().slice(-TAIL_CHARS), { stdout }));
    });
  });
}
