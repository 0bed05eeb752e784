// The maintenance swap's state as the server's callers use it (routes, the service's I/O, the
// monitor): each call one transaction over the store, the behaviour in runs.ts, schedule-firing.ts and
// health-latches.ts.
import type { SecretBox } from "../auth/secret-box.js";
import type {
  BootAreaRecord,
  HealthReport,
  ImageRecord,
  MaintenanceProgress,
  MaintenanceRun,
  MaintenanceSchedule,
  PowerSettings,
  StoredHealthReport,
} from "../../protocol/index.js";
import type { Store } from "../db/rows.js";
import { recordHealth, type RuleReading } from "./health-latches.js";
import {
  addRunStep,
  inBandReboot,
  leaseBootInstalled,
  recordPower,
  restoreRun,
  runProgress,
  startRun,
  sweepRuns,
  takeUnalerted,
  type ProgressOutcome,
  type RunOutcome,
  type StartRequest,
  type SweptRun,
} from "./runs.js";
import { addSchedule, fireSchedule, type Firing, type NewSchedule } from "./schedule-firing.js";

export interface MaintenanceState {
  start(machineId: string, request: StartRequest, when: Date): Promise<RunOutcome>;
  runs(machineId?: string): Promise<MaintenanceRun[]>;
  run(runId: string): Promise<MaintenanceRun | undefined>;
  /** The run a leased run-maintenance command belongs to. */
  runForCommand(machineId: string, commandId: string): Promise<MaintenanceRun | undefined>;
  recordPower(runId: string, action: MaintenanceRun["power"][number]): Promise<void>;
  inBandReboot(machineId: string, when: Date): Promise<boolean>;
  progress(machineId: string, progress: MaintenanceProgress, when: Date): Promise<ProgressOutcome>;
  addStep(machineId: string, step: MaintenanceRun["steps"][number], when: Date): Promise<RunOutcome>;
  restore(machineId: string, when: Date): Promise<RunOutcome>;
  leaseBootInstalled(machineId: string, when: Date, leaseMs: number): Promise<boolean>;
  sweep(when: Date, stallMs: number): Promise<SweptRun[]>;
  takeUnalerted(when: Date): Promise<MaintenanceRun[]>;
}

export interface ScheduleState {
  add(schedule: NewSchedule, when: Date): Promise<MaintenanceSchedule>;
  list(): Promise<MaintenanceSchedule[]>;
  remove(id: string): Promise<boolean>;
  due(when: Date): Promise<MaintenanceSchedule[]>;
  fire(
    schedule: MaintenanceSchedule,
    image: ImageRecord | undefined,
    nextFireAt: string | null,
    defaults: { timeoutMs: number },
    when: Date,
  ): Promise<Firing | undefined>;
}

export interface HealthState {
  record(
    machineId: string,
    report: HealthReport,
    readings: readonly RuleReading[],
    when: Date,
  ): Promise<string[]>;
  history(machineId: string, limit?: number): Promise<StoredHealthReport[]>;
}

/** Per-machine settings the swap needs: the power driver, and the boot area recorded at install. */
export interface MachineSettings {
  setPower(machineId: string, settings: PowerSettings): Promise<boolean>;
  power(machineId: string): Promise<PowerSettings>;
  putBootArea(machineId: string, record: BootAreaRecord): Promise<void>;
  bootArea(machineId: string): Promise<BootAreaRecord | undefined>;
}

export function maintenanceState(store: Store): MaintenanceState {
  const tx = store.transaction.bind(store);
  return {
    start: (machineId, request, when) =>
      tx(async (rows) => {
        await rows.machines.lock(machineId);
        return startRun(rows, machineId, request, when);
      }),
    runs: (machineId) => store.read((rows) => rows.runs.list(machineId)),
    run: (runId) => store.read((rows) => rows.runs.get(runId)),
    runForCommand: (machineId, commandId) => store.read((rows) => rows.runs.ofCommand(machineId, commandId)),
    recordPower: (runId, action) => tx((rows) => recordPower(rows, runId, action)),
    inBandReboot: (machineId, when) => tx((rows) => inBandReboot(rows, machineId, when)),
    progress: (machineId, progress, when) => tx((rows) => runProgress(rows, machineId, progress, when)),
    addStep: (machineId, step, when) => tx((rows) => addRunStep(rows, machineId, step, when)),
    restore: (machineId, when) =>
      tx(async (rows) => {
        await rows.machines.lock(machineId);
        return restoreRun(rows, machineId, when);
      }),
    leaseBootInstalled: (machineId, when, leaseMs) =>
      tx(async (rows) => {
        await rows.machines.lock(machineId);
        return leaseBootInstalled(rows, machineId, when, leaseMs);
      }),
    sweep: (when, stallMs) => tx((rows) => sweepRuns(rows, when, stallMs)),
    takeUnalerted: (when) => tx((rows) => takeUnalerted(rows, when)),
  };
}

export function scheduleState(store: Store): ScheduleState {
  const tx = store.transaction.bind(store);
  return {
    add: (schedule, when) => tx((rows) => addSchedule(rows, schedule, when)),
    list: () => store.read((rows) => rows.schedules.list()),
    remove: (id) => tx((rows) => rows.schedules.remove(id)),
    due: (when) => store.read((rows) => rows.schedules.due(when.toISOString())),
    fire: (schedule, image, nextFireAt, defaults, when) =>
      tx((rows) => fireSchedule(rows, schedule, image, nextFireAt, defaults, when)),
  };
}

export function healthState(store: Store): HealthState {
  const tx = store.transaction.bind(store);
  return {
    record: (machineId, report, readings, when) =>
      tx((rows) => recordHealth(rows, machineId, report, readings, when)),
    history: (machineId, limit = 50) => store.read((rows) => rows.health.history(machineId, limit)),
  };
}

/** The power settings as stored: a BMC's password sealed (server/auth/secret-box.ts), never in clear. */
function sealPower(settings: PowerSettings, secrets: SecretBox): PowerSettings {
  return settings.driver === "ipmi" || settings.driver === "redfish"
    ? { ...settings, password: secrets.seal(settings.password) }
    : settings;
}

function openPower(settings: PowerSettings, secrets: SecretBox): PowerSettings {
  return settings.driver === "ipmi" || settings.driver === "redfish"
    ? { ...settings, password: secrets.open(settings.password) }
    : settings;
}

export function machineSettings(store: Store, secrets: SecretBox): MachineSettings {
  const tx = store.transaction.bind(store);
  return {
    setPower: (machineId, settings) =>
      tx((rows) => rows.machines.setPower(machineId, sealPower(settings, secrets))),
    power: async (machineId) =>
      openPower(await store.read((rows) => rows.machines.power(machineId)), secrets),
    putBootArea: (machineId, record) => tx((rows) => rows.bootAreas.put(machineId, record)),
    bootArea: (machineId) => store.read((rows) => rows.bootAreas.get(machineId)),
  };
}
