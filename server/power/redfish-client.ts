// A Redfish client for one BMC and its ComputerSystem: a session (SessionService, X-Auth-Token) where the
// BMC offers one, else Basic credentials; the system found from the service root; reset, one-time boot
// override, power state, the Bios resource and its registry, and the virtual CD.
import { setTimeout as delay } from "node:timers/promises";
import type { BiosValue, RedfishSettings, RedfishTls } from "../../protocol/index.js";
import { PowerError } from "./driver.js";
import { RedfishHttp } from "./redfish-http.js";
import {
  AttributeRegistry,
  Bios,
  BiosSettings,
  Collection,
  ComputerSystem,
  Ignored,
  Manager,
  RegistryFile,
  ServiceRoot,
  VirtualMedia,
  type RegistryAttribute,
} from "./redfish-schema.js";

const SERVICE_ROOT = "/redfish/v1";
const POLL_MS = 500;

/** Boot.BootSourceOverrideTarget values the driver sets (DSP8010 ComputerSystem BootSource). */
export type BootTarget = "Pxe" | "Cd" | "Hdd";

/** What a client needs: the BMC, who to be, and how its certificate is trusted (always pinned or a CA). */
export interface RedfishLogin {
  url: string;
  username: string;
  password: string;
  tls: RedfishTls;
  system?: string | undefined;
}

/** The settings' login; throws when `power set` did not record how to trust the BMC. */
export function loginOf(settings: RedfishSettings): RedfishLogin {
  if (!settings.tls)
    throw new PowerError(`BMC ${settings.url}: no certificate pinned (power set again)`, {
      target: settings.url,
    });
  return { ...settings, tls: settings.tls };
}

export class RedfishClient {
  private session: string | undefined;

  private constructor(
    private readonly http: RedfishHttp,
    readonly root: ServiceRoot,
    /** The ComputerSystem's path (given, or the one member of the Systems collection). */
    readonly systemPath: string,
  ) {}

  get target(): string {
    return this.http.baseUrl;
  }

  /**
   * Logs in and finds the system. The service root is read without credentials (DSP0266 §13.3.1 serves it
   * to anyone); a session is made where the root links one, and closed by close(). Throws BmcRefused for a
   * wrong password, BmcCertificateMismatch for another certificate.
   */
  static async open(login: RedfishLogin, signal: AbortSignal): Promise<RedfishClient> {
    const http = new RedfishHttp(login.url, login.tls);
    try {
      const root = (await http.call("GET", SERVICE_ROOT, ServiceRoot, signal)).body;
      const sessions =
        root.Links?.Sessions?.["@odata.id"] ??
        (root.SessionService ? `${root.SessionService["@odata.id"]}/Sessions` : undefined);
      let session: string | undefined;
      if (sessions) {
        const answer = await http.call("POST", sessions, Ignored, signal, {
          UserName: login.username,
          Password: login.password,
        });
        const token = header(answer.headers, "x-auth-token");
        if (!token)
          throw new PowerError(`BMC ${login.url}: its session answer has no X-Auth-Token`, {
            target: login.url,
          });
        http.authenticate({ "x-auth-token": token });
        session = header(answer.headers, "location");
        if (session?.startsWith("http")) session = new URL(session).pathname;
      } else {
        http.authenticate({
          authorization: `Basic ${Buffer.from(`${login.username}:${login.password}`).toString("base64")}`,
        });
      }
      const client = new RedfishClient(http, root, login.system ?? (await onlySystem(http, root, signal)));
      client.session = session;
      return client;
    } catch (err) {
      await http.close();
      throw err;
    }
  }

  /** Ends the session (DELETE, so the BMC's few session slots are not held until they time out). */
  async close(): Promise<void> {
    try {
      if (this.session)
        await this.http.call("DELETE", this.session, Ignored, AbortSignal.timeout(10_000)).catch(() => {
          // The BMC ends idle sessions itself; a failed logout loses nothing.
        });
    } finally {
      this.session = undefined;
      await this.http.close();
    }
  }

  async system(signal: AbortSignal): Promise<ComputerSystem> {
    return (await this.http.call("GET", this.systemPath, ComputerSystem, signal)).body;
  }

  async powerState(signal: AbortSignal): Promise<string> {
    return (await this.system(signal)).PowerState ?? "Unknown";
  }

  /** The reset types the BMC accepts (all DSP8010 types when it does not say). */
  async resetTypes(signal: AbortSignal): Promise<string[]> {
    const action = (await this.system(signal)).Actions["#ComputerSystem.Reset"];
    return (
      action["ResetType@Redfish.AllowableValues"] ?? ["On", "ForceOff", "GracefulShutdown", "ForceRestart"]
    );
  }

  /** POST #ComputerSystem.Reset with this ResetType. */
  async reset(type: string, signal: AbortSignal): Promise<void> {
    const action = (await this.system(signal)).Actions["#ComputerSystem.Reset"];
    await this.http.call("POST", action.target, Ignored, signal, { ResetType: type });
  }

  /** Polls PowerState until it is `state`; false when `timeoutMs` passes first. */
  async waitForPowerState(state: "On" | "Off", timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if ((await this.powerState(signal)) === state) return true;
      if (performance.now() >= deadline) return false;
      await delay(POLL_MS, undefined, { signal });
    }
  }

  /** Boot from `target` at the next boot only; read back, since some BMCs accept and ignore a PATCH. */
  async bootOnce(target: BootTarget, signal: AbortSignal): Promise<void> {
    await this.http.call("PATCH", this.systemPath, Ignored, signal, {
      Boot: { BootSourceOverrideTarget: target, BootSourceOverrideEnabled: "Once" },
    });
    const boot = (await this.system(signal)).Boot;
    if (boot?.BootSourceOverrideTarget !== target || boot.BootSourceOverrideEnabled !== "Once")
      throw new PowerError(
        `BMC ${this.target}: boot override reads back ${String(boot?.BootSourceOverrideTarget)}/${String(boot?.BootSourceOverrideEnabled)}, not ${target}/Once`,
        { target: this.target, command: ["PATCH", this.systemPath] },
      );
  }

  async bios(signal: AbortSignal): Promise<Bios> {
    const link = (await this.system(signal)).Bios?.["@odata.id"];
    if (!link)
      throw new PowerError(`BMC ${this.target}: system ${this.systemPath} has no Bios resource`, {
        target: this.target,
      });
    return (await this.http.call("GET", link, Bios, signal)).body;
  }

  /** The attributes staged for the next reset (the SettingsObject), empty when none are. */
  async pendingBios(bios: Bios, signal: AbortSignal): Promise<Record<string, BiosValue | null>> {
    const settings = bios["@Redfish.Settings"]?.SettingsObject["@odata.id"];
    if (!settings) return {};
    return (await this.http.call("GET", settings, BiosSettings, signal)).body.Attributes ?? {};
  }

  /** Stages attributes: PATCH of the SettingsObject (DSP0266 §9.8.2), applied by the firmware at reset. */
  async stageBios(bios: Bios, attributes: Record<string, BiosValue>, signal: AbortSignal): Promise<string> {
    const settings = bios["@Redfish.Settings"]?.SettingsObject["@odata.id"];
    if (!settings)
      throw new PowerError(
        `BMC ${this.target}: its Bios resource has no @Redfish.Settings (no pending settings)`,
        {
          target: this.target,
        },
      );
    await this.http.call("PATCH", settings, Ignored, signal, { Attributes: attributes });
    return settings;
  }

  /** The Bios resource's AttributeRegistry entries; undefined when the BMC offers none. */
  async attributeRegistry(bios: Bios, signal: AbortSignal): Promise<RegistryAttribute[] | undefined> {
    const registries = this.root.Registries?.["@odata.id"];
    if (!bios.AttributeRegistry || !registries) return undefined;
    const files = (await this.http.call("GET", registries, Collection, signal)).body.Members;
    for (const member of files) {
      const file = (await this.http.call("GET", member["@odata.id"], RegistryFile, signal)).body;
      if (file.Id !== bios.AttributeRegistry && file.Registry !== bios.AttributeRegistry) continue;
      const uri = file.Location.find((location) => location.Uri?.startsWith("/"))?.Uri;
      if (!uri) return undefined;
      return (await this.http.call("GET", uri, AttributeRegistry, signal)).body.RegistryEntries.Attributes;
    }
    return undefined;
  }

  /** The virtual CD of the system's manager (MediaTypes CD or DVD). */
  async virtualCd(signal: AbortSignal): Promise<VirtualMedia> {
    const managers = (await this.system(signal)).Links?.ManagedBy ?? [];
    for (const manager of managers) {
      const media = (await this.http.call("GET", manager["@odata.id"], Manager, signal)).body.VirtualMedia;
      if (!media) continue;
      for (const member of (await this.http.call("GET", media["@odata.id"], Collection, signal)).body
        .Members) {
        const device = (await this.http.call("GET", member["@odata.id"], VirtualMedia, signal)).body;
        if (device.MediaTypes?.some((type) => type === "CD" || type === "DVD")) return device;
      }
    }
    throw new PowerError(`BMC ${this.target}: no virtual CD on the managers of ${this.systemPath}`, {
      target: this.target,
    });
  }

  /** VirtualMedia.InsertMedia: the BMC fetches `imageUrl` itself and shows it as the system's CD. */
  async insertMedia(imageUrl: string, signal: AbortSignal): Promise<void> {
    const cd = await this.virtualCd(signal);
    const action = cd.Actions?.["#VirtualMedia.InsertMedia"];
    if (!action)
      throw new PowerError(`BMC ${this.target}: its virtual CD has no InsertMedia`, { target: this.target });
    await this.http.call("POST", action.target, Ignored, signal, {
      Image: imageUrl,
      Inserted: true,
      WriteProtected: true,
    });
  }

  async ejectMedia(signal: AbortSignal): Promise<void> {
    const cd = await this.virtualCd(signal);
    const action = cd.Actions?.["#VirtualMedia.EjectMedia"];
    if (!action)
      throw new PowerError(`BMC ${this.target}: its virtual CD has no EjectMedia`, { target: this.target });
    await this.http.call("POST", action.target, Ignored, signal, {});
  }
}

/** Opens a client, runs `work`, and always closes the session. */
export async function withRedfish<T>(
  login: RedfishLogin,
  signal: AbortSignal,
  work: (client: RedfishClient) => Promise<T>,
): Promise<T> {
  const client = await RedfishClient.open(login, signal);
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

/** The Systems collection's one member; a BMC of several systems (a blade chassis) must be told which. */
async function onlySystem(http: RedfishHttp, root: ServiceRoot, signal: AbortSignal): Promise<string> {
  const systems = root.Systems?.["@odata.id"];
  if (!systems)
    throw new PowerError(`BMC ${http.baseUrl}: its service root links no Systems`, { target: http.baseUrl });
  const members = (await http.call("GET", systems, Collection, signal)).body.Members;
  const [only, ...more] = members;
  if (!only || more.length > 0)
    throw new PowerError(
      `BMC ${http.baseUrl} has ${members.length} systems (${members.map((m) => m["@odata.id"]).join(", ") || "none"}): name one with --system`,
      { target: http.baseUrl },
    );
  return only["@odata.id"];
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
