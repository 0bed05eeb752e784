// The install's boot area (head ‖ tail of the disk), recorded by the agent right after writing it, and
// read back by the repair image.
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import * as z from "zod";
import { BootAreaRecord } from "../../protocol/index.js";
import { ApiError } from "../errors.js";
import { BootAreaFiles } from "../maintenance/boot-areas.js";
import type { App, RouteDeps } from "./app.js";
import { knownMachine, MachineParams } from "./machine-routes.js";

/** A boot area is a few MiB at most (head ≤ 1 MiB, tail the backup GPT). */
const BOOT_AREA_LIMIT_BYTES = 4 * 2 ** 20;

const Query = z.record(z.string(), z.string());

function intParam(query: Record<string, string>, name: string): number {
  const raw = query[name] ?? "";
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value))
    throw new ApiError("invalid_parameter", `query parameter ${name} must be a whole number (got "${raw}")`);
  return value;
}

export function addBootAreaRoutes(app: App, deps: RouteDeps): void {
  const { store, bootAreas } = deps;
  // Here, and only here, an octet-stream body is read whole (it is small): the image routes stream theirs.
  void app.register((plugin, _options, done) => {
    const scoped = plugin.withTypeProvider<ZodTypeProvider>();
    scoped.addContentTypeParser(
      "application/octet-stream",
      { parseAs: "buffer", bodyLimit: BOOT_AREA_LIMIT_BYTES },
      (_request, body, parsed) => {
        parsed(null, body);
      },
    );
    scoped.put(
      "/v1/machines/:id/boot-area",
      {
        config: { access: "machine" },
        schema: { params: MachineParams, querystring: Query, body: z.instanceof(Buffer) },
        bodyLimit: BOOT_AREA_LIMIT_BYTES,
      },
      async (request) => {
        const id = await knownMachine(store, request.params.id);
        const bytes = request.body;
        const declared = request.headers["x-bootwright-sha256"];
        const sha256 = BootAreaFiles.sha256(bytes);
        const headBytes = intParam(request.query, "headBytes");
        const tailBytes = intParam(request.query, "tailBytes");
        if (declared !== sha256 || headBytes + tailBytes !== bytes.length)
          throw new ApiError(
            "boot_area_invalid",
            `boot area refused: ${bytes.length} bytes with sha256 ${sha256}, declared ${typeof declared === "string" && declared !== "" ? declared : "none"} for ${headBytes} + ${tailBytes} bytes`,
          );
        const parsed = BootAreaRecord.safeParse({
          device: request.query.device,
          diskBytes: intParam(request.query, "diskBytes"),
          sectorBytes: intParam(request.query, "sectorBytes"),
          headBytes,
          tailBytes,
          sha256,
          image: request.query.image,
          planHash: request.query.planHash,
          recordedAt: new Date().toISOString(),
        });
        if (!parsed.success) throw new ApiError("invalid_parameter", `boot area: ${parsed.error.message}`);
        await bootAreas.write(id, bytes);
        await store.settings.putBootArea(id, parsed.data);
        request.log.info(
          { machine: id, device: parsed.data.device, bytes: bytes.length, sha256 },
          "boot area recorded",
        );
        return parsed.data;
      },
    );
    done();
  });

  app.get(
    "/v1/machines/:id/boot-area",
    { config: { access: "machine" }, schema: { params: MachineParams } },
    async (request) => {
      const id = await knownMachine(store, request.params.id);
      const record = await store.settings.bootArea(id);
      if (!record)
        throw new ApiError(
          "not_found",
          `machine ${id} has no recorded boot area (installed before it was recorded?)`,
        );
      return record;
    },
  );

  app.get(
    "/v1/machines/:id/boot-area/bytes",
    { config: { access: "machine" }, schema: { params: MachineParams } },
    async (request, reply) => {
      const id = await knownMachine(store, request.params.id);
      if (!(await store.settings.bootArea(id)))
        throw new ApiError("not_found", `machine ${id} has no recorded boot area`);
      const bytes = await bootAreas.read(id);
      return reply
        .header("content-type", "application/octet-stream")
        .header("content-length", bytes.length)
        .send(bytes);
    },
  );
}
