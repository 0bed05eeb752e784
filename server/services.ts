// The server's operations on its state, each one transaction over the store: what the routes, the
// maintenance service, the schedulers and the tests call. The behaviour lives in the folders named for
// what they decide (queue/, policy/, maintenance/, images/); the store underneath holds rows only.
import { missingDrivers } from "./drivers/device-report.js";
import type {
  AgentEvent,
  BiosValue,
  BootEvent,
  BootCategory,
  CallHome,
  CallHomeAccepted,
  CommandKind,
  CommandResult,
  Difference,
  Drift,
  DriverDifference,
  EnrollmentDifference,
  EraseMode,
  Inventory,
  Machine,
  MachineSummary,
  PolicyDryRun,
  PolicyFormat,
  QueuedCommand,
  Replan,
  SharedUuid,
  StoredPolicy,
} from "../protocol/index.js";
import type { LogEntry, Rows, Store } from "./db/rows.js";
import { imageCatalog, uploadCatalog, type ImageCatalog, type UploadCatalog } from "./images/catalog.js";
import {
  healthState,
  machineSettings,
  maintenanceState,
  scheduleState,
  type HealthState,
  type MachineSettings,
  type MaintenanceState,
  type ScheduleState,
} from "./maintenance/state.js";
import { issueLoaderCredential } from "./auth/machine-credentials.js";
import { SecretBox } from "./auth/secret-box.js";
import { recordCallHome } from "./queue/call-home.js";
import { recordBootRequest, type BootAnswer, type BootRequest } from "./queue/enrollment.js";
import { approveMachines } from "./enrollment/approve.js";
import { enrollInventory, type EnrollmentOutcome } from "./enrollment/enroll.js";
import { expireLeasesDue, leaseNext, type LeaseOutcome } from "./queue/leases.js";
import {
  changePolicy,
  currentDrift,
  dryRunPolicy,
  reinstallWithNewPlan,
  type ReinstallOutcome,
} from "./policy/policy-change.js";
import { setExpected } from "./queue/reconcile.js";
import { planFromPolicy } from "./policy/planning.js";
import { releaseMachine } from "./queue/release.js";
import { reconcile, type LeaseDurations } from "./queue/reconciler.js";
import {
  completeCommand,
  recordAgentEvent,
  type CompleteOutcome,
  type EventOutcome,
} from "./queue/results.js";
import { mustGet } from "./queue/steps.js";
import { matchesWhere, type Where } from "./selector.js";
import { machineLifecycle, type MachineLifecycle } from "./lifecycle/service.js";

export type { BootAnswer, BootRequest, CompleteOutcome, EventOutcome, LogEntry };

export type InventoryOutcome =
  | (Extract<EnrollmentOutcome, { kind: "enrolled" }> & { credential: string })
  | Extract<EnrollmentOutcome, { kind: "refused" }>;

export class Services {
  readonly images: ImageCatalog;
  readonly uploads: UploadCatalog;
  /** Maintenance swaps (seeds 001, 004): runs, schedules, health reports, power and boot-area settings. */
  readonly maintenance: MaintenanceState;
  readonly schedules: ScheduleState;
  readonly health: HealthState;
  readonly settings: MachineSettings;
  /** Retire, delete, tags and notes (issue 18). */
  readonly lifecycle: MachineLifecycle;

  /**
   * `secrets` seals drivers' secrets before they are stored: the data directory's key in a server
   * (server.ts); a key of the process's own elsewhere (tests, tools that store none).
   */
  constructor(
    readonly store: Store,
    options: { secrets?: SecretBox } = {},
  ) {
    this.images = imageCatalog(store);
    this.uploads = uploadCatalog(store);
    this.maintenance = maintenanceState(store);
    this.schedules = scheduleState(store);
    this.health = healthState(store);
    this.settings = machineSettings(store, options.secrets ?? SecretBox.ephemeral());
    this.lifecycle = machineLifecycle(store);
  }

  /** iPXE asked for a machine's script: enroll it as `discovered` if new, else note it was seen. */
  recordBootRequest(request: BootRequest): Promise<BootAnswer> {
    return this.store.transaction((rows) => recordBootRequest(rows, request));
  }

  /**
   * The loader posted an inventory: enroll (if booted without iPXE) or update, with a new credential;
   * or the reason it waits (approval, a held re-enrollment), with none issued and none revoked.
   */
  recordInventory(inventory: Inventory, at: Date): Promise<InventoryOutcome> {
    return this.store.transaction(async (rows) => {
      const outcome = await enrollInventory(rows, inventory, at);
      if (outcome.kind === "refused") return outcome;
      const credential = await issueLoaderCredential(rows, outcome.machine.id, at.toISOString());
      return { ...outcome, credential };
    });
  }

  /** An operator approves machines' enrollment: their next inventory enrolls them (server/enrollment/approve.ts). */
  approve(target: { ids: readonly string[] } | { where: Where }, when: Date): Promise<string[]> {
    return this.store.transaction((rows) => approveMachines(rows, target, when.toISOString()));
  }

  /** One shared UUID's record (the machines it was first seen on), if it is one. */
  sharedUuid(uuid: string): Promise<SharedUuid | undefined> {
    return this.store.read((rows) => rows.sharedUuids.get(uuid));
  }

  /** SMBIOS UUIDs seen on several machines, which identify none. */
  sharedUuids(): Promise<SharedUuid[]> {
    return this.store.read((rows) => rows.sharedUuids.list());
  }

  /** One line of the boot log (a DHCP exchange, a TFTP transfer, an HTTP boot request). */
  appendBootEvent(event: Omit<BootEvent, "seq">): Promise<void> {
    return this.store.transaction((rows) => rows.bootEvents.append(event));
  }

  /** The boot log, oldest first: the newest `limit` events, of one MAC or of all. */
  bootLog(query: { mac?: string; limit: number; afterSeq?: number }): Promise<BootEvent[]> {
    return this.store.read((rows) => rows.bootEvents.list(query));
  }

  /** Forgets boot events from before `at`; how many went. */
  pruneBootLog(at: Date): Promise<number> {
    return this.store.transaction((rows) => rows.bootEvents.prune(at.toISOString()));
  }

  listMachines(): Promise<Machine[]> {
    return this.store.read((rows) => rows.machines.list());
  }

  /** Every machine as the boot list shows it (its inventory's system fields only). */
  bootList(): Promise<MachineSummary[]> {
    return this.store.read((rows) => rows.machines.summaries());
  }

  getMachine(id: string): Promise<Machine | undefined> {
    return this.store.read((rows) => rows.machines.get(id));
  }

  /**
   * The BIOS attributes a machine should have: its stored plan's, or, before it is planned, what the
   * stored policy gives it now (the rule named in `from`); undefined when neither has any.
   */
  biosAttributes(id: string): Promise<{ attributes: Record<string, BiosValue>; from: string } | undefined> {
    return this.store.read(async (rows) => {
      const machine = await rows.machines.get(id);
      if (!machine) return undefined;
      if (machine.plan) {
        const attributes = machine.plan.plan.bios?.attributes;
        return attributes ? { attributes, from: `plan ${machine.plan.planHash}` } : undefined;
      }
      const resolved = await planFromPolicy(rows, machine);
      const attributes = resolved.ok ? resolved.plan.plan.bios?.attributes : undefined;
      return resolved.ok && attributes
        ? { attributes, from: `policy version ${resolved.policyVersion}, rule ${resolved.plan.rule}` }
        : undefined;
    });
  }

  /** One step-log line written by a service acting outside the queue (a BMC's BIOS settings). */
  async appendLog(id: string, event: string, data: Record<string, unknown>, when: Date): Promise<void> {
    await this.store.transaction((rows) => rows.log.append(id, when.toISOString(), event, data));
  }

  machineLog(id: string): Promise<LogEntry[]> {
    return this.store.read((rows) => rows.log.forMachine(id));
  }

  /** Sets (or clears, with null) what a machine is expected to be, and queues the commands that close the gap. */
  setExpected(id: string, expected: BootCategory | null, when: Date): Promise<Machine | undefined> {
    return this.store.transaction(async (rows) => {
      const machine = await rows.machines.lock(id);
      if (machine === undefined || machine === "busy") return undefined;
      return setExpected(rows, machine, expected, when.toISOString());
    });
  }

  /** The same for every machine matching `where`; returns their ids. */
  setExpectedWhere(where: Where, expected: BootCategory | null, when: Date): Promise<string[]> {
    return this.changeWhere(where, async (rows, machine) => {
      await setExpected(rows, machine, expected, when.toISOString());
    });
  }

  /** Applies `change` to every machine matching `where`, in id order, in one transaction; their ids. */
  private changeWhere(
    where: Where,
    change: (rows: Rows, machine: Machine) => Promise<void>,
  ): Promise<string[]> {
    return this.store.transaction(async (rows) => {
      const matching = (await rows.machines.list())
        .filter((machine) => matchesWhere(machine, where))
        .sort((a, b) => (a.id < b.id ? -1 : 1));
      for (const { id } of matching) {
        await rows.machines.lock(id);
        await change(rows, await mustGet(rows, id));
      }
      return matching.map((machine) => machine.id);
    });
  }

  /** Releases a machine: its disks erased (`erase`), then it waits in the loader as `released`. */
  release(id: string, erase: EraseMode, when: Date): Promise<Machine | undefined> {
    return this.store.transaction(async (rows) => {
      const machine = await rows.machines.lock(id);
      if (machine === undefined || machine === "busy") return undefined;
      await releaseMachine(rows, machine, erase, when.toISOString());
      return mustGet(rows, id);
    });
  }

  /** The same for every machine matching `where`; returns their ids. */
  releaseWhere(where: Where, erase: EraseMode, when: Date): Promise<string[]> {
    return this.changeWhere(where, (rows, machine) =>
      releaseMachine(rows, machine, erase, when.toISOString()),
    );
  }

  /** The difference list (the pure reconciler over the machines with an expectation). */
  differences(): Promise<Difference[]> {
    return this.store.read(async (rows) => reconcile(await rows.machines.withExpected()));
  }

  /** The machines whose enrollment waits or whose UUID proved shared: the difference list's second part. */
  enrollmentDifferences(): Promise<EnrollmentDifference[]> {
    return this.store.read(async (rows) =>
      (await rows.machines.summaries())
        .filter(
          (m) =>
            m.enrollment.state === "awaiting-approval" ||
            m.enrollment.state === "held" ||
            m.enrollment.sharedUuid !== null,
        )
        .map((m) => ({
          machineId: m.id,
          state: m.enrollment.state,
          reason: m.enrollment.reason,
          sharedUuid: m.enrollment.sharedUuid,
        })),
    );
  }

  /** Machines with a storage or network controller no driver claims: the difference list's drivers part. */
  driverDifferences(): Promise<DriverDifference[]> {
    return this.store.read(async (rows) =>
      (await rows.machines.list()).flatMap((machine) => {
        const devices = missingDrivers(machine.id, machine.inventory);
        return devices.length ? [{ machineId: machine.id, devices }] : [];
      }),
    );
  }

  /** A machine's commands, oldest first (all states). */
  machineQueue(id: string): Promise<QueuedCommand[]> {
    return this.store.read(async (rows) =>
      (await rows.commands.all(id)).map((command) => ({
        id: command.id,
        machineId: command.machineId,
        kind: command.kind,
        state: command.state,
        onSuccess: command.onSuccess,
        attempts: command.attempts,
        leaseExpiresAt: command.leaseExpiresAt,
        createdAt: command.createdAt,
        updatedAt: command.updatedAt,
        error: command.error,
      })),
    );
  }

  /** The machine's next command, leased; "wait" when there is nothing to run now; or no such machine. */
  leaseNext(id: string, when: Date, durations: LeaseDurations): Promise<LeaseOutcome> {
    return this.store.transaction((rows) => leaseNext(rows, id, when, durations));
  }

  /** The sweep over leases that ran out on machines that are not asking; returns the machines touched. */
  expireLeasesDue(when: Date): Promise<string[]> {
    return this.store.transaction((rows) => expireLeasesDue(rows, when));
  }

  /**
   * Applies a command's result once; a retried post is a duplicate; a stale lease is refused. With
   * `leaseAfter`, the machine's next command is leased in the same transaction (none twice).
   */
  completeCommand(
    id: string,
    commandId: string,
    result: CommandResult,
    when: Date,
    leaseAfter?: LeaseDurations,
  ): Promise<CompleteOutcome> {
    return this.store.transaction((rows) => completeCommand(rows, id, commandId, result, when, leaseAfter));
  }

  /** Machines with a queued or leased command of this kind. */
  machinesWithPending(kind: CommandKind): Promise<string[]> {
    return this.store.read((rows) => rows.commands.machinesWithPending(kind));
  }

  recordAgentEvent(id: string, event: AgentEvent, when: Date): Promise<EventOutcome> {
    return this.store.transaction((rows) => recordAgentEvent(rows, id, event, when));
  }

  recordCallHome(id: string, call: CallHome, when: Date): Promise<CallHomeAccepted> {
    return this.store.transaction((rows) => recordCallHome(rows, id, call, when));
  }

  /** The current policy's text, or undefined before one is set. */
  getPolicy(): Promise<StoredPolicy | undefined> {
    return this.store.read((rows) => rows.policy.get());
  }

  /**
   * Replaces the policy (the caller has validated it); the version goes up by one, and machines that
   * have not started installing are re-planned in the same transaction (server/policy/policy-change.ts).
   */
  async setPolicy(source: string, format: PolicyFormat, when: Date): Promise<StoredPolicy> {
    return (await this.changePolicy(source, format, when)).stored;
  }

  /** setPolicy, with the machines it re-planned and the installed ones that now drift. */
  changePolicy(
    source: string,
    format: PolicyFormat,
    when: Date,
  ): Promise<{ stored: StoredPolicy; replanned: Replan[]; drift: Drift[] }> {
    return this.store.transaction((rows) => changePolicy(rows, source, format, when.toISOString()));
  }

  /** What setting this policy would re-plan and which installed machines would drift; changes nothing. */
  dryRunPolicy(source: string, format: PolicyFormat): Promise<PolicyDryRun> {
    return this.store.read((rows) => dryRunPolicy(rows, source, format));
  }

  /** Installed machines whose plan the current policy would change: the difference list's drift part. */
  drift(): Promise<Drift[]> {
    return this.store.read((rows) => currentDrift(rows));
  }

  /** `expect <id> installed --replan`: reinstall a drifted machine with its new plan; undefined: no machine. */
  reinstall(id: string, when: Date): Promise<ReinstallOutcome | undefined> {
    return this.store.transaction(async (rows) => {
      const machine = await rows.machines.lock(id);
      if (machine === undefined || machine === "busy") return undefined;
      return reinstallWithNewPlan(rows, machine, when.toISOString());
    });
  }

  /**
   * The same by selector: every matching machine is expected installed, and the drifted installed ones
   * among them reinstall with their new plan. Returns the matching ids and those re-planned.
   */
  reinstallWhere(where: Where, when: Date): Promise<{ machineIds: string[]; replanned: string[] }> {
    return this.store.transaction(async (rows) => {
      const at = when.toISOString();
      const matching = (await rows.machines.list())
        .filter((machine) => matchesWhere(machine, where))
        .sort((a, b) => (a.id < b.id ? -1 : 1));
      const replanned: string[] = [];
      for (const { id } of matching) {
        await rows.machines.lock(id);
        const machine = await mustGet(rows, id);
        const outcome =
          machine.category === "installed" ? await reinstallWithNewPlan(rows, machine, at) : undefined;
        if (outcome?.kind === "replanned") replanned.push(id);
        else await setExpected(rows, await mustGet(rows, id), "installed", at);
      }
      return { machineIds: matching.map((machine) => machine.id), replanned };
    });
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
