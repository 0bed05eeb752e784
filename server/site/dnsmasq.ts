// Runs Debian's dnsmasq as a supervised child: started once the server listens (the first start must
// come up, or the server refuses to start with dnsmasq's own reason), restarted with backoff when it dies
// (logged with its exit code or signal), stopped by PID on close. Its stderr lines go to the server's
// JSON log and, for the DHCP exchanges, to whoever listens (the boot log).
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import type { Logger } from "pino";
import { BootwrightError, type FailureContext } from "../../protocol/index.js";

export class DnsmasqError extends BootwrightError<"dnsmasq_failed"> {
  constructor(message: string, context: FailureContext<"dnsmasq_failed">, options?: ErrorOptions) {
    super("dnsmasq_failed", message, context, options);
  }
}

export interface DnsmasqOptions {
  configFile: string;
  pidFile: string;
  log: Logger;
  /** Each line dnsmasq logs, without its "dnsmasq-dhcp[pid]: " prefix. */
  onLine?: (line: string) => void;
  /** Default "dnsmasq" on PATH. */
  binary?: string;
  /** First restart delay; doubles up to maxRestartMs; back to the first after a minute up. */
  restartMs?: number;
  maxRestartMs?: number;
}

export interface DnsmasqStatus {
  pid: number | null;
  restarts: number;
  startedAt: string | null;
  lastExit: { at: string; code: number | null; signal: string | null; reason: string } | null;
}

/** "dnsmasq-dhcp[123]: 456 PXE(br0) …" → "456 PXE(br0) …"; "dnsmasq: started" → "started". */
export function stripPrefix(line: string): string {
  return line.replace(/^dnsmasq(?:-\w+)?(?:\[\d+\])?:\s*/, "");
}

/** How long dnsmasq must stay up before a start counts as good (it exits at once on a bad config or port). */
const SETTLE_MS = 1_000;
const STABLE_MS = 60_000;

export class ManagedDnsmasq {
  private child: ChildProcess | undefined;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private delayMs: number;
  private readonly status: DnsmasqStatus = { pid: null, restarts: 0, startedAt: null, lastExit: null };
  private recent: string[] = [];

  private constructor(private readonly options: DnsmasqOptions) {
    this.delayMs = options.restartMs ?? 1_000;
  }

  /** Starts dnsmasq and waits until it has stayed up; its reason when it exits at once (bad config, port taken). */
  static async start(options: DnsmasqOptions): Promise<ManagedDnsmasq> {
    const managed = new ManagedDnsmasq(options);
    await managed.spawnOnce(true);
    return managed;
  }

  current(): DnsmasqStatus {
    return { ...this.status };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) =>
      child.once("exit", () => {
        resolve();
      }),
    );
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(killer);
  }

  private spawnOnce(first: boolean): Promise<void> {
    const { configFile, pidFile, log } = this.options;
    const child = spawn(
      this.options.binary ?? "dnsmasq",
      ["--keep-in-foreground", `--conf-file=${configFile}`, `--pid-file=${pidFile}`],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    this.child = child;
    this.recent = [];
    const startedAt = Date.now();
    createInterface({ input: child.stderr }).on("line", (raw) => {
      const line = stripPrefix(raw);
      this.recent = [...this.recent.slice(-9), line];
      log.info({ dnsmasq: line }, "dnsmasq");
      this.options.onLine?.(line);
    });
    return new Promise<void>((resolve, reject) => {
      const settled = setTimeout(() => {
        this.status.pid = child.pid ?? null;
        this.status.startedAt = new Date().toISOString();
        log.info({ pid: child.pid, configFile }, "dnsmasq running");
        resolve();
      }, SETTLE_MS);
      child.once("error", (err) => {
        clearTimeout(settled);
        reject(
          new DnsmasqError(`cannot run dnsmasq: ${err.message} (install dnsmasq-base)`, {}, { cause: err }),
        );
      });
      child.once("exit", (code, signal) => {
        const reason = this.recent.filter((l) => /fail|error|illegal|bad|cannot|unknown/i.test(l)).join("; ");
        const exit = {
          at: new Date().toISOString(),
          code,
          signal,
          reason: reason || this.recent.at(-1) || "no output",
        };
        this.status.lastExit = exit;
        this.status.pid = null;
        clearTimeout(settled);
        if (first && Date.now() - startedAt < SETTLE_MS + 50) {
          reject(new DnsmasqError(`dnsmasq did not start: ${exit.reason}`, { exitCode: code, signal }));
          return;
        }
        if (this.stopping) return;
        // It ran a while before dying: start again from the shortest delay.
        if (Date.now() - startedAt > STABLE_MS) this.delayMs = this.options.restartMs ?? 1_000;
        log.error({ exitCode: code, signal, reason: exit.reason, restartInMs: this.delayMs }, "dnsmasq died");
        this.restartTimer = setTimeout(() => {
          this.status.restarts += 1;
          this.spawnOnce(false).catch((err: unknown) => {
            log.error({ err }, "dnsmasq restart failed");
          });
        }, this.delayMs);
        this.delayMs = Math.min(this.delayMs * 2, this.options.maxRestartMs ?? 30_000);
        resolve(); // a restart's own start: what becomes of it is logged, not awaited
      });
    });
  }
}
