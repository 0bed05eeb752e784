// Drivers on demand: the loader's question (which modules claim these PCI devices?) and the bundle that
// carries them, by sha256; and one machine's devices with what claims each (`bootwright drivers`).
import * as z from "zod";
import { DriversRequest, type DriversAnswer, type MachineDrivers } from "../../protocol/index.js";
import { machineDrivers } from "../drivers/device-report.js";
import { ApiError } from "../errors.js";
import { sendFile } from "./boot-routes.js";
import type { App, RouteDeps } from "./app.js";

export function addDriverRoutes(app: App, deps: RouteDeps): void {
  // Public like the kernel and initramfs: the loader asks before it enrolls (the disks behind a new
  // HBA must be in its first inventory), and the answer is Debian's own modules. Rate-limited as
  // enrollment is, since a new module set costs a bundle build.
  app.post(
    "/v1/drivers",
    { schema: { body: DriversRequest }, config: { access: "public", rateLimited: true } },
    async (request) => {
      const answer = await deps.drivers.resolve(request.body);
      request.log.info(
        {
          kernel: answer.kernel,
          asked: answer.devices.length,
          unclaimed: answer.devices.filter((device) => device.modules.length === 0).map((d) => d.modalias),
          modules: answer.modules.map((module) => module.name),
          bundle: answer.bundle?.sha256,
        },
        "drivers resolved",
      );
      return answer satisfies DriversAnswer;
    },
  );

  // Content-addressed, so immutable: a relay or the loader may keep it forever.
  app.get(
    "/v1/drivers/bundles/:sha256",
    { schema: { params: z.object({ sha256: z.string() }) }, config: { access: "public" } },
    async (request, reply) => {
      const file = deps.drivers.bundleFile(request.params.sha256);
      if (!file) throw new ApiError("not_found", `no driver bundle ${request.params.sha256}`);
      reply.header("cache-control", "public, max-age=31536000, immutable");
      return sendFile(reply, file, "application/zstd");
    },
  );

  app.get(
    "/v1/machines/:id/drivers",
    { schema: { params: z.object({ id: z.string() }) }, config: { access: "viewer" } },
    async (request) => {
      const machine = await deps.store.getMachine(request.params.id);
      if (!machine) throw new ApiError("not_found", `no machine ${request.params.id}`);
      return machineDrivers(machine.id, machine.inventory) satisfies MachineDrivers;
    },
  );
}
