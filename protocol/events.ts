// The live events of GET /v1/events (server-sent events): what the page and `bootwright watch` read.
// Each SSE message is `id: <monotonic integer>`, `event: <type>`, `data: <one of the bodies below>`.
// A client that reconnects with `Last-Event-ID` gets every event after that id, or, when the server no
// longer holds them (restarted, or the id fell out of its replay ring), one `reset`: refetch, then go on.
import * as z from "zod";
import { BootCategory } from "./boot-category.js";
import { StepLogEntry } from "./machine.js";
import { MaintenanceReport, MaintenanceRunState } from "./maintenance.js";

/** A machine's category or expected category changed (or it was first seen). */
export const CategoryEvent = z.strictObject({
  machineId: z.string(),
  category: BootCategory,
  expected: BootCategory.nullable(),
  at: z.string(),
});
export type CategoryEvent = z.infer<typeof CategoryEvent>;

/** A line was written to a machine's step log. */
export const StepEvent = z.strictObject({ machineId: z.string(), entry: StepLogEntry });
export type StepEvent = z.infer<typeof StepEvent>;

/**
 * Bytes moving for a machine, at most twice a second per machine: the image the server streams to it
 * (bytesTotal: the stored image's size), a capture it uploads (total unknown: null), an erase its agent
 * reports. bytesPerSecond: since the previous progress event of the same transfer (null on the first).
 */
export const ProgressEvent = z.strictObject({
  machineId: z.string(),
  kind: z.enum(["image", "capture", "erase"]),
  bytesDone: z.number().nonnegative(),
  bytesTotal: z.number().nonnegative().nullable(),
  bytesPerSecond: z.number().nonnegative().nullable(),
  at: z.string(),
});
export type ProgressEvent = z.infer<typeof ProgressEvent>;

/** A maintenance run changed state or reported. */
export const MaintenanceEvent = z.strictObject({
  machineId: z.string(),
  runId: z.string(),
  state: MaintenanceRunState,
  /** The run's report, once it has one. */
  report: MaintenanceReport.optional(),
  at: z.string(),
});
export type MaintenanceEvent = z.infer<typeof MaintenanceEvent>;

/**
 * Not a change: the server cannot resume from the client's Last-Event-ID (it restarted, or the id is
 * older than what it keeps). Refetch what you show; the events after this one continue from `latestId`.
 */
export const ResetEvent = z.strictObject({
  reason: z.enum(["unknown-id", "too-old"]),
  latestId: z.number().int(),
});
export type ResetEvent = z.infer<typeof ResetEvent>;

/** The bodies by event type: what `event:` names and `data:` carries. */
export const LIVE_EVENTS = {
  category: CategoryEvent,
  step: StepEvent,
  progress: ProgressEvent,
  maintenance: MaintenanceEvent,
  reset: ResetEvent,
} as const;

export type LiveEventType = keyof typeof LIVE_EVENTS;

/** One event as a client holds it once parsed: its id, type and body. */
export const LiveEvent = z.discriminatedUnion("type", [
  z.strictObject({ id: z.number().int(), type: z.literal("category"), data: CategoryEvent }),
  z.strictObject({ id: z.number().int(), type: z.literal("step"), data: StepEvent }),
  z.strictObject({ id: z.number().int(), type: z.literal("progress"), data: ProgressEvent }),
  z.strictObject({ id: z.number().int(), type: z.literal("maintenance"), data: MaintenanceEvent }),
  z.strictObject({ id: z.number().int(), type: z.literal("reset"), data: ResetEvent }),
]);
export type LiveEvent = z.infer<typeof LiveEvent>;

/** The machine an event is about (null: every client gets it). */
export function eventMachine(event: LiveEvent): string | null {
  return event.type === "reset" ? null : event.data.machineId;
}
