// Power control of a machine through its BMC over Redfish: a one-time boot override to PXE (or to the
// virtual CD holding our rescue media), then the machine powered off (gracefully first, forced after the
// machine's timeout) and on again, each step's power state read back from the BMC.
import type { RedfishSettings } from "../../protocol/index.js";
import type { PowerDriver, VirtualMediaSource } from "./driver.js";
import { PowerError } from "./driver.js";
import { loginOf, withRedfish, type BootTarget, type RedfishClient } from "./redfish-client.js";

/** How long a BMC may take to report the state a forced action or power-on asked for. */
const SETTLE_MS = 30_000;

/** How a machine went off: it was already, its OS shut down (ACPI), or the BMC forced it. */
export type PowerOffOutcome = "already-off" | "graceful" | "forced";

/**
 * Powers the system off: GracefulShutdown (the OS's own shutdown, through ACPI) and, when the power
 * state is not Off within `gracefulMs`, ForceOff (ForceRestart is not an off: a BMC offering neither
 * cannot power off). Reads the state back after each action.
 */
export async function powerOff(
  client: RedfishClient,
  gracefulMs: number,
  signal: AbortSignal,
): Promise<PowerOffOutcome> {
  if ((await client.powerState(signal)) === "Off") return "already-off";
  const types = await client.resetTypes(signal);
  if (gracefulMs > 0 && types.includes("GracefulShutdown")) {
    await client.reset("GracefulShutdown", signal);
    if (await client.waitForPowerState("Off", gracefulMs, signal)) return "graceful";
  }
  await client.reset("ForceOff", signal);
  await expectState(client, "Off", "ForceOff", signal);
  return "forced";
}

/** Powers the system on and reads back that it is On. */
export async function powerOn(client: RedfishClient, signal: AbortSignal): Promise<void> {
  await client.reset("On", signal);
  await expectState(client, "On", "On", signal);
}

/**
 * Boots the system afresh from `target` (once): the override first, so the boot that follows uses it,
 * then off and on. Not GracefulRestart: a restart's end cannot be seen (PowerState reads On before and
 * after), so neither could a timeout; a shutdown's can.
 */
export async function restartInto(
  client: RedfishClient,
  target: BootTarget,
  gracefulMs: number,
  signal: AbortSignal,
): Promise<PowerOffOutcome> {
  await client.bootOnce(target, signal);
  const off = await powerOff(client, gracefulMs, signal);
  await powerOn(client, signal);
  return off;
}

async function expectState(
  client: RedfishClient,
  state: "On" | "Off",
  action: string,
  signal: AbortSignal,
): Promise<void> {
  if (await client.waitForPowerState(state, SETTLE_MS, signal)) return;
  throw new PowerError(
    `BMC ${client.target}: ${action} accepted but ${client.systemPath} still reads ${await client.powerState(signal)} after ${SETTLE_MS / 1000} s`,
    { target: client.target, command: ["POST", `${client.systemPath} Reset ${action}`] },
  );
}

export class RedfishPowerDriver implements PowerDriver {
  readonly name = "redfish";
  /** The graceful wait, then the forced off, the power on and their read-backs. */
  readonly timeoutMs: number;

  constructor(
    private readonly settings: RedfishSettings,
    private readonly media?: VirtualMediaSource,
  ) {
    this.timeoutMs = settings.gracefulTimeoutMs + 3 * SETTLE_MS;
  }

  async cycle(signal: AbortSignal): Promise<void> {
    if (this.settings.boot === "pxe") {
      await withRedfish(loginOf(this.settings), signal, (client) =>
        restartInto(client, "Pxe", this.settings.gracefulTimeoutMs, signal),
      );
      return;
    }
    const media = this.media;
    if (!media)
      throw new PowerError("this machine boots virtual media, but the server has no rescue media to offer", {
        target: this.settings.url,
      });
    await media.prepare();
    // Inserted before the override and the reset: the BMC fetches the image itself, at its own pace.
    await withRedfish(loginOf(this.settings), signal, async (client) => {
      await client.insertMedia(media.url, signal);
      await restartInto(client, "Cd", this.settings.gracefulTimeoutMs, signal);
    });
  }

  async off(signal: AbortSignal): Promise<void> {
    await withRedfish(loginOf(this.settings), signal, async (client) => {
      await powerOff(client, this.settings.gracefulTimeoutMs, signal);
    });
  }
}

/** Takes our rescue media out of the machine's virtual CD (once it has enrolled: the next boot is its own). */
export async function ejectVirtualMedia(settings: RedfishSettings, signal: AbortSignal): Promise<void> {
  await withRedfish(loginOf(settings), signal, (client) => client.ejectMedia(signal));
}
