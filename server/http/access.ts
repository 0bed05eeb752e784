// Who may call what. Every route declares its access in its config, and a route without one fails at
// registration, by name: a new route cannot be open by accident. Operators' routes need an API token
// (Authorization: Bearer bwo_…) of at least the route's role: none → 401 unauthenticated, too low → 403
// forbidden naming the role needed. Machines' routes need that machine's own credential (bwm_…, from its
// enrollment; the installed OS's from its marker): another machine's → 403 wrong_machine. An admin's
// token may act for any machine. Each change an operator makes is written to the audit log.
import type { FastifyReply, FastifyRequest } from "fastify";
import { ROLE_RANK, type Role } from "../../protocol/index.js";
import type { AuthService } from "../auth/service.js";
import { bearerToken, parseCredential } from "../auth/tokens.js";
import type { MachineCredentialRecord, TokenRecord } from "../db/rows.js";
import { ApiError } from "../errors.js";
import type { Services } from "../services.js";
import type { App } from "./app.js";

/**
 * public: what a machine's firmware fetches before it can hold any credential (boot scripts, the
 * loader's files), enrollment (which hands out the credential) and /healthz. machine: what the loader
 * and its agents call, with the loader's credential. os: what the installed OS calls (call home,
 * health), with its own. viewer, operator, admin: operators, by role.
 */
export type Access = "public" | "machine" | "os" | Role;

declare module "fastify" {
  interface FastifyContextConfig {
    access?: Access;
    /** A POST that changes nothing (a dry run): not written to the audit log of changes. */
    readOnly?: true;
  }
  interface FastifyRequest {
    /** The operator's token, on operators' routes. */
    operator: TokenRecord | null;
    /** The machine's credential, on machines' routes. */
    machine: MachineCredentialRecord | null;
    /** The machine an audited change is about, as it was before (category, expected). */
    auditBefore: Record<string, unknown> | null;
  }
}

/** Keys whose values never reach the audit log. */
const SECRET_KEY = /pass(word)?|secret|token|key/i;

/** A JSON body as the audit log keeps it: secrets replaced, big bodies summarized. */
export function auditBody(body: unknown): unknown {
  if (body === undefined || body === null) return null;
  if (typeof body !== "object") return body;
  const text = JSON.stringify(body, (key, value: unknown) =>
    key !== "" && SECRET_KEY.test(key) ? "(not recorded)" : value,
  );
  return text.length > 4_096
    ? { bytes: text.length, note: "body too large to keep" }
    : (JSON.parse(text) as unknown);
}

function routeTarget(request: FastifyRequest): string | null {
  const params = request.params as Record<string, unknown> | undefined;
  for (const key of ["id", "ref", "run", "schedule", "name"]) {
    const value = params?.[key];
    if (typeof value === "string") return value;
  }
  return null;
}

async function machineSummary(store: Services, id: string | null): Promise<Record<string, unknown> | null> {
  if (id === null) return null;
  const machine = await store.getMachine(id);
  return machine ? { category: machine.category, expected: machine.expected } : null;
}

/** The machine a machine's route is about: its :id, or ?machine= (the image blob). */
function routeMachine(request: FastifyRequest): string | undefined {
  const params = request.params as Record<string, unknown> | undefined;
  if (typeof params?.id === "string" && request.routeOptions.url?.startsWith("/v1/machines/"))
    return params.id;
  const query = request.query as Record<string, unknown> | undefined;
  return typeof query?.machine === "string" ? query.machine : undefined;
}

/** A machine's credential, checked: live, of the route's scope, and for the machine the route is about. */
async function machineCredential(
  deps: { auth: AuthService; store: Services },
  text: string,
  access: "machine" | "os",
  request: FastifyRequest,
): Promise<MachineCredentialRecord> {
  const credential = await deps.auth.authenticateMachine(text, new Date());
  if (!credential)
    throw new ApiError("unauthenticated", "the machine credential is unknown, malformed or revoked");
  const scope = access === "os" ? "os" : "loader";
  if (credential.scope !== scope)
    throw new ApiError(
      "forbidden",
      `this route needs the ${scope === "os" ? "installed OS's" : "loader's"} credential`,
      {
        needs: scope,
        has: credential.scope,
      },
    );
  const target = routeMachine(request);
  const params = request.params as Record<string, unknown> | undefined;
  if (
    target !== undefined &&
    params?.id === target &&
    target !== credential.machineId &&
    (await renamedFrom(deps.store, target, credential))
  )
    params.id = credential.machineId;
  else if (target !== undefined) assertMachine(credential, target);
  return credential;
}

/**
 * Whether `target` is the UUID the credential's machine was known by until a second machine showed the
 * same UUID (server/enrollment/identity.ts): the first machine moved to its MAC's id, but its installed
 * OS still names it by the UUID (the marker it was installed with), so on its own routes that name is its.
 */
async function renamedFrom(
  store: Services,
  target: string,
  credential: MachineCredentialRecord,
): Promise<boolean> {
  return (await store.sharedUuid(target))?.machines[0] === credential.machineId;
}

/** Refuses a machine's credential on another machine's resource (an upload, a route's body). */
export function assertMachine(credential: MachineCredentialRecord | null, machineId: string): void {
  if (credential && credential.machineId !== machineId)
    throw new ApiError(
      "wrong_machine",
      `this credential is machine ${credential.machineId}'s, not ${machineId}'s`,
      {
        credentialOf: credential.machineId,
        target: machineId,
      },
    );
}

/**
 * The connections of the local Unix socket (`--socket`): no network to cross, so they count as secure.
 * Marked by the socket's listener (server.ts), not guessed from a missing remote address, which a TCP
 * connection also shows once its client has gone.
 */
export const LOCAL_CONNECTIONS = new WeakSet<object>();

/** Whether a request came over TLS, or over the local Unix socket. */
function secureTransport(request: FastifyRequest): boolean {
  const socket = request.raw.socket as { encrypted?: boolean };
  return socket.encrypted === true || LOCAL_CONNECTIONS.has(request.raw.socket);
}

/**
 * What plain HTTP may still carry under TLS: what firmware fetches before anything can speak TLS (boot
 * scripts, kernel, initramfs, UKI: public GETs), and the installed OS's call home and health, for OS
 * images with no TLS client (busybox): that credential opens only those two routes of its own machine.
 */
function plainHttpAllowed(access: Access, method: string): boolean {
  return (access === "public" && (method === "GET" || method === "HEAD")) || access === "os";
}

export function addAccessControl(
  app: App,
  deps: { auth: AuthService; store: Services; tlsRequired: boolean },
): void {
  app.decorateRequest("operator", null);
  app.decorateRequest("machine", null);
  app.decorateRequest("auditBefore", null);

  app.addHook("onRoute", (route) => {
    if (!route.config?.access)
      throw new Error(`route ${String(route.method)} ${route.url} declares no access (config.access)`);
  });

  app.addHook("onRequest", async (request: FastifyRequest) => {
    const access = request.routeOptions.config.access;
    // Unknown routes have no access of their own: the not-found handler answers them.
    if (access === undefined) return;
    if (deps.tlsRequired && !secureTransport(request) && !plainHttpAllowed(access, request.method))
      throw new ApiError(
        "tls_required",
        `${request.method} ${request.url.split("?")[0] ?? ""} needs https://`,
      );
    if (access === "public") return;
    const text = bearerToken(request.headers.authorization);
    if (!text)
      throw new ApiError("unauthenticated", "this route needs a credential: Authorization: Bearer <token>");
    if ((access === "machine" || access === "os") && parseCredential(text)?.kind === "machine") {
      request.machine = await machineCredential(deps, text, access, request);
      return;
    }
    const token = await deps.auth.authenticate(text, new Date());
    if (!token) throw new ApiError("unauthenticated", "the API token is unknown, malformed or revoked");
    // An admin may act for any machine (a test, a repair by hand); no other operator may.
    const needs: Role = access === "machine" || access === "os" ? "admin" : access;
    if (ROLE_RANK[token.role] < ROLE_RANK[needs])
      throw new ApiError("forbidden", `this needs the ${needs} role; token ${token.name} is ${token.role}`, {
        needs,
        has: token.role,
      });
    request.operator = token;
  });

  // The state before a change, for the audit entry (machines only: small and always meaningful).
  app.addHook("preHandler", async (request: FastifyRequest) => {
    if (request.operator && request.method !== "GET" && request.method !== "HEAD")
      request.auditBefore = await machineSummary(deps.store, routeTarget(request));
  });

  app.addHook("onResponse", async (request: FastifyRequest, reply: FastifyReply) => {
    const token = request.operator;
    if (!token || request.method === "GET" || request.method === "HEAD" || reply.statusCode >= 400) return;
    if (request.routeOptions.config.readOnly) return;
    const target = routeTarget(request);
    const after = request.auditBefore ? await machineSummary(deps.store, target) : null;
    await deps.auth
      .audit({
        at: new Date().toISOString(),
        tokenId: token.id,
        tokenName: token.name,
        role: token.role,
        action: `${request.method} ${request.routeOptions.url ?? request.url}`,
        target,
        details: {
          body: auditBody(request.body),
          status: reply.statusCode,
          ...(request.auditBefore ? { before: request.auditBefore, after } : {}),
        },
        source: request.ip,
      })
      .catch((err: unknown) => {
        request.log.error({ err }, "audit entry not written");
      });
  });
}
