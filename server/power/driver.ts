// A power driver reboots one machine from the server (seed 001: the reboot "initiated over the
// network"): QEMU's QMP for VMs, IPMI or Redfish for BMCs. Each is a small class behind this one interface.
import { BootwrightError, type FailureContext } from "../../protocol/index.js";

export interface PowerDriver {
  /** "qmp", "ipmi", "redfish": how the step log names it. */
  readonly name: string;
  /** How long a cycle may take, when longer than the server's default (a graceful shutdown's wait). */
  readonly timeoutMs?: number;
  /**
   * Reboots the machine so it asks the network what to boot (powers it on when it is off). Resolves
   * once the BMC or hypervisor accepted the request; throws an error that says what failed.
   */
  cycle(signal: AbortSignal): Promise<void>;
  /** Powers the machine off (a factory unit that passed the station); resolves once it was accepted. */
  off(signal: AbortSignal): Promise<void>;
}

/** The rescue media a driver can boot a machine from (a BMC's virtual CD fetches it at `url`). */
export interface VirtualMediaSource {
  url: string;
  /** Builds the ISO when it is not there yet; the BMC must not wait on a build mid-request. */
  prepare(): Promise<unknown>;
}

export class PowerError extends BootwrightError<"power_failed"> {
  constructor(message: string, context: FailureContext<"power_failed">, options?: ErrorOptions) {
    super("power_failed", message, context, options);
  }
}
