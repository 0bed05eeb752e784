// Operators' lifecycle routes (issue 18): retire and unretire, delete, tags (by id or by selector) and
// notes. All need the operator role; the access layer audits each change with the machine's category
// and expectation before and after (after a delete: null).
import type { FastifyRequest } from "fastify";
import {
  BulkTagRequest,
  NoteRequest,
  TagRequest,
  type Machine,
  type MachineBusy,
  type MachineDeleted,
  type TagAnswer,
} from "../../protocol/index.js";
import { ApiError } from "../errors.js";
import type { App, RouteDeps } from "./app.js";
import { knownMachine, MachineParams } from "./machine-routes.js";

/** Who the log and the retirement record name: the operator token's name. */
const operatorName = (request: FastifyRequest): string => request.operator?.name ?? "(unknown)";

const gone = (id: string): ApiError => new ApiError("not_found", `no machine ${id}`);

/** Too many tags: the body is well-formed but its result does not fit, as a schema issue on `add`. */
const tooManyTags = (reason: string): ApiError =>
  new ApiError("schema_mismatch", reason, [{ path: "add", message: reason }]);

export function addLifecycleRoutes(app: App, deps: RouteDeps): void {
  const { store } = deps;
  const params = { params: MachineParams };

  for (const [verb, retire] of [
    ["retire", true],
    ["unretire", false],
  ] as const)
    app.post(
      `/v1/machines/:id/${verb}`,
      { schema: params, config: { access: "operator" } },
      async (request) => {
        const id = await knownMachine(store, request.params.id);
        const machine = await store.lifecycle.setRetired(id, retire, operatorName(request), new Date());
        if (!machine) throw gone(id);
        request.log.info({ machine: id, retired: machine.retired !== null }, `machine ${verb}d`);
        return machine satisfies Machine;
      },
    );

  app.delete("/v1/machines/:id", { schema: params, config: { access: "operator" } }, async (request) => {
    const outcome = await store.lifecycle.deleteMachine(request.params.id, operatorName(request), new Date());
    if (outcome.kind === "unknown") throw gone(request.params.id);
    if (outcome.kind === "busy") {
      const details: MachineBusy = { machineId: outcome.machineId, reason: outcome.reason };
      throw new ApiError(
        "machine_busy",
        `machine ${outcome.machineId} was not deleted: ${outcome.reason}`,
        details,
      );
    }
    const deleted: MachineDeleted = {
      machineId: outcome.machineId,
      credentialsRevoked: outcome.credentialsRevoked,
      commandsRemoved: outcome.commandsRemoved,
    };
    request.log.info(deleted, "machine deleted");
    return deleted;
  });

  app.post(
    "/v1/machines/:id/tags",
    { schema: { ...params, body: TagRequest }, config: { access: "operator", what: "tag change" } },
    async (request) => {
      const id = await knownMachine(store, request.params.id);
      const outcome = await store.lifecycle.tag(id, request.body, new Date());
      if (!outcome) throw gone(id);
      if (!outcome.ok) throw tooManyTags(outcome.reason);
      return outcome.machine satisfies Machine;
    },
  );

  app.post(
    "/v1/tags",
    { schema: { body: BulkTagRequest }, config: { access: "operator", what: "bulk tag change" } },
    async (request) => {
      const { where, ...change } = request.body;
      const outcome = await store.lifecycle.tagWhere(where, change, new Date());
      if (!outcome.ok) throw tooManyTags(outcome.reason);
      request.log.info({ where, count: outcome.machineIds.length }, "tags changed in bulk");
      return { machineIds: outcome.machineIds } satisfies TagAnswer;
    },
  );

  app.put(
    "/v1/machines/:id/note",
    { schema: { ...params, body: NoteRequest }, config: { access: "operator", what: "note" } },
    async (request) => {
      const id = await knownMachine(store, request.params.id);
      const machine = await store.lifecycle.setNote(id, request.body.note, new Date());
      if (!machine) throw gone(id);
      return machine satisfies Machine;
    },
  );
}
