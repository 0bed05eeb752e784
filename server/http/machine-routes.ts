// The boot list and what operators set on it: inventory posts, machines, their step logs and queues,
// expected categories (one machine or every machine matching a fact; --replan reinstalls a drifted one),
// the difference list.
import * as z from "zod";
import {
  BulkExpectRequest,
  ExpectRequest,
  Inventory,
  type BootList,
  type BootListSummary,
  type DifferenceList,
  type EnrollmentRefusal,
  type InventoryAccepted,
  type StepLog,
} from "../../protocol/index.js";
import { ApiError } from "../errors.js";
import type { Services } from "../services.js";
import type { App, RouteDeps } from "./app.js";
import { rebootWay } from "../policy/reboot-way.js";

export const MachineParams = z.object({ id: z.string() });

/** How soon a waiting loader posts its inventory again: an approval takes effect within seconds. */
const ENROLLMENT_RETRY_MS = 5_000;

/** The machine id from the path, or a 404 naming it. */
export async function knownMachine(store: Services, id: string): Promise<string> {
  if (!(await store.getMachine(id))) throw new ApiError("not_found", `no machine ${id}`);
  return id;
}

export function addMachineRoutes(app: App, deps: RouteDeps): void {
  const { store } = deps;
  const params = { params: MachineParams };

  app.post(
    "/v1/inventory",
    // Enrollment: the machine holds no credential yet; its answer carries the one it uses from then on.
    { schema: { body: Inventory }, config: { access: "public", what: "inventory", rateLimited: true } },
    async (request) => {
      const inventory = request.body;
      const outcome = await store.recordInventory(inventory, new Date());
      if (outcome.kind === "refused") {
        request.log.info(
          { machine: outcome.machineId, code: outcome.code, serial: inventory.system.serial },
          "enrollment refused",
        );
        const details: EnrollmentRefusal = {
          machineId: outcome.machineId,
          reason: outcome.reason,
          retryAfterMs: ENROLLMENT_RETRY_MS,
        };
        throw new ApiError(outcome.code, outcome.reason, details);
      }
      const { machine, credential } = outcome;
      request.log.info(
        { machine: machine.id, category: machine.category, serial: inventory.system.serial },
        "inventory stored",
      );
      // Booted from rescue media: when that was the BMC's virtual CD, it comes out now (in the background:
      // the BMC may take seconds, the loader need not wait).
      if (inventory.details?.bootPath === "media")
        deps.maintenance.ejectVirtualMedia(machine.id).catch((err: unknown) => {
          request.log.error({ err, machine: machine.id }, "virtual media eject failed");
        });
      // Not while being released: the loader stays to erase the disk it would boot.
      const bootFromDisk = machine.category === "installed" && machine.expected !== "released";
      const kexec =
        bootFromDisk && rebootWay({ plan: machine.plan?.plan, bootPath: machine.bootPath }).via === "kexec";
      const answer: InventoryAccepted = {
        machineId: machine.id,
        category: machine.category,
        bootFromDisk,
        ...(kexec ? { reboot: "kexec" as const } : {}),
        credential,
      };
      return answer;
    },
  );

  app.get(
    "/v1/machines",
    { config: { access: "viewer" } },
    async () => ({ machines: await store.listMachines() }) satisfies BootList,
  );

  // The console's list: every machine without its plan and with only its inventory's system fields.
  app.get(
    "/v1/boot-list",
    { config: { access: "viewer" } },
    async () => ({ machines: await store.bootList() }) satisfies BootListSummary,
  );

  app.get("/v1/machines/:id", { config: { access: "viewer" }, schema: params }, async (request) => {
    const machine = await store.getMachine(request.params.id);
    if (!machine) throw new ApiError("not_found", `no machine ${request.params.id}`);
    return machine;
  });

  // A deleted machine's log stays readable (issue 18): its last entry says who deleted it.
  app.get("/v1/machines/:id/log", { config: { access: "viewer" }, schema: params }, async (request) => {
    const entries = await store.machineLog(request.params.id);
    if (entries.length === 0) await knownMachine(store, request.params.id);
    return { entries } satisfies StepLog;
  });

  app.get("/v1/machines/:id/queue", { config: { access: "viewer" }, schema: params }, async (request) => ({
    commands: await store.machineQueue(await knownMachine(store, request.params.id)),
  }));

  app.put(
    "/v1/machines/:id/expected",
    { schema: { ...params, body: ExpectRequest }, config: { access: "operator", what: "expected category" } },
    async (request) => {
      const id = await knownMachine(store, request.params.id);
      if (request.body.replan === true) {
        // Reinstall a drifted machine with its new plan (server/policy/policy-change.ts).
        const outcome = await store.reinstall(id, new Date());
        if (outcome?.kind === "refused") throw new ApiError("replan_refused", outcome.reason);
        request.log.info({ machine: id, to: outcome?.replan.to }, "drifted machine re-planned for reinstall");
        return store.getMachine(id);
      }
      const machine = await store.setExpected(id, request.body.category, new Date());
      request.log.info({ machine: id, expected: request.body.category }, "expected category set");
      return machine;
    },
  );

  app.post(
    "/v1/expected",
    { schema: { body: BulkExpectRequest }, config: { access: "operator", what: "bulk expectation" } },
    async (request) => {
      const { where, category } = request.body;
      if (request.body.replan === true) {
        const answer = await store.reinstallWhere(where, new Date());
        request.log.info(
          { where, count: answer.machineIds.length, replanned: answer.replanned.length },
          "expected installed in bulk, drifted machines re-planned",
        );
        return answer;
      }
      const machineIds = await store.setExpectedWhere(where, category, new Date());
      request.log.info(
        { where, expected: category, count: machineIds.length },
        "expected category set in bulk",
      );
      return { machineIds };
    },
  );

  app.get(
    "/v1/differences",
    { config: { access: "viewer" } },
    async () =>
      ({
        differences: await store.differences(),
        enrollment: await store.enrollmentDifferences(),
        drift: await store.drift(),
        drivers: await store.driverDifferences(),
      }) satisfies DifferenceList,
  );
}
