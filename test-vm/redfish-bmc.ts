// A STAND-IN Redfish BMC for tests, in the spirit of OpenStack's sushy-tools emulator: no Redfish BMC
// can run here (sushy-tools is not packaged in Debian nor reachable, and there is no server hardware), so
// this is a real HTTPS server (a self-signed certificate made with openssl in a temp dir) speaking the
// subset of the DMTF Redfish schema the driver uses — service root, SessionService, Systems,
// ComputerSystem.Reset, the Boot override, Bios with its pending Settings and AttributeRegistry,
// Managers/VirtualMedia, and error bodies with @Message.ExtendedInfo — in front of a REAL QEMU VM driven
// through QMP (test-vm/redfish-bmc-machine.ts: power states, boot order, BIOS applied at reset, the CD).
// What it cannot emulate is said where it happens. Stopped by the test, always.
import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { BiosValue, RedfishSettings } from "../protocol/index.js";
import { certificatePin } from "../server/power/redfish-http.js";
import { BmcMachine, BOOT_LETTER, Refusal } from "./redfish-bmc-machine.js";

const SYSTEM = "/redfish/v1/Systems/vm0";
const MANAGER = "/redfish/v1/Managers/bmc0";
const CD = `${MANAGER}/VirtualMedia/Cd`;
const REGISTRY = "BiosAttributeRegistry.v1_0_0";

/** The stand-in's BIOS registry: sushy-tools' default attributes, BootMode, a read-only serial number. */
const REGISTRY_ATTRIBUTES = [
  { AttributeName: "BootMode", Type: "Enumeration", Value: [{ ValueName: "Uefi" }, { ValueName: "Legacy" }] },
  {
    AttributeName: "ProcTurboMode",
    Type: "Enumeration",
    Value: [{ ValueName: "Enabled" }, { ValueName: "Disabled" }],
  },
  {
    AttributeName: "EmbeddedSata",
    Type: "Enumeration",
    Value: [{ ValueName: "Ahci" }, { ValueName: "Raid" }],
  },
  {
    AttributeName: "NicBoot1",
    Type: "Enumeration",
    Value: [{ ValueName: "NetworkBoot" }, { ValueName: "Disabled" }],
  },
  { AttributeName: "BootDelaySeconds", Type: "Integer", LowerBound: 0, UpperBound: 30 },
  { AttributeName: "SerialNumber", Type: "String", ReadOnly: true },
];

export interface RedfishBmcOptions {
  /** The VM's QMP socket; the VM must run with `qemuArgs` (QMP, -no-shutdown, the virtual CD drive). */
  qmpSocket: string;
  /** false: a BMC without SessionService (Basic authentication on every request). */
  sessions?: boolean;
  /** false: a BMC that links no AttributeRegistry. */
  registry?: boolean;
  /** The QEMU boot order when no override applies (the VM's own `-boot order=`). */
  defaultBootOrder?: string;
  /** The VM's firmware: BootMode reads as this and cannot change (QEMU picks firmware at start). */
  firmware?: "Legacy" | "Uefi";
}

export interface BmcRequest {
  method: string;
  path: string;
  auth: "session" | "basic" | "none" | "refused";
}

export interface RedfishBmc {
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** sha256 of its certificate, as the driver pins it. */
  readonly pin: string;
  /** Its certificate (PEM), to act as an operator-given CA. */
  readonly certificatePem: string;
  /** What a machine's settings say to reach it (pinned). */
  readonly settings: RedfishSettings;
  /** QEMU arguments for the VM behind it. */
  readonly qemuArgs: string[];
  requests(): BmcRequest[];
  /** Sessions open now. */
  sessionCount(): number;
  /** Each QMP command it sent, in order ("system_reset", "boot_set n"…). */
  qmpLog(): string[];
  bios(): { current: Record<string, BiosValue>; pending: Record<string, BiosValue> };
  stop(): Promise<void>;
}

interface State {
  sessions: Map<string, string>;
  requests: BmcRequest[];
}

export async function startRedfishBmc(options: RedfishBmcOptions): Promise<RedfishBmc> {
  const dir = mkdtempSync(join(tmpdir(), "bootwright-redfish-bmc-"));
  // A BMC's usual certificate: self-signed, made on the BMC; here EC P-256, for 127.0.0.1.
  await promisify(execFile)(
    "openssl",
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"].concat(
      ["-keyout", "key.pem", "-out", "cert.pem", "-days", "30", "-subj", "/CN=bmc0"],
      ["-addext", "subjectAltName=IP:127.0.0.1"],
    ),
    { cwd: dir, timeout: 30_000 },
  );
  const cert = readFileSync(join(dir, "cert.pem"), "utf8");
  const username = "admin";
  const password = randomBytes(12).toString("base64url");
  const state: State = { sessions: new Map(), requests: [] };
  const machine = new BmcMachine({
    qmpSocket: options.qmpSocket,
    workDir: dir,
    firmware: options.firmware ?? "Legacy",
    defaultBootOrder: options.defaultBootOrder ?? "c",
  });

  const system = async (): Promise<unknown> => ({
    "@odata.id": SYSTEM,
    "@odata.type": "#ComputerSystem.v1_13_0.ComputerSystem",
    Id: "vm0",
    Name: "QEMU VM behind the stand-in BMC",
    PowerState: await machine.powerState(),
    Boot: {
      BootSourceOverrideTarget: machine.override.target,
      BootSourceOverrideEnabled: machine.override.enabled,
      "BootSourceOverrideTarget@Redfish.AllowableValues": ["None", "Pxe", "Cd", "Hdd"],
    },
    Bios: { "@odata.id": `${SYSTEM}/Bios` },
    Links: { ManagedBy: [{ "@odata.id": MANAGER }] },
    Actions: {
      "#ComputerSystem.Reset": {
        target: `${SYSTEM}/Actions/ComputerSystem.Reset`,
        "ResetType@Redfish.AllowableValues": ["On", "ForceOff", "GracefulShutdown", "ForceRestart"],
      },
    },
  });

  const route = async (
    method: string,
    path: string,
    body: Record<string, unknown>,
  ): Promise<[number, unknown, Record<string, string>?]> => {
    const key = `${method} ${path}`;
    if (key === "GET /redfish/v1" || key === "GET /redfish/v1/")
      return [
        200,
        {
          "@odata.id": "/redfish/v1",
          "@odata.type": "#ServiceRoot.v1_11_0.ServiceRoot",
          RedfishVersion: "1.11.0",
          Systems: { "@odata.id": "/redfish/v1/Systems" },
          Managers: { "@odata.id": "/redfish/v1/Managers" },
          ...(options.registry === false ? {} : { Registries: { "@odata.id": "/redfish/v1/Registries" } }),
          ...(options.sessions === false
            ? {}
            : {
                SessionService: { "@odata.id": "/redfish/v1/SessionService" },
                Links: { Sessions: { "@odata.id": "/redfish/v1/SessionService/Sessions" } },
              }),
        },
      ];
    if (key === "POST /redfish/v1/SessionService/Sessions" && options.sessions !== false) {
      if (body.UserName !== username || body.Password !== password)
        throw new Refusal(
          401,
          "Base.1.8.ResourceAtUriUnauthorized",
          "While accessing the resource at /redfish/v1/SessionService/Sessions, the service received an authorization error: invalid user name or password.",
        );
      const id = randomUUID();
      const token = randomBytes(24).toString("hex");
      state.sessions.set(token, id);
      const location = `/redfish/v1/SessionService/Sessions/${id}`;
      return [
        201,
        { "@odata.id": location, Id: id, UserName: username },
        { "x-auth-token": token, location },
      ];
    }
    const session = /^\/redfish\/v1\/SessionService\/Sessions\/([\w-]+)$/.exec(path)?.[1];
    if (method === "DELETE" && session) {
      for (const [token, id] of state.sessions) if (id === session) state.sessions.delete(token);
      return [204, undefined];
    }
    if (key === "GET /redfish/v1/Systems") return [200, { Members: [{ "@odata.id": SYSTEM }] }];
    if (key === `GET ${SYSTEM}`) return [200, await system()];
    if (key === `PATCH ${SYSTEM}`) {
      const patch = (body.Boot ?? {}) as Record<string, unknown>;
      const target = patch.BootSourceOverrideTarget ?? machine.override.target;
      const enabled = patch.BootSourceOverrideEnabled ?? machine.override.enabled;
      if (typeof target !== "string" || !(target === "None" || target in BOOT_LETTER))
        throw new Refusal(
          400,
          "Base.1.8.PropertyValueNotInList",
          `The value ${JSON.stringify(target)} for the property BootSourceOverrideTarget is not in the list of acceptable values.`,
        );
      if (typeof enabled !== "string" || !["Disabled", "Once", "Continuous"].includes(enabled))
        throw new Refusal(
          400,
          "Base.1.8.PropertyValueNotInList",
          `The value ${JSON.stringify(enabled)} for the property BootSourceOverrideEnabled is not in the list of acceptable values.`,
        );
      machine.override = { target, enabled };
      return [204, undefined];
    }
    if (key === `POST ${SYSTEM}/Actions/ComputerSystem.Reset`) {
      await machine.reset(body.ResetType);
      return [204, undefined];
    }
    if (key === `GET ${SYSTEM}/Bios`)
      return [
        200,
        {
          "@odata.id": `${SYSTEM}/Bios`,
          Attributes: machine.current,
          ...(options.registry === false ? {} : { AttributeRegistry: REGISTRY }),
          "@Redfish.Settings": {
            SettingsObject: { "@odata.id": `${SYSTEM}/Bios/Settings` },
            ...(machine.appliedAt ? { Time: machine.appliedAt } : {}),
            Messages: machine.messages,
          },
        },
      ];
    if (key === `GET ${SYSTEM}/Bios/Settings`)
      return [200, { "@odata.id": `${SYSTEM}/Bios/Settings`, Attributes: machine.pending }];
    if (key === `PATCH ${SYSTEM}/Bios/Settings`) {
      const attributes = (body.Attributes ?? {}) as Record<string, BiosValue>;
      for (const name of Object.keys(attributes))
        if (!(name in machine.current))
          throw new Refusal(
            400,
            "Base.1.8.PropertyUnknown",
            `The property ${name} is not in the list of valid properties for the resource.`,
          );
      machine.pending = { ...machine.pending, ...attributes };
      return [204, undefined];
    }
    if (key === "GET /redfish/v1/Registries")
      return [200, { Members: [{ "@odata.id": `/redfish/v1/Registries/${REGISTRY}` }] }];
    if (key === `GET /redfish/v1/Registries/${REGISTRY}`)
      return [
        200,
        {
          Id: REGISTRY,
          Registry: REGISTRY,
          Location: [{ Language: "en", Uri: `/redfish/v1/registrystore/${REGISTRY}.json` }],
        },
      ];
    if (key === `GET /redfish/v1/registrystore/${REGISTRY}.json`)
      return [200, { Id: REGISTRY, RegistryEntries: { Attributes: REGISTRY_ATTRIBUTES } }];
    if (key === `GET ${MANAGER}`)
      return [200, { "@odata.id": MANAGER, VirtualMedia: { "@odata.id": `${MANAGER}/VirtualMedia` } }];
    if (key === `GET ${MANAGER}/VirtualMedia`) return [200, { Members: [{ "@odata.id": CD }] }];
    if (key === `GET ${CD}`)
      return [
        200,
        {
          "@odata.id": CD,
          MediaTypes: ["CD", "DVD"],
          Inserted: machine.media.image !== null,
          Image: machine.media.image,
          Actions: {
            "#VirtualMedia.InsertMedia": { target: `${CD}/Actions/VirtualMedia.InsertMedia` },
            "#VirtualMedia.EjectMedia": { target: `${CD}/Actions/VirtualMedia.EjectMedia` },
          },
        },
      ];
    if (key === `POST ${CD}/Actions/VirtualMedia.InsertMedia`) {
      await machine.insertMedia(body.Image);
      return [204, undefined];
    }
    if (key === `POST ${CD}/Actions/VirtualMedia.EjectMedia`) {
      await machine.ejectMedia();
      return [204, undefined];
    }
    throw new Refusal(404, "Base.1.8.ResourceMissingAtURI", `The resource at the URI ${path} was not found.`);
  };

  const authOf = (request: IncomingMessage): BmcRequest["auth"] => {
    const token = request.headers["x-auth-token"];
    if (typeof token === "string") return state.sessions.has(token) ? "session" : "refused";
    const basic = request.headers.authorization;
    if (basic?.startsWith("Basic "))
      return Buffer.from(basic.slice(6), "base64").toString() === `${username}:${password}`
        ? "basic"
        : "refused";
    return "none";
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const method = request.method ?? "GET";
    const path = (request.url ?? "/").split("?")[0] ?? "/";
    const auth = authOf(request);
    state.requests.push({ method, path, auth });
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    let status: number;
    let body: unknown;
    let headers: Record<string, string> = {};
    try {
      // DSP0266 §13.3.1: the service root and the session login need no credentials; the rest does.
      const open =
        /^\/redfish\/v1\/?$/.test(path) ||
        (method === "POST" && path === "/redfish/v1/SessionService/Sessions");
      if (!open && (auth === "none" || auth === "refused"))
        throw new Refusal(
          401,
          "Base.1.8.NoValidSession",
          "There is no valid session established with the implementation.",
        );
      const text = Buffer.concat(chunks).toString("utf8");
      const parsed: unknown = text ? JSON.parse(text) : {};
      [status, body, headers = {}] = await route(method, path, (parsed ?? {}) as Record<string, unknown>);
    } catch (err) {
      const refusal =
        err instanceof Refusal
          ? err
          : new Refusal(
              500,
              "Base.1.8.InternalError",
              `The request failed due to an internal service error: ${String(err)}`,
            );
      status = refusal.status;
      body = {
        error: {
          code: refusal.messageId,
          message: "A general error has occurred. See ExtendedInfo for more information.",
          "@Message.ExtendedInfo": [
            {
              "@odata.type": "#Message.v1_1_1.Message",
              MessageId: refusal.messageId,
              Message: refusal.message,
              Severity: "Warning",
            },
          ],
        },
      };
    }
    response.writeHead(status, {
      ...headers,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      "odata-version": "4.0",
    });
    response.end(body === undefined ? undefined : JSON.stringify(body));
  };

  const server = createServer({ key: readFileSync(join(dir, "key.pem")), cert }, (request, response) => {
    void handle(request, response);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  const url = `https://127.0.0.1:${port}`;
  const pin = certificatePin(Buffer.from(cert.replace(/-----[A-Z ]+-----|\s/g, ""), "base64"));
  return {
    url,
    username,
    password,
    pin,
    certificatePem: cert,
    settings: {
      driver: "redfish",
      url,
      username,
      password,
      tls: { pin, firstUse: false },
      gracefulTimeoutMs: 5_000,
      boot: "pxe",
    },
    qemuArgs: [
      "-qmp",
      `unix:${options.qmpSocket},server=on,wait=off`,
      // Guest power-off leaves QEMU up and paused: the BMC reads Off and can power it on again.
      "-no-shutdown",
      "-drive",
      "if=none,id=cd0,media=cdrom,readonly=on",
      "-device",
      "ide-cd,drive=cd0,id=cd0dev",
    ],
    requests: () => [...state.requests],
    sessionCount: () => state.sessions.size,
    qmpLog: () => [...machine.sent],
    bios: () => ({ current: { ...machine.current }, pending: { ...machine.pending } }),
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
