// The factory line (issue 22) on the wire: the station file every unit on the line goes through, the
// traveler kept per unit (keyed by its SMBIOS serial) and the line's live summary.
import * as z from "zod";
import { ImageName } from "./images.js";
import { MaintenanceStep } from "./maintenance.js";

/** The stages a unit passes, in order. */
export const FactoryStage = z.enum(["inventory", "burn-in", "install", "verification", "power-off"]);
export type FactoryStage = z.infer<typeof FactoryStage>;
export const FACTORY_STAGES: readonly FactoryStage[] = FactoryStage.options;

/**
 * A pass/fail limit on one figure of one burn-in step's data. `figure` is a dotted path into the step's
 * data (`sha256MBs`, `disks.*.readErrors`): `*` takes every element of a list, and the worst of them
 * counts (the largest against `max`, the smallest against `min`); a list at the end counts its length
 * (`failing`: the disks SMART says are failing).
 */
export const BurnInThreshold = z
  .strictObject({
    step: z.string().min(1),
    figure: z
      .string()
      .regex(/^[A-Za-z0-9_*]+(\.[A-Za-z0-9_*]+)*$/, "a dotted path such as disks.*.readErrors"),
    min: z.number().optional(),
    max: z.number().optional(),
    /** Only for units whose serial matches this glob (a per-unit override); absent: every unit. */
    serial: z.string().min(1).optional(),
    /** False: a figure the unit cannot measure (SMART on a disk without it) is skipped, not failed. */
    required: z.boolean().default(true),
  })
  .refine((t) => t.min !== undefined || t.max !== undefined, "a threshold needs min, max or both");
export type BurnInThreshold = z.infer<typeof BurnInThreshold>;

/** The station file (`bootwright factory --station <file>`), YAML or JSON. */
export const StationFile = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "letters, digits, '.', '_' and '-'"),
  /** The OS image every unit that passes burn-in gets (an `os` image in the store). */
  image: ImageName,
  /** What every unit must be; a mismatch fails it at the inventory stage. */
  inventory: z
    .strictObject({
      /** Glob on SMBIOS type 1 product name. */
      product: z.string().min(1).optional(),
      minMemoryMiB: z.number().int().positive().optional(),
      diskCount: z.number().int().nonnegative().optional(),
    })
    .default({}),
  burnIn: z.strictObject({
    /** The diagnostic maintenance image that runs the steps (purpose diagnostic, in the store). */
    image: ImageName.default("diagnostic"),
    /** The steps and their durations (`seconds`, `mib`): the station's choice. */
    steps: z.array(MaintenanceStep).min(1),
    thresholds: z.array(BurnInThreshold).default([]),
    /** The whole burn-in's deadline. */
    timeoutMinutes: z.number().positive().default(60),
  }),
  /** Power the unit off once its installed OS has called home (through its power driver). */
  powerOff: z.boolean().default(true),
});
export type StationFile = z.infer<typeof StationFile>;
export type StationFileInput = z.input<typeof StationFile>;

/** PUT /v1/factory/station: the station file's text, as the operator wrote it. */
export const StationUpload = z.strictObject({
  format: z.enum(["yaml", "json"]),
  source: z.string().max(256 * 1024),
});
export type StationUpload = z.infer<typeof StationUpload>;

export const StoredStation = z.strictObject({
  station: StationFile,
  source: z.string(),
  format: z.enum(["yaml", "json"]),
  setAt: z.string(),
});
export type StoredStation = z.infer<typeof StoredStation>;

/** GET /v1/factory/station: null until one is set (bootwright factory --station <file>). */
export const StationState = z.strictObject({ stored: StoredStation.nullable() });
export type StationState = z.infer<typeof StationState>;

export const StageResult = z.enum(["running", "passed", "failed", "interrupted", "skipped"]);
export type StageResult = z.infer<typeof StageResult>;

/** One attempt at one stage. */
export const TravelerStage = z.strictObject({
  stage: FactoryStage,
  /** 1 for the first attempt; a repeat after a failure or a pulled unit counts up. */
  attempt: z.number().int().positive(),
  startedAt: z.string(),
  endedAt: z.string().nullable(),
  result: StageResult,
  /** What the stage measured or checked: burn-in figures, inventory facts, read-back sums. */
  figures: z.record(z.string(), z.unknown()),
  /** Why it failed, was interrupted or skipped. */
  reason: z.string().nullable(),
});
export type TravelerStage = z.infer<typeof TravelerStage>;

export const TravelerState = z.enum(["in-progress", "passed", "failed"]);
export type TravelerState = z.infer<typeof TravelerState>;

/** The record of one unit through the station, keyed by its SMBIOS serial. */
export const Traveler = z.strictObject({
  serial: z.string().min(1),
  machineId: z.string(),
  station: z.string(),
  state: TravelerState,
  /** The stage it is at (or failed at, or power-off once passed). */
  stage: FactoryStage,
  stages: z.array(TravelerStage),
  /** The unit as it inventoried: SMBIOS type 1, memory, disks. */
  inventory: z
    .strictObject({
      manufacturer: z.string().nullable(),
      product: z.string().nullable(),
      serial: z.string(),
      uuid: z.string().nullable(),
      memoryMiB: z.number(),
      cpus: z.number(),
      disks: z.array(z.strictObject({ name: z.string(), sizeBytes: z.number() })),
    })
    .nullable(),
  /** The image written and what was read back from the disk. */
  image: z
    .strictObject({
      name: z.string(),
      sha256: z.string(),
      rawSha256: z.string(),
      readBackSha256: z.string().nullable(),
      readBackMatches: z.boolean().nullable(),
    })
    .nullable(),
  /** The burn-in command this unit runs now (matches its result to the traveler). */
  burnInCommand: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Traveler = z.infer<typeof Traveler>;

export const TravelerList = z.strictObject({ travelers: z.array(Traveler) });
export type TravelerList = z.infer<typeof TravelerList>;

/** GET /v1/factory/line: the line now. */
export const FactoryLine = z.strictObject({
  station: z.string().nullable(),
  /** Units in progress, by the stage they are at. */
  atStage: z.record(FactoryStage, z.number().int().nonnegative()),
  passed: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
  /** Units passed in the last hour (or per hour since the first unit, when the line ran less long). */
  unitsPerHour: z.number().nonnegative(),
});
export type FactoryLine = z.infer<typeof FactoryLine>;
