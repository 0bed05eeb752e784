// Releasing machines (issue 18): one, or every one matching a fact; the erase mode goes with it. The
// access layer audits both (operator role).
import { BulkReleaseRequest, ReleaseRequest, type Machine } from "../../protocol/index.js";
import { ApiError } from "../errors.js";
import type { App, RouteDeps } from "./app.js";
import { knownMachine, MachineParams } from "./machine-routes.js";

/**
 * An installed machine runs its OS, not the loader: its power driver cycles it now (iPXE then answers
 * with the loader); without one, its OS's next health report is told to reboot (maintenance service).
 */
async function rebootIntoLoader(deps: RouteDeps, machine: Machine): Promise<void> {
  if (machine.category === "installed") await deps.maintenance.powerCycle(machine.id);
}

export function addReleaseRoutes(app: App, deps: RouteDeps): void {
  const { store } = deps;

  app.post(
    "/v1/machines/:id/release",
    {
      schema: { params: MachineParams, body: ReleaseRequest },
      config: { access: "operator", what: "release" },
    },
    async (request) => {
      const id = await knownMachine(store, request.params.id);
      const machine = await store.release(id, request.body.erase, new Date());
      if (!machine) throw new ApiError("not_found", `no machine ${id}`);
      request.log.info(
        { machine: id, erase: request.body.erase, from: machine.category },
        "release requested",
      );
      await rebootIntoLoader(deps, machine);
      return machine satisfies Machine;
    },
  );

  app.post(
    "/v1/release",
    { schema: { body: BulkReleaseRequest }, config: { access: "operator", what: "bulk release" } },
    async (request) => {
      const { where, erase } = request.body;
      const machineIds = await store.releaseWhere(where, erase, new Date());
      request.log.info({ where, erase, count: machineIds.length }, "release requested in bulk");
      for (const id of machineIds) {
        const machine = await store.getMachine(id);
        if (machine) await rebootIntoLoader(deps, machine);
      }
      return { machineIds };
    },
  );
}
