// A traveler in the OCP Test & Validation output format (opencomputeproject/ocp-diag-core, json_spec,
// schema 2.0), pure: the JSON Lines a line's MES reads. One test run per traveler: the unit is the DUT
// (its serial, product, disks as hardware infos; the installed image as a software info), each station
// stage attempt is a test step with its figures as measurements (the station's thresholds as
// validators) and a PASS/FAIL diagnosis; the run ends PASS only when the unit passed the station.
import type { BurnInThreshold, StationFile, Traveler, TravelerStage } from "../../protocol/index.js";
import { appliesTo, figureValues } from "./checks.js";

export type OcpArtifact = Record<string, unknown> & { sequenceNumber: number; timestamp: string };

type Body = Record<string, unknown>;

function stepStatus(stage: TravelerStage): "COMPLETE" | "ERROR" | "SKIP" {
  if (stage.result === "skipped") return "SKIP";
  return stage.result === "interrupted" || stage.result === "running" ? "ERROR" : "COMPLETE";
}

function validators(threshold: BurnInThreshold): Body[] {
  return [
    ...(threshold.min === undefined
      ? []
      : [{ name: `${threshold.figure} min`, type: "GREATER_THAN_OR_EQUAL", value: threshold.min }]),
    ...(threshold.max === undefined
      ? []
      : [{ name: `${threshold.figure} max`, type: "LESS_THAN_OR_EQUAL", value: threshold.max }]),
  ];
}

/** Each figure a threshold names becomes one measurement (the worst value), with its validators. */
function burnInMeasurements(stage: TravelerStage, station: StationFile | null, serial: string): Body[] {
  const thresholds = station?.burnIn.thresholds ?? [];
  return thresholds.flatMap((threshold) => {
    if (!appliesTo(threshold, serial)) return [];
    const values = figureValues(stage.figures[threshold.step], threshold.figure.split("."));
    if (values.length === 0) return [];
    const worst = threshold.max !== undefined ? Math.max(...values) : Math.min(...values);
    return [
      { name: `${threshold.step}.${threshold.figure}`, value: worst, validators: validators(threshold) },
    ];
  });
}

/** Plain numbers and strings of the stage's figures, one level deep (inventory, verification). */
function flatMeasurements(figures: Record<string, unknown>): Body[] {
  return Object.entries(figures)
    .filter(
      ([, value]) => typeof value === "number" || typeof value === "string" || typeof value === "boolean",
    )
    .map(([name, value]) => ({ name, value }));
}

export function ocpArtifacts(traveler: Traveler, station: StationFile | null): OcpArtifact[] {
  const out: OcpArtifact[] = [];
  const emit = (timestamp: string, body: Body): void => {
    out.push({ sequenceNumber: out.length, timestamp, ...body });
  };
  const inventory = traveler.inventory;
  emit(traveler.createdAt, { schemaVersion: { major: 2, minor: 0 } });
  emit(traveler.createdAt, {
    testRunArtifact: {
      testRunStart: {
        name: `bootwright factory ${traveler.station}`,
        version: "1",
        commandLine: "",
        parameters: { station: traveler.station, image: station?.image ?? null },
        dutInfo: {
          dutInfoId: traveler.serial,
          name: traveler.machineId,
          metadata: { machineId: traveler.machineId },
          platformInfos: [{ info: [inventory?.manufacturer, inventory?.product].filter(Boolean).join(" ") }],
          hardwareInfos: [
            {
              hardwareInfoId: "system",
              name: inventory?.product ?? "system",
              manufacturer: inventory?.manufacturer ?? "",
              serialNumber: traveler.serial,
              partNumber: inventory?.product ?? "",
            },
            ...(inventory?.disks ?? []).map((disk) => ({
              hardwareInfoId: `disk-${disk.name}`,
              name: disk.name,
              location: `/dev/${disk.name}`,
            })),
          ],
          softwareInfos: traveler.image
            ? [
                {
                  softwareInfoId: "image",
                  name: traveler.image.name,
                  version: `sha256:${traveler.image.sha256}`,
                  softwareType: "SYSTEM",
                },
              ]
            : [],
        },
      },
    },
  });
  traveler.stages.forEach((stage, index) => {
    const testStepId = String(index);
    const at = stage.endedAt ?? stage.startedAt;
    const step = (body: Body): void => {
      emit(at, { testStepArtifact: { testStepId, ...body } });
    };
    emit(stage.startedAt, {
      testStepArtifact: { testStepId, testStepStart: { name: `${stage.stage} #${stage.attempt}` } },
    });
    const measurements =
      stage.stage === "burn-in"
        ? burnInMeasurements(stage, station, traveler.serial)
        : flatMeasurements(stage.figures);
    for (const measurement of measurements) step({ measurement });
    if (stage.stage === "install" && traveler.image?.readBackSha256)
      step({
        measurement: {
          name: "read-back sha256",
          value: traveler.image.readBackSha256,
          validators: [{ name: "written image", type: "EQUAL", value: traveler.image.rawSha256 }],
        },
      });
    if (stage.result === "passed" || stage.result === "failed")
      step({
        diagnosis: {
          verdict: `${stage.stage}-${stage.result === "passed" ? "pass" : "fail"}`,
          type: stage.result === "passed" ? "PASS" : "FAIL",
          ...(stage.reason ? { message: stage.reason } : {}),
          hardwareInfoId: "system",
        },
      });
    else if (stage.reason) step({ log: { severity: "WARNING", message: stage.reason } });
    if (stage.result !== "running") step({ testStepEnd: { status: stepStatus(stage) } });
  });
  if (traveler.state !== "in-progress")
    emit(traveler.updatedAt, {
      testRunArtifact: {
        testRunEnd: { status: "COMPLETE", result: traveler.state === "passed" ? "PASS" : "FAIL" },
      },
    });
  return out;
}
