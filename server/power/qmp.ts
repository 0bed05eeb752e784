// Power control of a QEMU VM through its QMP socket (-qmp unix:PATH,server=on,wait=off): a reset is
// QEMU's `system_reset`, what a BMC's "power reset" does to real hardware.
import { createConnection, type Socket } from "node:net";
import type { PowerDriver } from "./driver.js";
import { PowerError } from "./driver.js";

/** A QMP command: its name alone, or with its arguments. */
export type QmpCommand = string | { execute: string; arguments: Record<string, unknown> };

/**
 * One QMP exchange: the greeting, qmp_capabilities, then each command in turn, answers checked. Resolves
 * with each command's `return` value, in order.
 */
export async function qmpExecute(
  socketPath: string,
  commands: readonly QmpCommand[],
  signal: AbortSignal,
): Promise<unknown[]> {
  const socket: Socket = createConnection(socketPath);
  const lines: string[] = [];
  let waiting: ((line: string) => void) | undefined;
  let failure: Error | undefined;
  let buffered = "";
  const fail = (err: Error): void => {
    failure ??= err;
    waiting?.("");
  };
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      // Asynchronous events (RESET, SHUTDOWN…) may come between answers: they are not answers.
      if (line === "" || line.includes('"event"')) continue;
      if (waiting) {
        const resolve = waiting;
        waiting = undefined;
        resolve(line);
      } else lines.push(line);
    }
  });
  socket.on("error", (err) => {
    fail(new PowerError(`QMP socket ${socketPath}: ${err.message}`, { target: socketPath }, { cause: err }));
  });
  socket.on("close", () => {
    fail(new PowerError(`QMP socket ${socketPath} closed before answering`, { target: socketPath }));
  });
  const onAbort = (): void => {
    fail(new PowerError(`QMP socket ${socketPath}: no answer in time`, { target: socketPath }));
  };
  signal.addEventListener("abort", onAbort, { once: true });
  const next = (): Promise<string> =>
    new Promise((resolve, reject) => {
      if (failure) {
        reject(failure);
        return;
      }
      const line = lines.shift();
      if (line !== undefined) {
        resolve(line);
        return;
      }
      waiting = (answer) => {
        if (failure) reject(failure);
        else resolve(answer);
      };
    });
  try {
    const greeting = await next();
    if (!greeting.includes('"QMP"'))
      throw new PowerError(`QMP socket ${socketPath}: no QMP greeting`, { target: socketPath });
    const returns: unknown[] = [];
    for (const command of ["qmp_capabilities", ...commands]) {
      const message = typeof command === "string" ? { execute: command } : command;
      socket.write(`${JSON.stringify(message)}\n`);
      const answer = await next();
      const parsed: unknown = answer.includes('"return"') ? JSON.parse(answer) : undefined;
      if (typeof parsed !== "object" || parsed === null || !("return" in parsed))
        throw new PowerError(`QMP ${message.execute} on ${socketPath} failed: ${answer.slice(0, 300)}`, {
          target: socketPath,
          command: [message.execute],
        });
      returns.push(parsed.return);
    }
    return returns.slice(1);
  } finally {
    signal.removeEventListener("abort", onAbort);
    socket.destroy();
  }
}

export class QmpPowerDriver implements PowerDriver {
  readonly name = "qmp";
  constructor(private readonly socketPath: string) {}

  async cycle(signal: AbortSignal): Promise<void> {
    await qmpExecute(this.socketPath, ["system_reset"], signal);
  }

  async off(signal: AbortSignal): Promise<void> {
    // `quit` ends the VM at once: the power cut a factory line's PDU makes (no guest co-operation).
    await qmpExecute(this.socketPath, ["quit"], signal);
  }
}
