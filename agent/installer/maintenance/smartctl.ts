// What the diagnostic image keeps of `smartctl -j -H -A` output (pure; tested on captured output in
// fixtures/smartctl): health, a few key attributes, and what smartctl's exit status bits mean.

/** smartctl(8) EXIT STATUS bits, from bit 0. */
const SMARTCTL_EXIT_BITS = [
  "command line did not parse",
  "device open failed or device did not answer",
  "a SMART command failed or a checksum was wrong",
  "SMART status: DISK FAILING",
  "prefail attributes at or below threshold",
  "attributes at or below threshold in the past",
  "the error log has errors",
  "the self-test log has errors",
] as const;

interface SmartAttribute {
  id: number;
  name: string;
  when_failed?: string;
  raw?: { value?: number };
}

export interface SmartReport {
  supported: boolean;
  /** smartctl's own words when the device has no SMART (a virtio disk: "Unable to detect device type"). */
  reason: string | null;
  health: "passed" | "failed" | "unknown";
  reallocatedSectors: number | null;
  pendingSectors: number | null;
  powerOnHours: number | null;
  temperatureC: number | null;
  /** Attributes smartctl says are failing now or failed in the past. */
  failingAttributes: string[];
  exitStatus: number;
  exitMeaning: string[];
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const numberAt = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** The figures we keep from `smartctl -j -H -A` output (pure; tested on captured output). */
export function parseSmartctl(json: unknown): SmartReport {
  if (!isRecord(json) || !isRecord(json.smartctl))
    throw new Error("not smartctl JSON output (no smartctl object)");
  const exitStatus = numberAt(json.smartctl.exit_status) ?? 0;
  const messages = Array.isArray(json.smartctl.messages)
    ? json.smartctl.messages.flatMap((m) => (isRecord(m) && typeof m.string === "string" ? [m.string] : []))
    : [];
  const status = isRecord(json.smart_status) ? json.smart_status : null;
  const table =
    isRecord(json.ata_smart_attributes) && Array.isArray(json.ata_smart_attributes.table)
      ? (json.ata_smart_attributes.table.filter(isRecord) as unknown as SmartAttribute[])
      : [];
  const raw = (id: number): number | null => numberAt(table.find((a) => a.id === id)?.raw?.value);
  const temperature = isRecord(json.temperature) ? numberAt(json.temperature.current) : null;
  const powerOn = isRecord(json.power_on_time) ? numberAt(json.power_on_time.hours) : null;
  return {
    supported: status !== null,
    reason: status === null ? messages.join("; ") || "smartctl reported no SMART health status" : null,
    health:
      status === null || typeof status.passed !== "boolean" ? "unknown" : status.passed ? "passed" : "failed",
    // ATA attribute 5 Reallocated_Sector_Ct, 197 Current_Pending_Sector, 9 Power_On_Hours.
    reallocatedSectors: raw(5),
    pendingSectors: raw(197),
    powerOnHours: powerOn ?? raw(9),
    temperatureC: temperature,
    failingAttributes: table.filter((a) => a.when_failed).map((a) => `${a.name} (${a.when_failed ?? ""})`),
    exitStatus,
    exitMeaning: SMARTCTL_EXIT_BITS.filter((_, bit) => (exitStatus & (1 << bit)) !== 0),
  };
}
