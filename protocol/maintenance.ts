// The maintenance swap (seeds 001, 004) on the wire: a machine running its installed system is swapped
// into a maintenance image (diagnostic, repair, …), monitored actively or passively, and swapped back.
import * as z from "zod";
import { ImageName, ImagePurpose } from "./images.js";

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "a sha256 as 64 lower-case hex digits");

export const MaintenanceMode = z.enum([
  /** The server watches the run: it reports at the server's cadence and may be sent extra steps. */
  "active",
  /** The server only waits for the run's completion signal (its result), up to the deadline. */
  "passive",
]);
export type MaintenanceMode = z.infer<typeof MaintenanceMode>;

export const StepParams = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));
export type StepParams = z.infer<typeof StepParams>;

/** One step of a maintenance image, named from its catalogue (manifest.steps), with its parameters. */
export const MaintenanceStep = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, "a step name is lower-case words joined by -"),
  params: StepParams.default({}),
});
export type MaintenanceStep = z.infer<typeof MaintenanceStep>;
export type MaintenanceStepInput = z.input<typeof MaintenanceStep>;

/**
 * manifest.json at the root of a maintenance image (a tar.zst in the image store whose purpose is not
 * `os`): the program the loader runs from the network-booted initramfs, and its catalogue of steps.
 */
export const MaintenanceManifest = z.strictObject({
  name: z.string().min(1),
  purpose: ImagePurpose.exclude(["os"]),
  description: z.string(),
  /** Path inside the image of the ESM module that exports `steps` (agent/installer/maintenance/program.ts). */
  program: z.string().regex(/^[A-Za-z0-9._/-]+\.mjs$/),
  /** Step name → what it does: the steps this image can run (an extra step must name one). */
  steps: z.record(z.string(), z.string()),
  /** What a run that names no steps does, in order. */
  defaultSteps: z.array(MaintenanceStep).min(1),
});
export type MaintenanceManifest = z.infer<typeof MaintenanceManifest>;

export const MaintenanceStepResult = z.strictObject({
  name: z.string(),
  params: StepParams,
  ok: z.boolean(),
  ms: z.number().nonnegative(),
  /** What the step found or did (figures, sectors restored, …). */
  data: z.record(z.string(), z.unknown()),
  error: z.string().nullable(),
  /** True for a step the server sent during the run (active mode), not one the run started with. */
  extra: z.boolean(),
});
export type MaintenanceStepResult = z.infer<typeof MaintenanceStepResult>;

/** The run's report: the completion signal's body, kept with the run. */
export const MaintenanceReport = z.strictObject({
  /** sha256 of the maintenance image that ran. */
  image: Sha256Hex,
  /** True when every step succeeded. */
  ok: z.boolean(),
  steps: z.array(MaintenanceStepResult),
});
export type MaintenanceReport = z.infer<typeof MaintenanceReport>;

/** What a leased run-maintenance command carries: which image to run, how, and until when. */
export const MaintenanceAssignment = z.strictObject({
  runId: z.string(),
  mode: MaintenanceMode,
  image: z.strictObject({
    name: ImageName,
    sha256: Sha256Hex,
    purpose: ImagePurpose,
    sizeBytes: z.number().int().positive(),
    /** Where its bytes are (the image store's blob URL). */
    url: z.string(),
  }),
  /** The steps to run, in order; empty: the image's defaultSteps. */
  steps: z.array(MaintenanceStep),
  /** Active mode: report progress at least this often (the server fails a run whose report is overdue). */
  reportEveryMs: z.number().int().positive(),
  deadlineAt: z.string(),
});
export type MaintenanceAssignment = z.infer<typeof MaintenanceAssignment>;

/** POST /v1/machines/:id/maintenance/progress — an active run answers the server's poll. */
export const MaintenanceProgress = z.strictObject({
  runId: z.string(),
  /** The run-maintenance command's lease: a report from a stale run is refused. */
  leaseId: z.string(),
  /** The step running now; null between steps. */
  step: z.string().nullable(),
  message: z.string().max(500),
  /** How far the current step is, when it knows. */
  percent: z.number().min(0).max(100).nullable(),
  /** Steps finished so far. */
  done: z.array(MaintenanceStepResult),
});
export type MaintenanceProgress = z.infer<typeof MaintenanceProgress>;

export const MaintenanceProgressAnswer = z.strictObject({
  /** Steps the operator (or the server) added since the last poll: run them after the current ones. */
  extraSteps: z.array(MaintenanceStep),
  reportEveryMs: z.number().int().positive(),
});
export type MaintenanceProgressAnswer = z.infer<typeof MaintenanceProgressAnswer>;

export const MaintenanceTrigger = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("operator") }),
  z.strictObject({ kind: z.literal("schedule"), scheduleId: z.string(), when: z.string() }),
  z.strictObject({
    kind: z.literal("health"),
    rule: z.string(),
    figure: z.string(),
    value: z.number(),
    comparison: z.enum(["below", "above"]),
    threshold: z.number(),
  }),
]);
export type MaintenanceTrigger = z.infer<typeof MaintenanceTrigger>;

/** What the machine ran before the swap, recorded at the start: what it must come back to. */
export const OriginalTarget = z.strictObject({
  /** "sha256:<hex>" of the installed image, as its marker names it. */
  image: z.string(),
  planHash: z.string(),
  rule: z.string(),
  /** What the installed OS said it was when it last called home. */
  os: z.string().nullable(),
});
export type OriginalTarget = z.infer<typeof OriginalTarget>;

export const MaintenanceRunState = z.enum([
  "rebooting", // the swap is recorded; waiting for the machine to boot the maintenance image
  "running", // the maintenance image leased its run
  "returning", // the run reported; the machine reboots into its original system
  "restoring", // after a failure, an operator restores the original system
  "completed", // the original system called home again
  "failed", // a timeout or a failed step; the original target stays recorded (restore)
]);
export type MaintenanceRunState = z.infer<typeof MaintenanceRunState>;

export const PowerAction = z.strictObject({
  /** "qmp", "ipmi", "in-band" (the installed OS's reporter is told to reboot) or "none". */
  via: z.string(),
  at: z.string(),
  ok: z.boolean(),
  error: z.string().nullable(),
});
export type PowerAction = z.infer<typeof PowerAction>;

export const MaintenanceRun = z.strictObject({
  id: z.string(),
  machineId: z.string(),
  image: z.strictObject({ name: ImageName, sha256: Sha256Hex, purpose: ImagePurpose }),
  mode: MaintenanceMode,
  trigger: MaintenanceTrigger,
  state: MaintenanceRunState,
  original: OriginalTarget,
  /** Its run-maintenance command in the machine's queue. */
  commandId: z.string(),
  /** The steps the run was started with (empty: the image's defaults). */
  steps: z.array(MaintenanceStep),
  /** Steps added while it ran (active mode), and whether the run has been handed each. */
  extraSteps: z.array(z.strictObject({ step: MaintenanceStep, delivered: z.boolean() })),
  report: MaintenanceReport.nullable(),
  /** The reboots the server made or asked for, in order. */
  power: z.array(PowerAction),
  startedAt: z.string(),
  deadlineAt: z.string(),
  /** When the run leased its command, reported last (active) and reported its result. */
  runningAt: z.string().nullable(),
  lastProgressAt: z.string().nullable(),
  reportedAt: z.string().nullable(),
  endedAt: z.string().nullable(),
  error: z.string().nullable(),
});
export type MaintenanceRun = z.infer<typeof MaintenanceRun>;

export const MaintenanceRunList = z.strictObject({ runs: z.array(MaintenanceRun) });
export type MaintenanceRunList = z.infer<typeof MaintenanceRunList>;

/** POST /v1/machines/:id/maintenance — an operator starts a swap. */
export const StartMaintenance = z.strictObject({
  /** A maintenance image in the store (its purpose is not `os`). */
  image: ImageName,
  mode: MaintenanceMode.default("passive"),
  /** From the start to the report; default the server's maintenanceTimeoutMs. */
  timeoutMs: z.number().int().positive().optional(),
  steps: z.array(MaintenanceStep).default([]),
});
export type StartMaintenance = z.input<typeof StartMaintenance>;

/** POST /v1/machines/:id/maintenance/steps — an extra step for an active run. */
export const AddMaintenanceStep = MaintenanceStep;

/** Who a schedule swaps: one machine, or every installed machine matching a fact (as `expect --where`). */
export const ScheduleTarget = z.union([
  z.strictObject({ machine: z.string().min(1) }),
  z.strictObject({
    where: z.strictObject({
      path: z.string().min(1),
      equals: z.union([z.string(), z.number(), z.boolean(), z.null()]),
    }),
  }),
]);
export type ScheduleTarget = z.infer<typeof ScheduleTarget>;

/** POST /v1/maintenance/schedules — a timed maintenance program: cron (UTC, 5 fields) or one time. */
export const MaintenanceScheduleSpec = z
  .strictObject({
    target: ScheduleTarget,
    /** "m h dom mon dow" in UTC, e.g. "0 3 * * 0"; or @hourly, @daily, @weekly, @monthly. */
    cron: z.string().min(1).optional(),
    /** One time (ISO 8601). */
    at: z.iso.datetime({ offset: true }).optional(),
    image: ImageName,
    mode: MaintenanceMode.default("passive"),
    timeoutMs: z.number().int().positive().optional(),
  })
  .refine((spec) => (spec.cron === undefined) !== (spec.at === undefined), {
    message: "give exactly one of cron and at",
  });
export type MaintenanceScheduleSpec = z.input<typeof MaintenanceScheduleSpec>;

export const MaintenanceSchedule = z.strictObject({
  id: z.string(),
  target: ScheduleTarget,
  cron: z.string().nullable(),
  at: z.string().nullable(),
  image: ImageName,
  mode: MaintenanceMode,
  timeoutMs: z.number().int().positive().nullable(),
  /** Null once a one-time schedule has fired. */
  nextFireAt: z.string().nullable(),
  lastFiredAt: z.string().nullable(),
  fired: z.number().int().nonnegative(),
  createdAt: z.string(),
});
export type MaintenanceSchedule = z.infer<typeof MaintenanceSchedule>;

export const MaintenanceScheduleList = z.strictObject({ schedules: z.array(MaintenanceSchedule) });
export type MaintenanceScheduleList = z.infer<typeof MaintenanceScheduleList>;

/**
 * The boot area an install leaves (its partition table and boot code), recorded by the agent right
 * after the install: the repair image restores it. GET /v1/machines/:id/boot-area; the bytes (head then
 * tail) at /v1/machines/:id/boot-area/bytes.
 */
export const BootAreaRecord = z.strictObject({
  /** The install target, e.g. "vda". */
  device: z.string().regex(/^[a-z0-9]+$/),
  diskBytes: z.number().int().positive(),
  sectorBytes: z.number().int().positive(),
  /** The first headBytes of the disk: protective MBR with its boot code, primary GPT, up to the first partition. */
  headBytes: z.number().int().positive(),
  /** The last tailBytes: the backup GPT. */
  tailBytes: z.number().int().nonnegative(),
  /** sha256 of head and tail together (the bytes endpoint's body). */
  sha256: Sha256Hex,
  /** The installed image ("sha256:<hex>") and plan it was recorded for. */
  image: z.string(),
  planHash: z.string(),
  recordedAt: z.string(),
});
export type BootAreaRecord = z.infer<typeof BootAreaRecord>;
