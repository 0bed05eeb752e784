// The installed OS's health reports (the answer says when to report next, and whether to reboot into
// a pending maintenance run), each machine's power driver (the password is never shown), and its plan's
// BIOS attributes applied through its BMC.
import * as z from "zod";
import { HealthReport, PowerSettings, type HealthHistory, type PowerView } from "../../protocol/index.js";
import { applyBios } from "../power/bios-apply.js";
import type { App, RouteDeps } from "./app.js";
import { knownMachine, MachineParams } from "./machine-routes.js";
import { checkRedfish } from "../power/redfish-check.js";

/** How long to wait for the firmware to apply the settings after the reset (default 2 minutes). */
const BiosApplyRequest = z
  .strictObject({
    waitMs: z
      .number()
      .int()
      .min(0)
      .max(30 * 60_000)
      .optional(),
  })
  .nullish();

function powerView(settings: PowerSettings): PowerView {
  switch (settings.driver) {
    case "qmp":
      return { driver: "qmp", target: settings.socket };
    case "ipmi":
      return { driver: "ipmi", target: `${settings.username}@${settings.host}:${settings.port}` };
    case "redfish": {
      const tls = settings.tls;
      return {
        driver: "redfish",
        target: `${settings.username}@${settings.url}${settings.system ?? ""}`,
        certificate: {
          pin: tls && "pin" in tls ? tls.pin : null,
          ca: tls !== undefined && "ca" in tls,
          firstUse: tls !== undefined && "pin" in tls && tls.firstUse,
        },
        boot: settings.boot,
      };
    }
    case "none":
      return { driver: "none", target: null };
  }
}

export function addHealthPowerRoutes(app: App, deps: RouteDeps): void {
  const { store, maintenance: service } = deps;
  const params = { params: MachineParams };

  app.post(
    "/v1/machines/:id/health",
    { schema: { ...params, body: HealthReport }, config: { access: "os", what: "health report" } },
    async (request) => service.health(await knownMachine(store, request.params.id), request.body),
  );

  app.get("/v1/machines/:id/health", { config: { access: "viewer" }, schema: params }, async (request) => {
    const id = await knownMachine(store, request.params.id);
    return { reports: await store.health.history(id) } satisfies HealthHistory;
  });

  app.put(
    "/v1/machines/:id/power",
    { schema: { ...params, body: PowerSettings }, config: { access: "operator", what: "power settings" } },
    async (request) => {
      const id = await knownMachine(store, request.params.id);
      // A Redfish BMC is reached now: its certificate pinned, the login and the system checked.
      const settings = request.body.driver === "redfish" ? await checkRedfish(request.body) : request.body;
      await store.settings.setPower(id, settings);
      request.log.info({ machine: id, driver: settings.driver }, "power driver set");
      return powerView(settings);
    },
  );

  app.get("/v1/machines/:id/power", { config: { access: "viewer" }, schema: params }, async (request) =>
    powerView(await store.settings.power(await knownMachine(store, request.params.id))),
  );

  app.post(
    "/v1/machines/:id/bios/apply",
    {
      config: { access: "operator", what: "BIOS settings" },
      schema: { ...params, body: BiosApplyRequest },
    },
    async (request) => {
      const id = await knownMachine(store, request.params.id);
      const deps = {
        power: (machineId: string) => store.settings.power(machineId),
        attributes: (machineId: string) => store.biosAttributes(machineId),
        log: (machineId: string, event: string, data: Record<string, unknown>) =>
          store.appendLog(machineId, event, data, new Date()),
      };
      const result = await applyBios(deps, id, { applyTimeoutMs: request.body?.waitMs ?? 120_000 });
      request.log.info({ machine: id, differences: result.differences.length }, "bios settings applied");
      return result;
    },
  );

  app.post(
    "/v1/machines/:id/power/cycle",
    { config: { access: "operator" }, schema: params },
    async (request) => service.powerCycle(await knownMachine(store, request.params.id)),
  );
}
