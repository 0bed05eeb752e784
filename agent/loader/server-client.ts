// Talks to the server: posts the inventory and asks what to do next, retrying with capped backoff and
// saying on the console exactly what failed (connection refused, no route, timeout, HTTP status).
import {
  AgentEventAccepted,
  BootwrightError,
  codeOf,
  hasCode,
  CommandResultAccepted,
  DriversAnswer,
  ErrorBody,
  InventoryAccepted,
  MaintenanceProgressAnswer,
  NextAction,
  type AgentEvent,
  type MaintenanceProgress,
  type CommandResult,
  type DriversRequest,
  type Inventory,
} from "../../protocol/index.js";
import type * as z from "zod";
import type { MachineIdentity } from "../installer/plugin.js";
import { credentialHeaders } from "../shared/credential.js";
import { httpRequest } from "../shared/http-client.js";
import { backoffDelayMs, DEFAULT_BACKOFF, sleep } from "../shared/backoff.js";
import { say } from "./console.js";

const REQUEST_TIMEOUT_MS = 15_000;

/** The errno-style code behind a request's failure: on `cause`, or on the first of an AggregateError's errors. */
function errorCode(err: unknown): string | undefined {
  for (let current: unknown = err, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = codeOf(current);
    if (code !== undefined) return code;
    current = current instanceof AggregateError ? current.errors[0] : current.cause;
  }
  return undefined;
}

/** Why a request failed, in words an operator at the console understands. */
export function describeRequestFailure(err: unknown): string {
  if (hasCode(err, "http_status")) return err.message;
  if (hasCode(err, "loader_request_timeout") || (err instanceof Error && err.name === "TimeoutError"))
    return "timed out";
  const code = errorCode(err);
  switch (code) {
    case "ECONNREFUSED":
      return "connection refused (is the server running?)";
    case "EHOSTUNREACH":
      return "no route to host";
    case "ENETUNREACH":
      return "network unreachable";
    case "ETIMEDOUT":
    case "UND_ERR_CONNECT_TIMEOUT":
      return "connection timed out";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "server name not found (DNS)";
    case "ECONNRESET":
    case "UND_ERR_SOCKET":
      return "connection reset";
    default: {
      if (!(err instanceof Error)) return String(err);
      const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
      return `${err.message}${cause}${code ? ` (${code})` : ""}`;
    }
  }
}

export class HttpStatusError extends BootwrightError<"http_status"> {
  constructor(
    status: number,
    /** The server's error body, when it sent one. */
    readonly body: ErrorBody | undefined,
  ) {
    super("http_status", `HTTP ${status}${body ? ` ${body.code}: ${body.message}` : ""}`, {
      status,
      serverCode: body?.code ?? null,
      serverMessage: body?.message ?? null,
      ...(body?.details === undefined ? {} : { serverDetails: body.details }),
    });
  }

  get status(): number {
    return this.context.status;
  }
}

/** What a JSON request sends: its method, headers and body. */
interface JsonRequest {
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
}

async function requestJson<T>(url: string, init: JsonRequest, schema: z.ZodType<T>): Promise<T> {
  const response = await httpRequest(url, { ...init, timeoutMs: REQUEST_TIMEOUT_MS });
  const text = response.body.toString("utf8");
  if (!response.ok) {
    const body = ErrorBody.safeParse(safeJson(text));
    throw new HttpStatusError(response.status, body.success ? body.data : undefined);
  }
  const parsed = schema.safeParse(safeJson(text));
  if (!parsed.success) throw new Error(`unexpected answer from ${url}: ${parsed.error.message}`);
  return parsed.data;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Retries `attempt` until it succeeds, printing each failure and the wait before the next try.
 * `giveUp` names failures that retrying cannot fix: those are thrown at once.
 */
export async function withRetry<T>(
  what: string,
  attempt: () => Promise<T>,
  giveUp: (err: unknown) => boolean = () => false,
): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (err) {
      if (giveUp(err)) throw err;
      const wait = backoffDelayMs(tries, DEFAULT_BACKOFF);
      say("fail", `${what} failed`, {
        reason: describeRequestFailure(err),
        attempt: tries,
        retryInSeconds: (wait / 1000).toFixed(1),
      });
      await sleep(wait);
    }
  }
}

/** A 4xx answer: the server understood and refused; sending the same again will not help. */
export function isRefusal(err: unknown): boolean {
  return hasCode(err, "http_status") && err.context.status >= 400 && err.context.status < 500;
}

/** Which modules claim these PCI devices (public: asked before the machine enrolls). */
export function postDriversRequest(serverUrl: string, request: DriversRequest): Promise<DriversAnswer> {
  return requestJson(
    `${serverUrl}/v1/drivers`,
    { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request) },
    DriversAnswer,
  );
}

export function postInventory(serverUrl: string, inventory: Inventory): Promise<InventoryAccepted> {
  return requestJson(
    `${serverUrl}/v1/inventory`,
    { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(inventory) },
    InventoryAccepted,
  );
}

/** A JSON POST of `body` to one of the machine's own routes, under its credential. */
function machinePost(machine: MachineIdentity, path: string, body: unknown): JsonRequest {
  return {
    method: "POST",
    headers: { ...credentialHeaders(machine), "content-type": "application/json" },
    body: JSON.stringify(body),
  };
}

function machineUrl(machine: MachineIdentity, path: string): string {
  return `${machine.serverUrl}/v1/machines/${encodeURIComponent(machine.id)}/${path}`;
}

/**
 * Posts a command's result and asks (`?next=1`) for the machine's next command in the answer, so a
 * queue of commands costs one request each; `next` is absent from a server that predates it.
 */
export function postCommandResult(
  machine: MachineIdentity,
  commandId: string,
  result: CommandResult,
): Promise<CommandResultAccepted> {
  const path = `commands/${encodeURIComponent(commandId)}/result`;
  return requestJson(
    `${machineUrl(machine, path)}?next=1`,
    machinePost(machine, path, result),
    CommandResultAccepted,
  );
}

export function fetchNextAction(machine: MachineIdentity): Promise<NextAction> {
  return requestJson(
    machineUrl(machine, "next"),
    { method: "GET", headers: credentialHeaders(machine) },
    NextAction,
  );
}

/** Sends a step or progress event; the server logs it. One try: an event lost is not worth stalling a step. */
export async function postAgentEvent(machine: MachineIdentity, event: AgentEvent): Promise<void> {
  await requestJson(machineUrl(machine, "events"), machinePost(machine, "events", event), AgentEventAccepted);
}

/** An active maintenance run's report; the answer carries the extra steps the server has for it. */
export function postMaintenanceProgress(
  machine: MachineIdentity,
  progress: MaintenanceProgress,
): Promise<MaintenanceProgressAnswer> {
  return requestJson(
    machineUrl(machine, "maintenance/progress"),
    machinePost(machine, "maintenance/progress", progress),
    MaintenanceProgressAnswer,
  );
}
