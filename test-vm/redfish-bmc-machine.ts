// What the stand-in Redfish BMC (test-vm/redfish-bmc.ts) does to the REAL QEMU VM behind it, through QMP:
// On = running; Off = paused (QMP stop) or shut down by its guest (-no-shutdown); a power-on or restart
// sets the next boot's order (boot_set, from the Boot override; SeaBIOS reads it at reset), applies the
// pending BIOS settings the way firmware does at POST, and resets; GracefulShutdown is the ACPI power
// button (system_powerdown), which only a guest OS honours; the virtual CD is the VM's IDE CD drive.
import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BiosValue } from "../protocol/index.js";
import { qmpExecute, type QmpCommand } from "../server/power/qmp.js";

const QMP_TIMEOUT_MS = 5_000;

/** QEMU's boot_set letters for the override targets. */
export const BOOT_LETTER: Readonly<Record<string, string>> = { Pxe: "n", Cd: "d", Hdd: "c" };

/** A request the BMC refuses: its HTTP status and the Redfish message it answers with. */
export class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly messageId: string,
    message: string,
  ) {
    super(message);
  }
}

export interface BmcMachineOptions {
  qmpSocket: string;
  /** Where fetched virtual-media images are kept. */
  workDir: string;
  /** The VM's firmware: BootMode reads as this and cannot change (QEMU picks firmware at start). */
  firmware: "Legacy" | "Uefi";
  /** The QEMU boot order when no override applies (the VM's own `-boot order=`). */
  defaultBootOrder: string;
}

export class BmcMachine {
  override = { target: "None", enabled: "Disabled" };
  current: Record<string, BiosValue>;
  pending: Record<string, BiosValue> = {};
  /** @Redfish.Settings.Time: when pending settings were last applied. */
  appliedAt: string | undefined;
  messages: { MessageId: string; Message: string }[] = [];
  media: { image: string | null; file: string | null } = { image: null, file: null };
  /** Each QMP command sent, in order ("system_reset", "human-monitor-command {…}"). */
  readonly sent: string[] = [];

  constructor(private readonly options: BmcMachineOptions) {
    // sushy-tools' default attributes, plus BootMode (the VM's firmware) and a read-only serial.
    this.current = {
      BootMode: options.firmware,
      ProcTurboMode: "Enabled",
      EmbeddedSata: "Raid",
      NicBoot1: "NetworkBoot",
      BootDelaySeconds: 0,
      SerialNumber: "VM0-0001",
    };
  }

  private qmp(commands: QmpCommand[]): Promise<unknown[]> {
    for (const c of commands)
      this.sent.push(typeof c === "string" ? c : `${c.execute} ${JSON.stringify(c.arguments)}`);
    return qmpExecute(this.options.qmpSocket, commands, AbortSignal.timeout(QMP_TIMEOUT_MS));
  }

  async powerState(): Promise<"On" | "Off"> {
    const [status] = await this.qmp(["query-status"]);
    return typeof status === "object" && status !== null && "running" in status && status.running === true
      ? "On"
      : "Off";
  }

  /** ComputerSystem.Reset. */
  async reset(type: unknown): Promise<void> {
    switch (type) {
      case "On":
        if ((await this.powerState()) === "Off") await this.boot();
        return;
      case "ForceOff":
        await this.qmp(["stop"]);
        return;
      case "GracefulShutdown":
        // The ACPI power button: only a guest OS that listens turns the VM off.
        await this.qmp(["system_powerdown"]);
        return;
      case "ForceRestart":
        await this.boot();
        return;
      default:
        throw new Refusal(
          400,
          "Base.1.8.ActionParameterNotSupported",
          `The parameter ResetType for the action ComputerSystem.Reset is not supported on the target resource: ${JSON.stringify(type)}.`,
        );
    }
  }

  /** VirtualMedia.InsertMedia, as sushy-tools does it: fetch the image to a file, give the VM's CD that file. */
  async insertMedia(image: unknown): Promise<void> {
    if (typeof image !== "string" || !/^https?:\/\//.test(image))
      throw new Refusal(
        400,
        "Base.1.8.ActionParameterValueFormatError",
        `The value ${JSON.stringify(image)} for the parameter Image in the action VirtualMedia.InsertMedia is of a different format than the parameter can accept.`,
      );
    // A real BMC sits on the machines' network; this one runs on the host, where the address QEMU's user
    // network gives the host (10.0.2.2) is loopback.
    const answer = await fetch(image.replace(/^(https?:\/\/)10\.0\.2\.2([:/])/, "$1127.0.0.1$2"));
    if (!answer.ok)
      throw new Refusal(
        400,
        "Base.1.8.ResourceAtUriUnauthorized",
        `While accessing the resource at ${image}, the service received HTTP ${answer.status}.`,
      );
    const file = join(this.options.workDir, `media-${randomUUID()}.iso`);
    writeFileSync(file, Buffer.from(await answer.arrayBuffer()));
    await this.qmp([
      {
        execute: "blockdev-change-medium",
        arguments: { device: "cd0", filename: file, format: "raw", "read-only-mode": "read-only" },
      },
    ]);
    this.media = { image, file };
  }

  async ejectMedia(): Promise<void> {
    await this.qmp([{ execute: "eject", arguments: { device: "cd0", force: true } }]);
    this.media = { image: null, file: null };
  }

  /** Power on or restart: the next boot's device (a Once override is used up), the BIOS, then the reset. */
  private async boot(): Promise<void> {
    const active = this.override.enabled !== "Disabled" ? BOOT_LETTER[this.override.target] : undefined;
    await this.qmp([
      {
        execute: "human-monitor-command",
        arguments: { "command-line": `boot_set ${active ?? this.options.defaultBootOrder}` },
      },
    ]);
    if (this.override.enabled === "Once") this.override = { target: "None", enabled: "Disabled" };
    this.applyPending();
    await this.qmp(["system_reset", "cont"]);
  }

  /** The firmware's work at a reset: pending BIOS settings applied, what cannot be said in Messages. */
  private applyPending(): void {
    if (Object.keys(this.pending).length === 0) return;
    this.messages = [];
    for (const [name, value] of Object.entries(this.pending)) {
      if (name === "BootMode" && value !== this.options.firmware) {
        // What this stand-in cannot do: QEMU's firmware (SeaBIOS or OVMF) is chosen when QEMU starts.
        this.messages.push({
          MessageId: "Bios.1.0.SettingNotApplied",
          Message: `BootMode cannot become ${String(value)}: this VM's firmware (${this.options.firmware}) is fixed when QEMU starts.`,
        });
        continue;
      }
      this.current[name] = value;
    }
    this.pending = {};
    this.appliedAt = new Date().toISOString();
  }
}
