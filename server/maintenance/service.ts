// The maintenance swap's orchestration (seeds 001, 004): start a run (operator, schedule, health rule),
// reboot the machine through its power driver or in band, restore after a failure, and the monitor's
// tick (deadlines, stalled active runs, due schedules). The store keeps the state; this does the I/O.
import type { Logger } from "pino";
import {
  imageBlobPath,
  type ImageRecord,
  type HealthAnswer,
  type HealthReport,
  type LeasedCommand,
  type MaintenanceAssignment,
  type MaintenanceRun,
  type MaintenanceStep,
  type MaintenanceTrigger,
  type Policy,
  type PowerResult,
} from "../../protocol/index.js";
import type { Services as Store } from "../services.js";
import type { RunOutcome } from "./runs.js";
import { parseStoredPolicy } from "../policy/stored-policy.js";
import type { VirtualMediaSource } from "../power/driver.js";
import { powerDriverFor } from "../power/drivers.js";
import { ejectVirtualMedia } from "../power/redfish.js";
import { nextCronTime, parseCron } from "./cron.js";
import { readHealth } from "./health-rules.js";

export interface MaintenanceSettings {
  /** A run's default deadline. */
  timeoutMs: number;
  /** Active runs report at least this often. */
  reportEveryMs: number;
  /** boot-installed's lease when the server reboots a machine back into its system. */
  callHomeMs: number;
  /** How often installed OSes report health. */
  healthReportMs: number;
  advertiseUrl: string;
  /** The rescue media a Redfish driver set to `boot: virtual-media` inserts. */
  virtualMedia?: VirtualMediaSource;
}

export interface StartRequest {
  image: string;
  mode: MaintenanceRun["mode"];
  timeoutMs?: number | undefined;
  steps: MaintenanceStep[];
}

/** A BMC or hypervisor that does not answer in this long has failed the reboot. */
const POWER_TIMEOUT_MS = 30_000;

/** A run is stalled when its report is this many intervals overdue. */
const STALL_INTERVALS = 3;

/** A maintenance image as a run-maintenance command names it: what it is and where its bytes are. */
export function assignedImage(image: ImageRecord, advertiseUrl: string): MaintenanceAssignment["image"] {
  return {
    name: image.name,
    sha256: image.sha256,
    purpose: image.purpose,
    sizeBytes: image.sizeBytes,
    url: `${advertiseUrl}${imageBlobPath(image.sha256)}`,
  };
}

export class MaintenanceService {
  constructor(
    private readonly store: Store,
    private readonly settings: MaintenanceSettings,
    private readonly log: Logger,
  ) {}

  get reportEveryMs(): number {
    return this.settings.reportEveryMs;
  }

  get stallMs(): number {
    return this.settings.reportEveryMs * STALL_INTERVALS;
  }

  /** Records the swap, then reboots the machine into the maintenance image. */
  async start(machineId: string, request: StartRequest, trigger: MaintenanceTrigger): Promise<RunOutcome> {
    const image = await this.store.images.find(request.image);
    if (!image) return { kind: "refused", reason: `image ${request.image} is not in the image store` };
    const outcome = await this.store.maintenance.start(
      machineId,
      {
        image,
        mode: request.mode,
        timeoutMs: request.timeoutMs ?? this.settings.timeoutMs,
        steps: request.steps,
        trigger,
      },
      new Date(),
    );
    if (outcome.kind !== "ok") return outcome;
    this.log.info(
      { machine: machineId, run: outcome.run.id, image: image.name, mode: request.mode, trigger },
      "maintenance started",
    );
    await this.reboot(outcome.run);
    return { kind: "ok", run: (await this.store.maintenance.run(outcome.run.id)) ?? outcome.run };
  }

  /**
   * Reboots the machine of a run through its power driver. Without one the installed OS's reporter is
   * told to reboot at its next report (in band), or an operator reboots it; the run's deadline applies.
   */
  private async reboot(run: MaintenanceRun): Promise<void> {
    const result = await this.powerCycle(run.machineId);
    if (result.driver === "none") {
      this.log.info(
        { machine: run.machineId, run: run.id },
        "no power driver: waiting for an in-band reboot",
      );
      return;
    }
    await this.store.maintenance.recordPower(run.id, {
      via: result.driver,
      at: new Date().toISOString(),
      ok: result.ok,
      error: result.error,
    });
  }

  /** One power cycle through the machine's driver (`bootwright power cycle`); never throws. */
  async powerCycle(machineId: string): Promise<PowerResult> {
    const settings = await this.store.settings.power(machineId);
    const driver = powerDriverFor(settings, this.settings.virtualMedia);
    if (!driver) return { driver: "none", ok: false, ms: 0, error: "the machine has no power driver" };
    const started = performance.now();
    try {
      await driver.cycle(AbortSignal.timeout(Math.max(POWER_TIMEOUT_MS, driver.timeoutMs ?? 0)));
      const ms = Math.round(performance.now() - started);
      this.log.info({ machine: machineId, driver: driver.name, ms }, "power cycled");
      if (settings.driver === "redfish" && settings.boot === "virtual-media")
        await this.store.appendLog(
          machineId,
          "virtual-media-inserted",
          { via: "redfish", url: this.settings.virtualMedia?.url ?? null },
          new Date(),
        );
      return { driver: driver.name, ok: true, ms, error: null };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.log.warn({ machine: machineId, driver: driver.name, error }, "power cycle failed");
      return { driver: driver.name, ok: false, ms: Math.round(performance.now() - started), error };
    }
  }

  /**
   * A machine that booted our rescue media from its BMC's virtual CD has enrolled: the media comes out, so
   * its next boot is its own disk's (or the network's). Never throws: the step log says what happened.
   */
  async ejectVirtualMedia(machineId: string): Promise<void> {
    const settings = await this.store.settings.power(machineId);
    if (settings.driver !== "redfish" || settings.boot !== "virtual-media") return;
    try {
      await ejectVirtualMedia(settings, AbortSignal.timeout(POWER_TIMEOUT_MS));
      await this.store.appendLog(machineId, "virtual-media-ejected", { via: "redfish" }, new Date());
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.log.warn({ machine: machineId, error }, "virtual media eject failed");
      await this.store.appendLog(
        machineId,
        "virtual-media-eject-failed",
        { via: "redfish", error },
        new Date(),
      );
    }
  }

  /**
   * Brings back the original system after a failed run: boot-installed is queued; with a power driver
   * the server leases it and reboots the machine, else the maintenance environment's loader does.
   */
  async restore(machineId: string): Promise<RunOutcome> {
    const outcome = await this.store.maintenance.restore(machineId, new Date());
    if (outcome.kind !== "ok") return outcome;
    this.log.info({ machine: machineId, run: outcome.run.id }, "maintenance restore");
    // The server reboots it only when it took the swap back itself: a live loader may have leased it first.
    const settings = await this.store.settings.power(machineId);
    if (
      powerDriverFor(settings, this.settings.virtualMedia) &&
      (await this.store.maintenance.leaseBootInstalled(machineId, new Date(), this.settings.callHomeMs))
    )
      await this.reboot(outcome.run);
    return { kind: "ok", run: (await this.store.maintenance.run(outcome.run.id)) ?? outcome.run };
  }

  /** What a leased run-maintenance command carries. */
  async assignment(machineId: string, command: LeasedCommand): Promise<MaintenanceAssignment> {
    const run = await this.store.maintenance.runForCommand(machineId, command.id);
    if (!run) throw new Error(`command ${command.id} of machine ${machineId} belongs to no maintenance run`);
    const image = await this.store.images.find(run.image.sha256);
    if (!image)
      throw new Error(`maintenance image ${run.image.name} (${run.image.sha256}) left the image store`);
    return {
      runId: run.id,
      mode: run.mode,
      image: assignedImage(image, this.settings.advertiseUrl),
      steps: run.steps,
      reportEveryMs: this.settings.reportEveryMs,
      deadlineAt: run.deadlineAt,
    };
  }

  /**
   * A health report: stored; a policy health rule that it puts beyond its threshold for the first time
   * starts maintenance (once); the answer tells the reporter when to report next and whether to reboot.
   */
  async health(machineId: string, report: HealthReport): Promise<HealthAnswer> {
    const machine = await this.store.getMachine(machineId);
    const policy = await this.currentPolicy();
    const readings = policy
      ? readHealth(policy, machine?.inventory ?? null, report.figures, {
          tags: machine?.tags ?? [],
        })
      : [];
    const crossed = await this.store.health.record(
      machineId,
      report,
      readings.map((r) => ({ rule: r.rule.name, beyond: r.beyond })),
      new Date(),
    );
    for (const name of crossed) {
      const reading = readings.find((r) => r.rule.name === name);
      if (!reading) continue;
      const { rule, value } = reading;
      const comparison = rule.below !== undefined ? "below" : "above";
      const trigger: MaintenanceTrigger = {
        kind: "health",
        rule: rule.name,
        figure: rule.figure,
        value,
        comparison,
        threshold: rule.below ?? rule.above ?? 0,
      };
      this.log.warn({ machine: machineId, ...trigger }, "health threshold crossed");
      const outcome = await this.start(
        machineId,
        {
          image: rule.maintenance.image,
          mode: rule.maintenance.mode,
          timeoutMs:
            rule.maintenance.timeoutMinutes === undefined
              ? undefined
              : rule.maintenance.timeoutMinutes * 60_000,
          steps: [],
        },
        trigger,
      );
      if (outcome.kind === "refused")
        this.log.warn(
          { machine: machineId, rule: rule.name, reason: outcome.reason },
          "health rule did not start maintenance",
        );
      break; // one run at a time
    }
    // A machine being released reboots into the loader, which erases its disks (issue 18).
    const releasing = (await this.store.getMachine(machineId))?.expected === "released";
    const reboot = releasing || (await this.store.maintenance.inBandReboot(machineId, new Date()));
    return { nextReportMs: this.settings.healthReportMs, action: reboot ? "reboot" : "none" };
  }

  /** The stored policy, parsed once per version: every installed machine reports, often. */
  private async currentPolicy(): Promise<Policy | undefined> {
    const stored = await this.store.getPolicy();
    if (!stored) return undefined;
    const parsed = parseStoredPolicy(stored);
    return parsed.ok ? parsed.policy : undefined;
  }

  /** The monitor: fail overdue runs, alert each failure once, fire due schedules. */
  async tick(now = new Date()): Promise<void> {
    for (const { run, reason } of await this.store.maintenance.sweep(now, this.stallMs))
      this.log.warn({ machine: run.machineId, run: run.id, reason }, "maintenance run overdue");
    for (const run of await this.store.maintenance.takeUnalerted(now))
      this.log.error(
        { machine: run.machineId, run: run.id, reason: run.error, original: run.original },
        "maintenance alert: run failed; the original target is recorded (bootwright maintenance restore)",
      );
    for (const schedule of await this.store.schedules.due(now)) {
      const image = await this.store.images.find(schedule.image);
      const next = schedule.cron === null ? null : nextCronTime(parseCron(schedule.cron), now).toISOString();
      const firing = await this.store.schedules.fire(
        schedule,
        image,
        next,
        { timeoutMs: this.settings.timeoutMs },
        now,
      );
      if (!firing) continue;
      this.log.info(
        { schedule: schedule.id, started: firing.started, skipped: firing.skipped, next },
        "maintenance schedule fired",
      );
      for (const runId of firing.started) {
        const run = await this.store.maintenance.run(runId);
        if (run) await this.reboot(run);
      }
    }
  }
}
