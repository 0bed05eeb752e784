// The loader's side of the command queue: what next (a leased command, with its tailored agent or
// maintenance assignment, or wait), a command's result under its lease, step events, and the installed
// OS calling home.
import * as z from "zod";
import {
  AgentEvent,
  CallHome,
  CommandResult,
  CommandResultQuery,
  type AgentEventAccepted,
  type CallHomeAccepted,
  type CommandResultAccepted,
  type LeasedCommand,
  type NextAction,
} from "../../protocol/index.js";
import { agentPlanFor } from "../../protocol/agent-plan-for.js";
import { ApiError, ServerError } from "../errors.js";
import { installSource } from "../install-source.js";
import { rebootWay } from "../policy/reboot-way.js";
import type { FastifyRequest } from "fastify";
import type { App, RouteDeps } from "./app.js";
import { knownMachine, MachineParams } from "./machine-routes.js";
import { machineFacingUrls } from "./relay-origin.js";

/**
 * run-agent and write-image get the machine's tailored bundle: built (or found in the cache) for its
 * plan, with the plan's image resolved in the store. write-image without a stored image cannot run.
 */
async function withAgent(deps: RouteDeps, command: LeasedCommand, id: string): Promise<LeasedCommand> {
  const machine = await deps.store.getMachine(id);
  if (!machine?.plan || !machine.inventory)
    throw new ServerError(`machine ${id} has a ${command.kind} command but no plan`);
  const source = await installSource(deps.store, machine, deps.advertiseUrl);
  const plan = agentPlanFor(
    machine.plan,
    machine.inventory,
    source.kind === "image" ? source.image : undefined,
  );
  if (source.kind === "image" && source.capture) plan.capture = source.capture;
  if (command.kind === "write-image" && source.kind === "missing") {
    const error = `image ${source.image} is not in the image store (add it with: bootwright image add <file> --name ${source.image})`;
    await deps.store.completeCommand(
      id,
      command.id,
      { leaseId: command.leaseId, outcome: "failed", error },
      new Date(),
    );
    throw new ApiError("not_found", error);
  }
  const built = await deps.agents.build(machine.inventory, plan);
  return {
    ...command,
    agent: {
      url: `${deps.advertiseUrl}/v1/agents/${built.sha256}.mjs`,
      sha256: built.sha256,
      plugins: built.plugins,
    },
  };
}

/**
 * boot-installed carries "kexec" when the machine's plan asks for it and nothing needs a firmware boot;
 * a plan that asked for kexec gets a step log line saying which way it goes, and why not kexec.
 */
async function withRebootWay(deps: RouteDeps, id: string, command: LeasedCommand): Promise<LeasedCommand> {
  const machine = await deps.store.getMachine(id);
  const plan = machine?.plan?.plan;
  // The common case, a plan that keeps the default: no more to read, and no line in the step log.
  if (plan?.reboot !== "kexec") return command;
  const returning = (await deps.store.maintenance.runs(id)).find(
    (run) => run.state === "returning" || run.state === "restoring",
  );
  const way = rebootWay({
    plan,
    bootPath: machine?.bootPath ?? null,
    ...(returning ? { returningFrom: returning.image.purpose } : {}),
  });
  await deps.store.appendLog(id, "reboot-way", { command: command.id, ...way }, new Date());
  return way.via === "kexec" ? { ...command, reboot: "kexec" } : command;
}

/** What the loader's erase reports as it goes (agent/loader/erase.ts): bytes written of the disk's size. */
const EraseFigures = z.object({ writtenBytes: z.number().nonnegative(), totalBytes: z.number().positive() });

function eraseProgress(event: AgentEvent): z.infer<typeof EraseFigures> | undefined {
  if (event.event !== "progress" || event.plugin !== "erase") return undefined;
  const figures = EraseFigures.safeParse(event.data);
  return figures.success ? figures.data : undefined;
}

/** Nothing to run: wait; a failed factory unit's console also shows its stage and reason. */
async function waitWithNotice(deps: RouteDeps, id: string): Promise<NextAction> {
  const notice = await deps.factory.notice(id);
  return { action: "wait", pollAfterMs: deps.idlePollMs, ...(notice === undefined ? {} : { notice }) };
}

/**
 * A command just leased (by GET next, or with a result's answer) as the loader gets it: with its tailored
 * agent or maintenance assignment; logged as every lease is.
 */
async function withAssignment(
  request: FastifyRequest,
  deps: RouteDeps,
  id: string,
  leased: LeasedCommand,
): Promise<LeasedCommand> {
  const command =
    leased.kind === "run-agent" || leased.kind === "write-image"
      ? await withAgent({ ...deps, ...machineFacingUrls(request, deps) }, leased, id)
      : leased.kind === "run-maintenance"
        ? {
            ...leased,
            // A factory unit's burn-in, or a maintenance swap's run.
            maintenance:
              (await deps.factory.burnInAssignment(id, leased)) ??
              (await deps.maintenance.assignment(id, leased)),
          }
        : leased.kind === "boot-installed"
          ? await withRebootWay(deps, id, leased)
          : leased;
  request.log.info(
    {
      machine: id,
      command: command.id,
      kind: command.kind,
      agent: command.agent?.sha256,
      reboot: command.reboot,
    },
    "command leased",
  );
  return command;
}

/**
 * The command leased with a result's answer. The result is committed by now, so a lease whose
 * assignment cannot be made (no image, a failed build) answers null rather than an error the agent
 * would take for a refused result: the lease then runs out as one GET next failed to hand over would.
 */
async function assignedAfterResult(
  request: FastifyRequest,
  deps: RouteDeps,
  id: string,
  leased: LeasedCommand | null,
): Promise<LeasedCommand | null> {
  if (leased === null) return null;
  try {
    return await withAssignment(request, deps, id, leased);
  } catch (err) {
    request.log.error(
      { machine: id, command: leased.id, err },
      "command leased with a result not handed over",
    );
    return null;
  }
}

export function addQueueRoutes(app: App, deps: RouteDeps): void {
  const { store } = deps;

  // What the loader should do next: lease it the next command of its queue, or tell it to wait.
  app.get(
    "/v1/machines/:id/next",
    { config: { access: "machine" }, schema: { params: MachineParams } },
    async (request) => {
      const id = request.params.id;
      const outcome = await store.leaseNext(id, new Date(), deps.leases);
      if (outcome.kind === "unknown") throw new ApiError("not_found", `no machine ${id}`);
      const next: NextAction =
        outcome.kind === "leased"
          ? { action: "run", command: await withAssignment(request, deps, id, outcome.command) }
          : await waitWithNotice(deps, id);
      return next;
    },
  );

  app.post(
    "/v1/machines/:id/commands/:commandId/result",
    {
      schema: {
        params: z.object({ id: z.string(), commandId: z.string() }),
        querystring: CommandResultQuery,
        body: CommandResult,
      },
      config: { access: "machine", what: "command result" },
    },
    async (request) => {
      const id = request.params.id;
      const result = request.body;
      const leaseAfter = request.query.next === "1" ? deps.leases : undefined;
      const outcome = await store.completeCommand(
        id,
        request.params.commandId,
        result,
        new Date(),
        leaseAfter,
      );
      if (outcome.kind === "unknown") throw new ApiError("not_found", `no machine ${id}`);
      if (outcome.kind === "refused")
        throw new ApiError("lease_refused", `result refused: ${outcome.reason}`, { reason: outcome.reason });
      request.log.info(
        {
          machine: id,
          command: request.params.commandId,
          outcome: result.outcome,
          duplicate: outcome.kind === "duplicate",
        },
        "command result",
      );
      const answer: CommandResultAccepted = {
        duplicate: outcome.kind === "duplicate",
        category: outcome.category,
        ...(outcome.next === undefined
          ? {}
          : { next: await assignedAfterResult(request, deps, id, outcome.next) }),
      };
      return answer;
    },
  );

  app.post(
    "/v1/machines/:id/events",
    {
      schema: { params: MachineParams, body: AgentEvent },
      config: { access: "machine", what: "agent event" },
    },
    async (request) => {
      const id = await knownMachine(store, request.params.id);
      const outcome = await store.recordAgentEvent(id, request.body, new Date());
      if (outcome.kind === "refused")
        throw new ApiError("lease_refused", `event refused: ${outcome.reason}`, { reason: outcome.reason });
      const erased = eraseProgress(request.body);
      if (erased) deps.progress.report(id, "erase", erased.writtenBytes, erased.totalBytes);
      const answer: AgentEventAccepted = { category: outcome.category };
      return answer;
    },
  );

  // The installed OS says it booted (its marker names the machine and this URL).
  app.post(
    "/v1/machines/:id/callhome",
    { schema: { params: MachineParams, body: CallHome }, config: { access: "os", what: "call home" } },
    async (request) => {
      const id = await knownMachine(store, request.params.id);
      const answer: CallHomeAccepted = await store.recordCallHome(id, request.body, new Date());
      request.log.info({ machine: id, ...request.body, ...answer }, "installed OS called home");
      // A factory unit that passed its station is powered off (after the answer's transaction committed).
      if (answer.completedInstall) await deps.factory.powerOffIfPassed(id);
      return answer;
    },
  );
}
