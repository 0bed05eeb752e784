// Operators' side of enrollment (issue 17): approve one machine or every machine matching a fact (the
// access layer audits both), and the SMBIOS UUIDs found shared by several machines.
import {
  BulkApproveRequest,
  type ApproveAnswer,
  type Machine,
  type SharedUuidList,
} from "../../protocol/index.js";
import { ApiError } from "../errors.js";
import type { App, RouteDeps } from "./app.js";
import { knownMachine, MachineParams } from "./machine-routes.js";

export function addEnrollmentRoutes(app: App, deps: RouteDeps): void {
  const { store } = deps;

  app.post(
    "/v1/machines/:id/approve",
    { schema: { params: MachineParams }, config: { access: "operator" } },
    async (request) => {
      const id = await knownMachine(store, request.params.id);
      const approved = await store.approve({ ids: [id] }, new Date());
      request.log.info({ machine: id, changed: approved.length > 0 }, "enrollment approved");
      const machine = await store.getMachine(id);
      if (!machine) throw new ApiError("not_found", `no machine ${id}`);
      return machine satisfies Machine;
    },
  );

  app.post(
    "/v1/approve",
    { schema: { body: BulkApproveRequest }, config: { access: "operator", what: "approval" } },
    async (request) => {
      const machineIds = await store.approve({ where: request.body.where }, new Date());
      request.log.info(
        { where: request.body.where, count: machineIds.length },
        "enrollment approved in bulk",
      );
      return { machineIds } satisfies ApproveAnswer;
    },
  );

  app.get(
    "/v1/shared-uuids",
    { config: { access: "viewer" } },
    async () => ({ sharedUuids: await store.sharedUuids() }) satisfies SharedUuidList,
  );
}
