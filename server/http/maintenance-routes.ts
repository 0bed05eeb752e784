// The maintenance swap's API (seeds 001, 004): start, follow, extend and restore runs, and the
// schedules that start them.
import * as z from "zod";
import {
  AddMaintenanceStep,
  MaintenanceProgress,
  MaintenanceScheduleSpec,
  StartMaintenance,
  type MaintenanceProgressAnswer,
  type MaintenanceRun,
  type MaintenanceRunList,
  type MaintenanceScheduleList,
  hasCode,
} from "../../protocol/index.js";
import { ApiError } from "../errors.js";
import { nextCronTime, parseCron } from "../maintenance/cron.js";
import type { RunOutcome } from "../maintenance/runs.js";
import type { App, RouteDeps } from "./app.js";
import { knownMachine, MachineParams } from "./machine-routes.js";

/** The run, or the refusal as a 409 saying why. */
function runOf(outcome: RunOutcome): MaintenanceRun {
  if (outcome.kind === "refused") throw new ApiError("maintenance_refused", outcome.reason);
  return outcome.run;
}

export function addMaintenanceRoutes(app: App, deps: RouteDeps): void {
  const { store, maintenance: service } = deps;
  const params = { params: MachineParams };

  app.post(
    "/v1/machines/:id/maintenance",
    {
      schema: { ...params, body: StartMaintenance },
      config: { access: "operator", what: "maintenance request" },
    },
    async (request, reply) => {
      const id = await knownMachine(store, request.params.id);
      return reply.code(201).send(runOf(await service.start(id, request.body, { kind: "operator" })));
    },
  );

  app.get(
    "/v1/machines/:id/maintenance",
    { config: { access: "viewer" }, schema: params },
    async (request) => {
      const id = await knownMachine(store, request.params.id);
      return { runs: await store.maintenance.runs(id) } satisfies MaintenanceRunList;
    },
  );

  app.post(
    "/v1/machines/:id/maintenance/steps",
    {
      schema: { ...params, body: AddMaintenanceStep },
      config: { access: "operator", what: "maintenance step" },
    },
    async (request) => {
      const id = await knownMachine(store, request.params.id);
      return runOf(await store.maintenance.addStep(id, request.body, new Date()));
    },
  );

  app.post(
    "/v1/machines/:id/maintenance/restore",
    { config: { access: "operator" }, schema: params },
    async (request) => runOf(await service.restore(await knownMachine(store, request.params.id))),
  );

  // An active run's report, answering the server's poll; the answer carries the steps added since.
  app.post(
    "/v1/machines/:id/maintenance/progress",
    {
      schema: { ...params, body: MaintenanceProgress },
      config: { access: "machine", what: "maintenance progress" },
    },
    async (request) => {
      const id = await knownMachine(store, request.params.id);
      const outcome = await store.maintenance.progress(id, request.body, new Date());
      if (outcome.kind === "refused")
        throw new ApiError("lease_refused", `progress refused: ${outcome.reason}`, {
          reason: outcome.reason,
        });
      const answer: MaintenanceProgressAnswer = {
        extraSteps: outcome.extraSteps,
        reportEveryMs: service.reportEveryMs,
      };
      return answer;
    },
  );

  app.get(
    "/v1/maintenance",
    { config: { access: "viewer" } },
    async () => ({ runs: await store.maintenance.runs() }) satisfies MaintenanceRunList,
  );

  app.get(
    "/v1/maintenance/runs/:run",
    { config: { access: "viewer" }, schema: { params: z.object({ run: z.string() }) } },
    async (request) => {
      const run = await store.maintenance.run(request.params.run);
      if (!run) throw new ApiError("not_found", `no maintenance run ${request.params.run}`);
      return run;
    },
  );

  app.post(
    "/v1/maintenance/schedules",
    {
      schema: { body: MaintenanceScheduleSpec },
      config: { access: "operator", what: "maintenance schedule" },
    },
    async (request, reply) => {
      const spec = request.body;
      const now = new Date();
      let nextFireAt: string;
      try {
        nextFireAt =
          spec.cron === undefined
            ? new Date(spec.at ?? "").toISOString()
            : nextCronTime(parseCron(spec.cron), now).toISOString();
      } catch (err) {
        if (hasCode(err, "cron_invalid")) throw new ApiError("schedule_invalid", err.message);
        throw err;
      }
      if ("machine" in spec.target) await knownMachine(store, spec.target.machine);
      const schedule = await store.schedules.add(
        {
          target: spec.target,
          cron: spec.cron ?? null,
          at: spec.at ?? null,
          image: spec.image,
          mode: spec.mode,
          timeoutMs: spec.timeoutMs ?? null,
          nextFireAt,
        },
        now,
      );
      request.log.info(
        { schedule: schedule.id, nextFireAt, target: schedule.target },
        "maintenance schedule added",
      );
      return reply.code(201).send(schedule);
    },
  );

  app.get(
    "/v1/maintenance/schedules",
    { config: { access: "viewer" } },
    async () => ({ schedules: await store.schedules.list() }) satisfies MaintenanceScheduleList,
  );

  app.delete(
    "/v1/maintenance/schedules/:schedule",
    { config: { access: "operator" }, schema: { params: z.object({ schedule: z.string() }) } },
    async (request) => {
      const id = request.params.schedule;
      if (!(await store.schedules.remove(id)))
        throw new ApiError("not_found", `no maintenance schedule ${id}`);
      return { removed: id };
    },
  );
}
