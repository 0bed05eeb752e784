// What a booting machine fetches: the one iPXE script, its own script (enrolled on first sight), the
// loader's kernel and initramfs (or all of it as one UKI for UEFI HTTP boot), its tailored agent bundle,
// and a recipe's files; and /healthz. Each boot request goes into the boot log with its address.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { FastifyReply } from "fastify";
import * as z from "zod";
import { MacAddress, RESCUE_MEDIA_PATH } from "../../protocol/index.js";
import { ApiError } from "../errors.js";
import { machineBootScript } from "../ipxe/machine-script.js";
import { renderBootScript } from "../ipxe/render.js";
import { UKI_PATH } from "../site/dnsmasq-config.js";
import type { App, RouteDeps } from "./app.js";
import { machineFacingUrls } from "./relay-origin.js";

const IPXE_TYPE = "text/plain; charset=utf-8";

export function parseMacParam(raw: string): MacAddress {
  const parsed = MacAddress.safeParse(raw);
  if (!parsed.success) throw new ApiError("invalid_parameter", `not a MAC address: ${raw}`);
  return parsed.data;
}

/** A file with its length (HEAD answers the headers only); a missing one is a 404 naming it. */
export async function sendFile(
  reply: FastifyReply,
  path: string,
  contentType = "application/octet-stream",
): Promise<FastifyReply> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    throw new ApiError(
      "not_found",
      `asset missing on the server: ${path} (run build-scripts/setup.sh)`,
      undefined,
      {
        cause: err,
      },
    );
  }
  return reply
    .header("content-type", contentType)
    .header("content-length", size)
    .send(createReadStream(path));
}

/**
 * Asks Node to close the connection once this answer is sent. Firmware's HTTP clients hand over to
 * what they fetched without finishing their connection: iPXE sends its FIN as it jumps to the kernel
 * and never acknowledges ours, so the peer keeps the connection half-closed (QEMU's user-mode network:
 * minutes). iPXE's port and sequence choice repeats across boots (its random() is seeded from a tick
 * count), so the next boot's SYN lands on that stale connection and times out: measured under OVMF,
 * port 44618 with the same initial sequence number in two boots a minute apart. Closing from our side
 * right after each answer has the client acknowledge while it still runs; it costs one handshake per
 * file (four per boot).
 */
function closeAfterAnswer(reply: FastifyReply): FastifyReply {
  return reply.header("connection", "close");
}

export function addBootRoutes(app: App, deps: RouteDeps): void {
  app.get("/healthz", { config: { access: "public" } }, () => ({ ok: true }));

  // The one script every machine gets from DHCP.
  app.get("/boot.ipxe", { config: { access: "public" } }, (request, reply) => {
    deps.journal.note({
      source: "http",
      event: "boot-script",
      address: request.ip,
      detail: "GET /boot.ipxe",
    });
    const { bootUrl } = machineFacingUrls(request, deps);
    return closeAfterAnswer(reply).type(IPXE_TYPE).send(renderBootScript(deps.templates.boot, bootUrl));
  });

  // Per machine: enroll on first sight, then its loader, or its own disk when it runs its plan.
  app.get(
    "/boot/:mac.ipxe",
    {
      // Enrolls a machine never seen: limited per source address, as the inventory is.
      config: { access: "public", rateLimited: true },
      schema: {
        params: z.object({ mac: z.string() }),
        querystring: z.object({ uuid: z.string().optional() }),
      },
    },
    async (request, reply) => {
      const mac = parseMacParam(request.params.mac);
      const uuid = request.query.uuid || null;
      // iPXE that a TFTP program chained to is pxe-bios/pxe-uefi; a NIC's own iPXE ROM is ipxe.
      const path = deps.journal.ipxePathFor(request.ip);
      deps.journal.learn(request.ip, mac);
      const urls = machineFacingUrls(request, deps);
      const { machine, isNew, answer, script } = await machineBootScript(
        { ...deps, ...urls },
        {
          mac,
          uuid,
          path,
          language: "ipxe",
          at: new Date(),
        },
      );
      deps.journal.note({
        source: "http",
        event: "boot-script",
        mac,
        address: request.ip,
        detail: `GET /boot/${mac}.ipxe → ${answer} (${path}, machine ${machine.id})`,
      });
      request.log.info(
        { machine: machine.id, mac, isNew, category: machine.category, answer, path },
        "boot script requested",
      );
      return closeAfterAnswer(reply).type(IPXE_TYPE).send(script);
    },
  );

  app.get(
    "/assets/:name",
    { config: { access: "public" }, schema: { params: z.object({ name: z.string() }) } },
    async (request, reply) => {
      const { name } = request.params;
      if (name !== "vmlinuz" && name !== "initramfs.img")
        throw new ApiError("not_found", `no asset named ${name}`);
      deps.journal.note({
        source: "http",
        event: "asset",
        address: request.ip,
        detail: `GET /assets/${name}`,
      });
      return sendFile(closeAfterAnswer(reply), deps.assets[name]);
    },
  );

  // UEFI HTTP boot (the DHCP answer to vendor class HTTPClient): the loader as one EFI binary.
  app.get(UKI_PATH, { config: { access: "public" } }, async (request, reply) => {
    const path = await deps.loaderUki();
    deps.journal.note({
      source: "http",
      event: "uki",
      address: request.ip,
      detail: `${request.method} ${UKI_PATH}`,
    });
    return sendFile(closeAfterAnswer(reply), path, "application/efi");
  });

  // The rescue media for a BMC's virtual CD: a BMC fetches it with no credential of ours, and it holds
  // nothing secret (the server's URL and its CA's fingerprint).
  app.get(RESCUE_MEDIA_PATH, { config: { access: "public" } }, async (request, reply) => {
    const path = await deps.rescueMedia();
    deps.journal.note({
      source: "http",
      event: "rescue-media",
      address: request.ip,
      detail: `${request.method} ${RESCUE_MEDIA_PATH}`,
    });
    return sendFile(reply, path, "application/x-iso9660-image");
  });

  // A recipe's files (packages, configuration) for its install script: the target has no other source.
  app.get(
    "/v1/recipes/:name/files/:file",
    { config: { access: "machine" }, schema: { params: z.object({ name: z.string(), file: z.string() }) } },
    async (request, reply) => {
      const { name, file } = request.params;
      if (!/^[a-z0-9][a-z0-9-]*$/.test(name) || !/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(file))
        throw new ApiError("invalid_parameter", `not a recipe file: ${name}/${file}`);
      return sendFile(reply, join(deps.recipesDir, name, file));
    },
  );

  // Tailored agents, content-addressed: the URL names the bundle's sha256, and the header repeats it.
  app.get(
    "/v1/agents/:sha.mjs",
    { config: { access: "machine" }, schema: { params: z.object({ sha: z.string() }) } },
    async (request, reply) => {
      const { sha } = request.params;
      const path = deps.agents.bundlePath(sha);
      if (!path) throw new ApiError("not_found", `no agent bundle ${sha}`);
      void reply.header("x-bootwright-sha256", sha);
      return sendFile(reply, path, "text/javascript; charset=utf-8");
    },
  );
}
