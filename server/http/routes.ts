// The HTTP API: boot scripts for iPXE, the loader's kernel and initramfs, inventory, the boot list,
// expected categories, the difference list, and the per-machine command queue.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import {
  AgentEvent,
  BulkExpectRequest,
  CallHome,
  type AgentEventAccepted,
  type CallHomeAccepted,
  CommandResult,
  ExpectRequest,
  Inventory,
  MacAddress,
  type BootList,
  type CommandResultAccepted,
  type DifferenceList,
  type InventoryAccepted,
  type LeasedCommand,
  type NextAction,
} from "../../protocol/index.js";
import type { Logger } from "pino";
import type { AgentBuilder } from "../agent-builder.js";
import { agentPlanFor } from "../agent-plan.js";
import { installSource } from "../install-source.js";
import type { Store } from "../db/store.js";
import { ApiError, ServerError } from "../errors.js";
import { renderBootScript, renderLoaderScript, renderLocalBootScript } from "../ipxe/render.js";
import { readBody } from "./body.js";
import type { BlobStore } from "../images/blob-store.js";
import { DEFAULT_FANOUT, ImageFanout, type FanoutOptions } from "../images/fanout.js";
import { UploadService } from "../images/uploads.js";
import type { LeaseDurations } from "../reconciler.js";
import { addImageRoutes } from "./image-routes.js";
import { addMaintenanceRoutes } from "./maintenance-routes.js";
import { BootAreaFiles } from "../maintenance/boot-areas.js";
import type { MaintenanceService } from "../maintenance/service.js";
import { addPolicyRoutes } from "./policy-routes.js";
import { Router, sendJson, sendText, type RequestContext } from "./router.js";

export interface AppDeps {
  store: Store;
  /** The URL machines reach us at (config.advertiseUrl with the bound port filled in). */
  advertiseUrl: string;
  kernelArgs: string;
  bodyLimitBytes: number;
  assets: { vmlinuz: string; "initramfs.img": string };
  templates: { boot: string; loader: string; local: string };
  /** How long the loader waits between "what next?" polls while there is nothing to do. */
  idlePollMs: number;
  /** How long a leased command belongs to its agent, by kind. */
  leases: LeaseDurations;
  /** Builds and keeps the tailored agent bundles. */
  agents: AgentBuilder;
  log?: Logger;
  /** The image store's files. */
  blobs: BlobStore;
  /** Where resumable uploads keep their bytes until complete. */
  uploadsDir: string;
  /** Recipes' files, one directory per recipe (served to install scripts). */
  recipesDir: string;
  fanout?: Partial<FanoutOptions>;
  /** Maintenance swaps: start, reboot, restore, health, the monitor. */
  maintenance: MaintenanceService;
  /** Where the boot areas recorded at install are kept. */
  bootAreasDir: string;
}

const IPXE_TYPE = "text/plain; charset=utf-8";

function parseMacParam(raw: string | undefined): MacAddress {
  const parsed = MacAddress.safeParse(raw ?? "");
  if (!parsed.success) throw new ApiError("invalid_parameter", `not a MAC address: ${raw ?? ""}`);
  return parsed.data;
}

async function sendFile(
  ctx: RequestContext,
  path: string,
  contentType = "application/octet-stream",
): Promise<void> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    throw new ApiError(
      "not_found",
      `asset missing on the server: ${path} (run build-scripts/setup.sh)`,
      undefined,
      { cause: err },
    );
  }
  ctx.res.writeHead(200, { "content-type": contentType, "content-length": size });
  if (ctx.req.method === "HEAD") {
    ctx.res.end();
    return;
  }
  await pipeline(createReadStream(path), ctx.res);
}

export function buildRouter(deps: AppDeps): Router {
  const router = new Router();

  // An image batch waits for the machines about to write that image: those with a write-image command
  // queued or leased whose install source (install-source.ts: a captured image, or the plan's) is it.
  const fanout = new ImageFanout(
    async (sha256) => {
      const holders: string[] = [];
      for (const machineId of await deps.store.machinesWithPending("write-image")) {
        const machine = await deps.store.getMachine(machineId);
        const source = machine ? await installSource(deps.store, machine, deps.advertiseUrl) : undefined;
        if (source?.kind === "image" && source.image.sha256 === sha256) holders.push(machineId);
      }
      return holders;
    },
    { ...DEFAULT_FANOUT, ...deps.fanout },
    (message, fields) => {
      deps.log?.info(fields, message);
    },
  );

  /**
   * run-agent and write-image get the machine's tailored bundle: built (or found in the cache) for its
   * plan, with the plan's image resolved in the store. write-image without a stored image cannot run.
   */
  const withAgent = async (command: LeasedCommand, id: string): Promise<LeasedCommand> => {
    const machine = await deps.store.getMachine(id);
    if (!machine?.plan || !machine.inventory)
      throw new ServerError(`machine ${id} has a ${command.kind} command but no plan`);
    const source = await installSource(deps.store, machine, deps.advertiseUrl);
    const plan = agentPlanFor(
      machine.plan,
      machine.inventory,
      source.kind === "image" ? source.image : undefined,
    );
    if (source.kind === "image" && source.capture) plan.capture = source.capture;
    if (command.kind === "write-image" && source.kind === "missing") {
      const error = `image ${source.image} is not in the image store (add it with: bootwright image add <file> --name ${source.image})`;
      await deps.store.completeCommand(
        id,
        command.id,
        { leaseId: command.leaseId, outcome: "failed", error },
        new Date(),
      );
      throw new ApiError("not_found", error);
    }
    const built = await deps.agents.build(machine.inventory, plan);
    return {
      ...command,
      agent: {
        url: `${deps.advertiseUrl}/v1/agents/${built.sha256}.mjs`,
        sha256: built.sha256,
        plugins: built.plugins,
      },
    };
  };

  /** The machine id from the path, or a 404 naming it. */
  const knownMachine = async (raw: string | undefined): Promise<string> => {
    const id = raw ?? "";
    if (!(await deps.store.getMachine(id))) throw new ApiError("not_found", `no machine ${id}`);
    return id;
  };

  router.on("GET", "/healthz", (ctx) => {
    sendJson(ctx.res, 200, { ok: true });
    return Promise.resolve();
  });

  // The one script every machine gets from DHCP.
  router.on("GET", "/boot.ipxe", (ctx) => {
    sendText(ctx.res, 200, IPXE_TYPE, renderBootScript(deps.templates.boot, deps.advertiseUrl));
    return Promise.resolve();
  });

  // Per machine: enroll on first sight, then load the loader (later issues decide other answers here).
  router.on("GET", "/boot/:mac.ipxe", async (ctx) => {
    const mac = parseMacParam(ctx.params.mac);
    const uuid = ctx.url.searchParams.get("uuid") || null;
    const { machine, isNew, answer } = await deps.store.recordBootRequest({ mac, uuid, at: new Date() });
    ctx.log.info(
      { machine: machine.id, mac, isNew, category: machine.category, answer },
      "boot script requested",
    );
    const script =
      answer === "local-disk"
        ? renderLocalBootScript(deps.templates.local, machine.id)
        : renderLoaderScript(deps.templates.loader, {
            serverUrl: deps.advertiseUrl,
            machineId: machine.id,
            mac,
            kernelArgs: deps.kernelArgs,
          });
    sendText(ctx.res, 200, IPXE_TYPE, script);
  });

  router.on("GET", "/assets/:name", async (ctx) => {
    const name = ctx.params.name;
    if (name !== "vmlinuz" && name !== "initramfs.img")
      throw new ApiError("not_found", `no asset named ${name ?? ""}`);
    await sendFile(ctx, deps.assets[name]);
  });

  // Tailored agents, content-addressed: the URL names the bundle's sha256, and the header repeats it.
  // A recipe's files (packages, configuration) for its install script: the target has no other source.
  router.on("GET", "/v1/recipes/:name/files/:file", async (ctx) => {
    const name = ctx.params.name ?? "";
    const file = ctx.params.file ?? "";
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name) || !/^[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(file))
      throw new ApiError("invalid_parameter", `not a recipe file: ${name}/${file}`);
    await sendFile(ctx, join(deps.recipesDir, name, file));
  });

  router.on("GET", "/v1/agents/:sha.mjs", async (ctx) => {
    const sha = ctx.params.sha ?? "";
    const path = deps.agents.bundlePath(sha);
    if (!path) throw new ApiError("not_found", `no agent bundle ${sha}`);
    ctx.res.setHeader("x-bootwright-sha256", sha);
    await sendFile(ctx, path, "text/javascript; charset=utf-8");
  });

  router.on("POST", "/v1/inventory", async (ctx) => {
    const inventory = await readBody(ctx.req, deps.bodyLimitBytes, Inventory, "inventory");
    const machine = await deps.store.recordInventory(inventory, new Date());
    ctx.log.info(
      { machine: machine.id, category: machine.category, serial: inventory.system.serial },
      "inventory stored",
    );
    const answer: InventoryAccepted = {
      machineId: machine.id,
      category: machine.category,
      bootFromDisk: machine.category === "installed",
    };
    sendJson(ctx.res, 200, answer);
  });

  router.on("GET", "/v1/machines", async (ctx) => {
    const list: BootList = { machines: await deps.store.listMachines() };
    sendJson(ctx.res, 200, list);
  });

  router.on("GET", "/v1/machines/:id", async (ctx) => {
    const id = ctx.params.id ?? "";
    const machine = await deps.store.getMachine(id);
    if (!machine) throw new ApiError("not_found", `no machine ${id}`);
    sendJson(ctx.res, 200, machine);
  });

  router.on("GET", "/v1/machines/:id/log", async (ctx) => {
    const id = await knownMachine(ctx.params.id);
    sendJson(ctx.res, 200, { entries: await deps.store.machineLog(id) });
  });

  // What the loader should do next: lease it the next command of its queue, or tell it to wait.
  router.on("GET", "/v1/machines/:id/next", async (ctx) => {
    const id = await knownMachine(ctx.params.id);
    const leased = await deps.store.leaseNext(id, new Date(), deps.leases);
    const command =
      leased?.kind === "run-agent" || leased?.kind === "write-image"
        ? await withAgent(leased, id)
        : leased?.kind === "run-maintenance"
          ? { ...leased, maintenance: await deps.maintenance.assignment(id, leased) }
          : leased;
    const next: NextAction = command
      ? { action: "run", command }
      : { action: "wait", pollAfterMs: deps.idlePollMs };
    if (command)
      ctx.log.info(
        { machine: id, command: command.id, kind: command.kind, agent: command.agent?.sha256 },
        "command leased",
      );
    sendJson(ctx.res, 200, next);
  });

  router.on("POST", "/v1/machines/:id/commands/:commandId/result", async (ctx) => {
    const id = await knownMachine(ctx.params.id);
    const result = await readBody(ctx.req, deps.bodyLimitBytes, CommandResult, "command result");
    const outcome = await deps.store.completeCommand(id, ctx.params.commandId ?? "", result, new Date());
    if (outcome.kind === "refused") {
      throw new ApiError("lease_refused", `result refused: ${outcome.reason}`, { reason: outcome.reason });
    }
    ctx.log.info(
      {
        machine: id,
        command: ctx.params.commandId,
        outcome: result.outcome,
        duplicate: outcome.kind === "duplicate",
      },
      "command result",
    );
    const answer: CommandResultAccepted = {
      duplicate: outcome.kind === "duplicate",
      category: outcome.category,
    };
    sendJson(ctx.res, 200, answer);
  });

  router.on("PUT", "/v1/machines/:id/expected", async (ctx) => {
    const id = await knownMachine(ctx.params.id);
    const body = await readBody(ctx.req, deps.bodyLimitBytes, ExpectRequest, "expected category");
    const machine = await deps.store.setExpected(id, body.category, new Date());
    ctx.log.info({ machine: id, expected: body.category }, "expected category set");
    sendJson(ctx.res, 200, machine);
  });

  router.on("POST", "/v1/expected", async (ctx) => {
    const body = await readBody(ctx.req, deps.bodyLimitBytes, BulkExpectRequest, "bulk expectation");
    const machineIds = await deps.store.setExpectedWhere(body.where, body.category, new Date());
    ctx.log.info(
      { where: body.where, expected: body.category, count: machineIds.length },
      "expected category set in bulk",
    );
    sendJson(ctx.res, 200, { machineIds });
  });

  router.on("GET", "/v1/differences", async (ctx) => {
    const list: DifferenceList = { differences: await deps.store.differences() };
    sendJson(ctx.res, 200, list);
  });

  router.on("GET", "/v1/machines/:id/queue", async (ctx) => {
    const id = await knownMachine(ctx.params.id);
    sendJson(ctx.res, 200, { commands: await deps.store.machineQueue(id) });
  });

  router.on("POST", "/v1/machines/:id/events", async (ctx) => {
    const id = await knownMachine(ctx.params.id);
    const event = await readBody(ctx.req, deps.bodyLimitBytes, AgentEvent, "agent event");
    const outcome = await deps.store.recordAgentEvent(id, event, new Date());
    if (outcome.kind === "refused")
      throw new ApiError("lease_refused", `event refused: ${outcome.reason}`, { reason: outcome.reason });
    const answer: AgentEventAccepted = { category: outcome.category };
    sendJson(ctx.res, 200, answer);
  });

  // The installed OS says it booted (its marker names the machine and this URL).
  router.on("POST", "/v1/machines/:id/callhome", async (ctx) => {
    const id = await knownMachine(ctx.params.id);
    const call = await readBody(ctx.req, deps.bodyLimitBytes, CallHome, "call home");
    const answer: CallHomeAccepted = await deps.store.recordCallHome(id, call, new Date());
    ctx.log.info({ machine: id, ...call, ...answer }, "installed OS called home");
    sendJson(ctx.res, 200, answer);
  });

  addImageRoutes(router, {
    store: deps.store,
    blobs: deps.blobs,
    fanout,
    uploads: new UploadService(deps.uploadsDir, deps.store.uploads, deps.store.images, deps.blobs),
    bodyLimitBytes: deps.bodyLimitBytes,
  });
  addPolicyRoutes(router, { store: deps.store, bodyLimitBytes: deps.bodyLimitBytes });
  addMaintenanceRoutes(router, {
    store: deps.store,
    service: deps.maintenance,
    bootAreas: new BootAreaFiles(deps.bootAreasDir),
    bodyLimitBytes: deps.bodyLimitBytes,
  });
  return router;
}
