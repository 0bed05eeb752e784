// The factory line's operations (issue 22) for the routes and the server's start-up: set the station,
// hand a unit its burn-in, power a passed unit off, list the travelers and the line's figures.
import {
  type FactoryLine,
  type LeasedCommand,
  type MaintenanceAssignment,
  type StationUpload,
  type StoredStation,
  type Traveler,
  FACTORY_STAGES,
} from "../../protocol/index.js";
import type { TravelerQuery } from "../db/rows.js";
import { ApiError } from "../errors.js";
import type { Logger } from "pino";
import { assignedImage } from "../maintenance/service.js";
import { powerDriverFor } from "../power/drivers.js";
import type { Services } from "../services.js";
import { factoryPoweredOff } from "./flow.js";
import { parseStation } from "./station.js";
import { failureNotice, runningStage } from "./traveler.js";

/** A passive run's report cadence is never used; the assignment still names one. */
const BURN_IN_REPORT_MS = 60_000;
const POWER_OFF_TIMEOUT_MS = 60_000;
const HOUR_MS = 3_600_000;

/** Units per stage, passed, failed and the rate, from the travelers (pure). */
export function lineFigures(station: string | null, travelers: readonly Traveler[], now: Date): FactoryLine {
  const atStage = Object.fromEntries(FACTORY_STAGES.map((stage) => [stage, 0])) as FactoryLine["atStage"];
  let passed = 0;
  let failed = 0;
  const passedAt: number[] = [];
  for (const traveler of travelers) {
    if (traveler.state === "failed") failed++;
    else if (traveler.state === "passed") {
      passed++;
      passedAt.push(
        Date.parse(traveler.stages.find((s) => s.stage === "verification")?.endedAt ?? traveler.updatedAt),
      );
    } else atStage[traveler.stage]++;
  }
  const first = Math.min(...travelers.map((t) => Date.parse(t.createdAt)));
  const span = Math.min(HOUR_MS, Math.max(60_000, now.getTime() - first));
  const recent = passedAt.filter((at) => at >= now.getTime() - HOUR_MS).length;
  const unitsPerHour = travelers.length ? Number(((recent * HOUR_MS) / span).toFixed(1)) : 0;
  return { station, atStage, passed, failed, unitsPerHour };
}

export class FactoryService {
  constructor(
    private readonly store: Services,
    private readonly settings: { advertiseUrl: string },
    private readonly log: Logger,
  ) {}

  station(): Promise<StoredStation | undefined> {
    return this.store.store.read((rows) => rows.station.get());
  }

  /**
   * Sets the line's station: refused (nothing stored) when it does not parse or names an image the store
   * lacks. With no policy set yet, one rule gives every unit the station's image (what resolves the
   * install's plan); a policy the operator set stays, and must give the station's image.
   */
  async setStation(
    upload: StationUpload,
    when: Date,
    options: { requireImages: boolean } = { requireImages: true },
  ): Promise<StoredStation> {
    const parsed = parseStation(upload.source, upload.format);
    if (!parsed.ok)
      throw new ApiError("invalid_station", "the station file is not valid", { issues: parsed.issues });
    const { station } = parsed;
    for (const ref of [
      { path: "image", name: station.image },
      { path: "burnIn.image", name: station.burnIn.image },
    ])
      if (!(await this.store.images.find(ref.name))) {
        if (!options.requireImages) {
          this.log.warn(
            { image: ref.name, field: ref.path },
            "the factory station names an image the store lacks yet",
          );
          continue;
        }
        throw new ApiError("invalid_station", `the station names image ${ref.name}, which the store lacks`, {
          issues: [{ path: ref.path, line: null, column: null, message: `no image named ${ref.name}` }],
        });
      }
    const stored: StoredStation = {
      station,
      source: upload.source,
      format: upload.format,
      setAt: when.toISOString(),
    };
    await this.store.store.transaction((rows) => rows.station.put(stored));
    if (!(await this.store.getPolicy())) {
      const policy = {
        rules: [
          { name: `factory-${station.name}`, match: [], plan: { image: station.image, verify: "readback" } },
        ],
      };
      await this.store.setPolicy(JSON.stringify(policy), "json", when);
    }
    this.log.info({ station: station.name, image: station.image }, "factory station set");
    return stored;
  }

  travelers(query: TravelerQuery): Promise<Traveler[]> {
    return this.store.store.read((rows) => rows.travelers.list(query));
  }

  traveler(serial: string): Promise<Traveler | undefined> {
    return this.store.store.read((rows) => rows.travelers.get(serial));
  }

  async line(now: Date): Promise<FactoryLine> {
    const [stored, travelers] = await Promise.all([this.station(), this.travelers({})]);
    return lineFigures(stored?.station.name ?? null, travelers, now);
  }

  /** The burn-in a unit's leased run-maintenance command runs, or undefined when it is not a burn-in. */
  async burnInAssignment(
    machineId: string,
    command: LeasedCommand,
  ): Promise<MaintenanceAssignment | undefined> {
    const { stored, traveler } = await this.store.store.read(async (rows) => ({
      stored: await rows.station.get(),
      traveler: await rows.travelers.ofMachine(machineId),
    }));
    if (!stored || traveler?.burnInCommand !== command.id) return undefined;
    const image = await this.store.images.find(stored.station.burnIn.image);
    if (!image)
      throw new ApiError("not_found", `burn-in image ${stored.station.burnIn.image} left the image store`);
    return {
      runId: `factory-${traveler.serial}-${runningStage(traveler, "burn-in")?.attempt ?? 1}`,
      mode: "passive",
      image: assignedImage(image, this.settings.advertiseUrl),
      steps: stored.station.burnIn.steps,
      reportEveryMs: BURN_IN_REPORT_MS,
      deadlineAt: command.leaseExpiresAt,
    };
  }

  /** What a failed unit's loader prints on its console while it waits: its stage and reason. */
  async notice(machineId: string): Promise<string | undefined> {
    const traveler = await this.store.store.read((rows) => rows.travelers.ofMachine(machineId));
    return traveler ? failureNotice(traveler) : undefined;
  }

  /** After a call home: a unit that passed and waits for its power-off is powered off; never throws. */
  async powerOffIfPassed(machineId: string): Promise<void> {
    const traveler = await this.store.store.read((rows) => rows.travelers.ofMachine(machineId));
    if (!traveler || !runningStage(traveler, "power-off")) return;
    const driver = powerDriverFor(await this.store.settings.power(machineId));
    let outcome: { ok: boolean; via: string; error: string | null };
    if (!driver)
      outcome = { ok: false, via: "none", error: "the unit has no power driver: power it off by hand" };
    else
      try {
        await driver.off(AbortSignal.timeout(POWER_OFF_TIMEOUT_MS));
        outcome = { ok: true, via: driver.name, error: null };
      } catch (err) {
        outcome = { ok: false, via: driver.name, error: err instanceof Error ? err.message : String(err) };
      }
    this.log.info({ machine: machineId, serial: traveler.serial, ...outcome }, "factory unit powered off");
    await this.store.store.transaction((rows) =>
      factoryPoweredOff(rows, machineId, outcome, new Date().toISOString()),
    );
  }
}
