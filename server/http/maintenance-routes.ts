// The maintenance swap's API (seeds 001, 004): start, follow, extend and restore runs; schedules;
// health reports from installed OSes; power drivers; the boot area an install recorded.
import {
  AddMaintenanceStep,
  BootAreaRecord,
  HealthReport,
  MaintenanceProgress,
  MaintenanceScheduleSpec,
  PowerSettings,
  StartMaintenance,
  type HealthHistory,
  type MaintenanceProgressAnswer,
  type MaintenanceRunList,
  type MaintenanceScheduleList,
  type PowerView,
} from "../../protocol/index.js";
import type { Store } from "../db/store.js";
import type { RunOutcome } from "../db/sqlite-maintenance.js";
import { ApiError } from "../errors.js";
import { BootAreaFiles } from "../maintenance/boot-areas.js";
import { CronError, nextCronTime, parseCron } from "../maintenance/cron.js";
import type { MaintenanceService } from "../maintenance/service.js";
import { readBody, readRawBody } from "./body.js";
import { sendJson, type RequestContext, type Router } from "./router.js";

export interface MaintenanceRouteDeps {
  store: Store;
  service: MaintenanceService;
  bootAreas: BootAreaFiles;
  bodyLimitBytes: number;
}

/** A boot area is a few MiB at most (head ≤ 1 MiB, tail the backup GPT). */
const BOOT_AREA_LIMIT_BYTES = 4 * 2 ** 20;

function sendRun(ctx: RequestContext, outcome: RunOutcome, status = 200): void {
  if (outcome.kind === "refused") throw new ApiError("maintenance_refused", outcome.reason);
  sendJson(ctx.res, status, outcome.run);
}

function powerView(settings: PowerSettings): PowerView {
  switch (settings.driver) {
    case "qmp":
      return { driver: "qmp", target: settings.socket };
    case "ipmi":
      return { driver: "ipmi", target: `${settings.username}@${settings.host}:${settings.port}` };
    case "none":
      return { driver: "none", target: null };
  }
}

function intParam(ctx: RequestContext, name: string): number {
  const raw = ctx.url.searchParams.get(name) ?? "";
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value))
    throw new ApiError("invalid_parameter", `query parameter ${name} must be a whole number (got "${raw}")`);
  return value;
}

export function addMaintenanceRoutes(router: Router, deps: MaintenanceRouteDeps): void {
  const { store, service } = deps;
  const knownMachine = async (raw: string | undefined): Promise<string> => {
    const id = raw ?? "";
    if (!(await store.getMachine(id))) throw new ApiError("not_found", `no machine ${id}`);
    return id;
  };

  router.on("POST", "/v1/machines/:id/maintenance", async (ctx) => {
    const id = await knownMachine(ctx.params.id);
    const body = await readBody(ctx.req, deps.bodyLimitBytes, StartMaintenance, "maintenance request");
    sendRun(ctx, await service.start(id, body, { kind: "operator" }), 201);
  });

  router.on("GET", "/v1/machines/:id/maintenance", async (ctx) => {
    const id = await knownMachine(ctx.params.id);
    const list: MaintenanceRunList = { runs: await store.maintenance.runs(id) };
    sendJson(ctx.res, 200, list);
  });

  router.on("POST", "/v1/machines/:id/maintenance/steps", async (ctx) => {
    const id = await knownMachine(ctx.params.id);
    const step = await readBody(ctx.req, deps.bodyLimitBytes, AddMaintenanceStep, "maintenance step");
    sendRun(ctx, await store.maintenance.addStep(id, step, new Date()));
  });

  router.on("POST", "/v1/machines/:id/maintenance/restore", async (ctx) => {
    const id = await knownMachine(ctx.params.id);
    sendRun(ctx, await service.restore(id));
  });

  // An active run's report, answering the server's poll; the answer carries the steps added since.
  router.on("POST", "/v1/machines/:id/maintenance/progress", async (ctx) => {
    const id = await knownMachine(ctx.params.id);
    const progress = await readBody(
      ctx.req,
      deps.bodyLimitBytes,
      MaintenanceProgress,
      "maintenance progress",
    );
    const outcome = await store.maintenance.progress(id, progress, new Date());
    if (outcome.kind === "refused")
      throw new ApiError("lease_refused", `progress refused: ${outcome.reason}`, { reason: outcome.reason });
    const answer: MaintenanceProgressAnswer = {
      extraSteps: outcome.extraSteps,
      reportEveryMs: service.reportEveryMs,
    };
    sendJson(ctx.res, 200, answer);
  });

  router.on("GET", "/v1/maintenance", async (ctx) => {
    const list: MaintenanceRunList = { runs: await store.maintenance.runs() };
    sendJson(ctx.res, 200, list);
  });

  router.on("GET", "/v1/maintenance/runs/:run", async (ctx) => {
    const run = await store.maintenance.run(ctx.params.run ?? "");
    if (!run) throw new ApiError("not_found", `no maintenance run ${ctx.params.run ?? ""}`);
    sendJson(ctx.res, 200, run);
  });

  router.on("POST", "/v1/maintenance/schedules", async (ctx) => {
    const spec = await readBody(
      ctx.req,
      deps.bodyLimitBytes,
      MaintenanceScheduleSpec,
      "maintenance schedule",
    );
    const now = new Date();
    let nextFireAt: string;
    try {
      nextFireAt =
        spec.cron === undefined
          ? new Date(spec.at ?? "").toISOString()
          : nextCronTime(parseCron(spec.cron), now).toISOString();
    } catch (err) {
      if (err instanceof CronError) throw new ApiError("schedule_invalid", err.message);
      throw err;
    }
    if ("machine" in spec.target) await knownMachine(spec.target.machine);
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
    ctx.log.info(
      { schedule: schedule.id, nextFireAt, target: schedule.target },
      "maintenance schedule added",
    );
    sendJson(ctx.res, 201, schedule);
  });

  router.on("GET", "/v1/maintenance/schedules", async (ctx) => {
    const list: MaintenanceScheduleList = { schedules: await store.schedules.list() };
    sendJson(ctx.res, 200, list);
  });

  router.on("DELETE", "/v1/maintenance/schedules/:schedule", async (ctx) => {
    const id = ctx.params.schedule ?? "";
    if (!(await store.schedules.remove(id))) throw new ApiError("not_found", `no maintenance schedule ${id}`);
    sendJson(ctx.res, 200, { removed: id });
  });

  router.on("POST", "/v1/machines/:id/health", async (ctx) => {
    const id = await knownMachine(ctx.params.id);
    const report = await readBody(ctx.req, deps.bodyLimitBytes, HealthReport, "health report");
    sendJson(ctx.res, 200, await service.health(id, report));
  });

  router.on("GET", "/v1/machines/:id/health", async (ctx) => {
    const id = await knownMachine(ctx.params.id);
    const history: HealthHistory = { reports: await store.health.history(id) };
    sendJson(ctx.res, 200, history);
  });

  router.on("PUT", "/v1/machines/:id/power", async (ctx) => {
    const id = await knownMachine(ctx.params.id);
    const settings = await readBody(ctx.req, deps.bodyLimitBytes, PowerSettings, "power settings");
    await store.settings.setPower(id, settings);
    ctx.log.info({ machine: id, driver: settings.driver }, "power driver set");
    sendJson(ctx.res, 200, powerView(settings));
  });

  router.on("GET", "/v1/machines/:id/power", async (ctx) => {
    const id = await knownMachine(ctx.params.id);
    sendJson(ctx.res, 200, powerView(await store.settings.power(id)));
  });

  router.on("POST", "/v1/machines/:id/power/cycle", async (ctx) => {
    const id = await knownMachine(ctx.params.id);
    sendJson(ctx.res, 200, await service.powerCycle(id));
  });

  // The install's boot area (head ‖ tail of the disk), recorded by the agent right after writing it.
  router.on("PUT", "/v1/machines/:id/boot-area", async (ctx) => {
    const id = await knownMachine(ctx.params.id);
    const bytes = await readRawBody(ctx.req, BOOT_AREA_LIMIT_BYTES);
    const declared = String(ctx.req.headers["x-bootwright-sha256"] ?? "");
    const sha256 = BootAreaFiles.sha256(bytes);
    const headBytes = intParam(ctx, "headBytes");
    const tailBytes = intParam(ctx, "tailBytes");
    if (declared !== sha256 || headBytes + tailBytes !== bytes.length)
      throw new ApiError(
        "boot_area_invalid",
        `boot area refused: ${bytes.length} bytes with sha256 ${sha256}, declared ${declared || "none"} for ${headBytes} + ${tailBytes} bytes`,
      );
    const parsed = BootAreaRecord.safeParse({
      device: ctx.url.searchParams.get("device"),
      diskBytes: intParam(ctx, "diskBytes"),
      sectorBytes: intParam(ctx, "sectorBytes"),
      headBytes,
      tailBytes,
      sha256,
      image: ctx.url.searchParams.get("image"),
      planHash: ctx.url.searchParams.get("planHash"),
      recordedAt: new Date().toISOString(),
    });
    if (!parsed.success) throw new ApiError("invalid_parameter", `boot area: ${parsed.error.message}`);
    await deps.bootAreas.write(id, bytes);
    await store.settings.putBootArea(id, parsed.data);
    ctx.log.info(
      { machine: id, device: parsed.data.device, bytes: bytes.length, sha256 },
      "boot area recorded",
    );
    sendJson(ctx.res, 200, parsed.data);
  });

  router.on("GET", "/v1/machines/:id/boot-area", async (ctx) => {
    const id = await knownMachine(ctx.params.id);
    const record = await store.settings.bootArea(id);
    if (!record)
      throw new ApiError(
        "not_found",
        `machine ${id} has no recorded boot area (installed before it was recorded?)`,
      );
    sendJson(ctx.res, 200, record);
  });

  router.on("GET", "/v1/machines/:id/boot-area/bytes", async (ctx) => {
    const id = await knownMachine(ctx.params.id);
    if (!(await store.settings.bootArea(id)))
      throw new ApiError("not_found", `machine ${id} has no recorded boot area`);
    const bytes = await deps.bootAreas.read(id);
    ctx.res.writeHead(200, { "content-type": "application/octet-stream", "content-length": bytes.length });
    ctx.res.end(bytes);
  });
}
