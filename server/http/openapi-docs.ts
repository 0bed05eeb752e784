// What each route answers, for the OpenAPI document (openapi.ts): a one-line summary and the protocol/
// schema of its 2xx body (none: not JSON, or nothing worth a schema). Keyed "METHOD /fastify/url"; the
// OpenAPI test fails when a declared route has no line here, or a line names no route.
import * as z from "zod";
import {
  AgentEventAccepted,
  ApproveAnswer,
  AuditLog,
  BiosApplyResult,
  BootListSummary,
  DriversAnswer,
  MachineDrivers,
  Whoami,
  BootAreaRecord,
  BootList,
  BootLog,
  CallHomeAccepted,
  CommandResultAccepted,
  CreatedToken,
  DifferenceList,
  HealthAnswer,
  HealthHistory,
  ImageDeleted,
  ImageDetail,
  ImageGcReport,
  ImageList,
  ImageRecord,
  InventoryAccepted,
  Machine,
  MachineDeleted,
  StepLog,
  MaintenanceProgressAnswer,
  MaintenanceRun,
  MaintenanceRunList,
  MaintenanceSchedule,
  MaintenanceScheduleList,
  NextAction,
  PlanResolution,
  PolicyDryRun,
  PolicyState,
  PowerResult,
  PowerView,
  QueuedCommand,
  ServerList,
  SharedUuidList,
  SiteStatus,
  StoredPolicy,
  TagAnswer,
  TokenList,
  UploadCompleted,
  UploadState,
  FactoryLine,
  StationState,
  StoredStation,
  Traveler,
  TravelerList,
} from "../../protocol/index.js";

export interface RouteDoc {
  summary: string;
  /** The 2xx JSON body's schema. */
  response?: z.ZodType;
  /** A body that is not JSON: its media type (the response schema is then ignored). */
  produces?: string;
  /** A request body that is not JSON (image bytes, upload chunks, a boot area): its media type. */
  consumes?: string;
}

const MachineIds = z.strictObject({ machineIds: z.array(z.string()) });
const BINARY = "application/octet-stream";

export const ROUTE_DOCS: Record<string, RouteDoc> = {
  "GET /healthz": { summary: "Liveness: the server answers.", response: z.strictObject({ ok: z.boolean() }) },
  "GET /boot.ipxe": { summary: "The iPXE script every machine gets from DHCP.", produces: "text/plain" },
  "GET /boot/:mac.ipxe": {
    summary: "The boot decision for one machine, as iPXE script.",
    produces: "text/plain",
  },
  "GET /assets/:name": { summary: "The loader's kernel and initramfs.", produces: BINARY },
  "GET /boot/bootwright.efi": { summary: "The loader as a UKI, for UEFI HTTP boot.", produces: BINARY },
  "GET /media/rescue.iso": {
    summary: "This server's rescue media (hybrid ISO), for a BMC's virtual CD; built on first use.",
    produces: BINARY,
  },
  "GET /v1/recipes/:name/files/:file": {
    summary: "A recipe's file, for its install script.",
    produces: BINARY,
  },
  "GET /v1/agents/:sha.mjs": { summary: "A tailored agent bundle.", produces: "text/javascript" },
  "POST /v1/inventory": {
    summary: "The loader posts the hardware inventory (enrollment).",
    response: InventoryAccepted,
  },
  "GET /v1/machines": { summary: "The boot list.", response: BootList },
  "GET /v1/machines/:id": { summary: "One machine.", response: Machine },
  "GET /v1/machines/:id/log": { summary: "A machine's step log.", response: StepLog },
  "GET /v1/machines/:id/queue": {
    summary: "A machine's command queue.",
    response: z.strictObject({ commands: z.array(QueuedCommand) }),
  },
  "PUT /v1/machines/:id/expected": { summary: "Set what a machine is expected to be.", response: Machine },
  "POST /v1/expected": {
    summary: "Set the expected category of every machine matching a selector.",
    response: MachineIds,
  },
  "GET /v1/differences": { summary: "The difference list.", response: DifferenceList },
  "POST /v1/machines/:id/approve": { summary: "Approve one machine's enrollment.", response: Machine },
  "POST /v1/approve": {
    summary: "Approve the enrollment of machines by id or selector.",
    response: ApproveAnswer,
  },
  "GET /v1/shared-uuids": { summary: "SMBIOS UUIDs seen on several machines.", response: SharedUuidList },
  "POST /v1/machines/:id/release": { summary: "Release a machine (erase its disks).", response: Machine },
  "POST /v1/release": { summary: "Release every machine matching a selector.", response: MachineIds },
  "POST /v1/machines/:id/retire": { summary: "Retire a machine.", response: Machine },
  "POST /v1/machines/:id/unretire": { summary: "Take a machine back from retirement.", response: Machine },
  "DELETE /v1/machines/:id": { summary: "Delete a machine (its step log stays).", response: MachineDeleted },
  "POST /v1/machines/:id/tags": { summary: "Add or remove a machine's tags.", response: Machine },
  "POST /v1/tags": { summary: "Tag every machine matching a selector.", response: TagAnswer },
  "PUT /v1/machines/:id/note": { summary: "Set a machine's note.", response: Machine },
  "GET /v1/machines/:id/next": { summary: "The agent asks for its next command.", response: NextAction },
  "POST /v1/machines/:id/commands/:commandId/result": {
    summary: "A command's result, under its lease (?next=1: the answer leases the next command).",
    response: CommandResultAccepted,
  },
  "POST /v1/machines/:id/events": {
    summary: "An agent's step or progress event.",
    response: AgentEventAccepted,
  },
  "POST /v1/machines/:id/callhome": {
    summary: "The installed OS says it booted.",
    response: CallHomeAccepted,
  },
  "PUT /v1/images": {
    summary: "Upload an image (the body is its bytes).",
    response: z.strictObject({ image: ImageRecord }),
    consumes: BINARY,
  },
  "DELETE /v1/images/:ref": { summary: "Delete an image.", response: ImageDeleted },
  "POST /v1/images/gc": { summary: "Collect the image store's unreferenced files.", response: ImageGcReport },
  "GET /v1/images": { summary: "The image catalogue.", response: ImageList },
  "GET /v1/images/:ref": { summary: "One image, with how the store was read for it.", response: ImageDetail },
  "POST /v1/uploads": {
    summary: "Open (or find) a captured image's resumable upload.",
    response: UploadState,
  },
  "GET /v1/uploads/:id": { summary: "Where an upload stands.", response: UploadState },
  "PUT /v1/uploads/:id/chunks/:offset": {
    summary: "One chunk of an upload, at its offset.",
    response: UploadState,
    consumes: BINARY,
  },
  "POST /v1/uploads/:id/complete": {
    summary: "Complete an upload into an image.",
    response: UploadCompleted,
  },
  "GET /v1/images/:sha/blob": {
    summary: "An image's bytes (batched fan-out; Range resumes).",
    produces: BINARY,
  },
  "GET /v1/policy": { summary: "The current policy.", response: PolicyState },
  "PUT /v1/policy": { summary: "Replace the policy.", response: StoredPolicy },
  "POST /v1/policy/dry-run": {
    summary: "What a policy would re-plan and which machines would drift.",
    response: PolicyDryRun,
  },
  "GET /v1/machines/:id/plan": {
    summary: "The machine's plan and why (policy explain).",
    response: PlanResolution,
  },
  "POST /v1/machines/:id/maintenance": { summary: "Start a maintenance run.", response: MaintenanceRun },
  "GET /v1/machines/:id/maintenance": {
    summary: "A machine's maintenance runs.",
    response: MaintenanceRunList,
  },
  "POST /v1/machines/:id/maintenance/steps": {
    summary: "Add a step to an active run.",
    response: MaintenanceRun,
  },
  "POST /v1/machines/:id/maintenance/restore": {
    summary: "Restore the original system after a failed run.",
    response: MaintenanceRun,
  },
  "POST /v1/machines/:id/maintenance/progress": {
    summary: "An active run's progress report.",
    response: MaintenanceProgressAnswer,
  },
  "GET /v1/maintenance": { summary: "Every maintenance run.", response: MaintenanceRunList },
  "GET /v1/maintenance/runs/:run": { summary: "One maintenance run.", response: MaintenanceRun },
  "POST /v1/maintenance/schedules": { summary: "Schedule maintenance.", response: MaintenanceSchedule },
  "GET /v1/maintenance/schedules": {
    summary: "The maintenance schedules.",
    response: MaintenanceScheduleList,
  },
  "DELETE /v1/maintenance/schedules/:schedule": {
    summary: "Remove a schedule.",
    response: z.strictObject({ removed: z.string() }),
  },
  "POST /v1/machines/:id/health": { summary: "The installed OS's health report.", response: HealthAnswer },
  "GET /v1/machines/:id/health": {
    summary: "A machine's health reports over time.",
    response: HealthHistory,
  },
  "PUT /v1/machines/:id/power": { summary: "Set a machine's power driver.", response: PowerView },
  "GET /v1/machines/:id/power": { summary: "A machine's power driver (no secrets).", response: PowerView },
  "POST /v1/machines/:id/power/cycle": { summary: "Power-cycle a machine.", response: PowerResult },
  "GET /v1/machines/:id/boot-area": {
    summary: "The boot area recorded at install.",
    response: BootAreaRecord,
  },
  "GET /v1/machines/:id/boot-area/bytes": { summary: "The recorded boot area's bytes.", produces: BINARY },
  "PUT /v1/machines/:id/boot-area": {
    summary: "Record a machine's boot area.",
    response: BootAreaRecord,
    consumes: BINARY,
  },
  "GET /v1/site": { summary: "The managed DHCP and TFTP service.", response: SiteStatus },
  "GET /v1/servers": {
    summary:
      "The servers on this store (versions, last heartbeats, periodic work held) and the relays seen in front of them.",
    response: ServerList,
  },
  "GET /v1/relay/auth": { summary: "A relay checks a machine's credential before answering from its cache." },
  "GET /v1/boot-log": { summary: "The boot log: DHCP, TFTP and HTTP boot requests.", response: BootLog },
  "POST /v1/tokens": { summary: "Make an API token (its secret is shown once).", response: CreatedToken },
  "GET /v1/tokens": { summary: "Every API token.", response: TokenList },
  "DELETE /v1/tokens/:id": { summary: "Revoke a token.", response: z.strictObject({ revoked: z.string() }) },
  "GET /v1/audit": { summary: "The audit log of operators' changes.", response: AuditLog },
  "GET /v1/events": {
    summary:
      "Live events (server-sent events: category, step, progress, maintenance, reset); ?machine= narrows; Last-Event-ID resumes.",
    produces: "text/event-stream",
  },
  "GET /metrics": { summary: "Prometheus figures (text exposition format).", produces: "text/plain" },
  "GET /openapi.json": { summary: "This document." },
  "GET /v1/boot-list": {
    summary:
      "The boot list as the console shows it: each machine without its plan, its inventory's system fields only.",
    response: BootListSummary,
  },
  "GET /v1/whoami": { summary: "Who the token is: its id, name and role.", response: Whoami },
  "POST /v1/machines/:id/bios/apply": {
    summary: "Apply the plan's bios.attributes through the BMC (Redfish), reset, read back.",
    response: BiosApplyResult,
  },
  "POST /v1/drivers": {
    summary:
      "Which kernel modules claim these PCI modaliases, and one bundle carrying them (the loader, before it enrolls).",
    response: DriversAnswer,
  },
  "GET /v1/drivers/bundles/:sha256": {
    summary: "A driver bundle (tar.zst of modules and firmware), content-addressed.",
    produces: "application/zstd",
  },
  "GET /v1/machines/:id/drivers": {
    summary: "A machine's PCI devices, the module claiming each and where from, or why none does.",
    response: MachineDrivers,
  },
  "GET /": { summary: "The operator console (HTML).", produces: "text/html" },
  "GET /console/:file": {
    summary: "The console's scripts and styles, by content hash.",
    produces: "text/javascript",
  },
  "PUT /v1/factory/station": { summary: "Set the factory line's station file.", response: StoredStation },
  "GET /v1/factory/station": {
    summary: "The factory line's station file (null: none).",
    response: StationState,
  },
  "GET /v1/factory/line": {
    summary: "The factory line now: units per stage, passed, failed, units per hour.",
    response: FactoryLine,
  },
  "GET /v1/factory/travelers": {
    summary: "Every unit's traveler (?since=<time>, ?failed=true).",
    response: TravelerList,
  },
  "GET /v1/factory/travelers/:serial": { summary: "One unit's traveler, by serial.", response: Traveler },
  "GET /v1/factory/travelers/:serial/ocp": {
    summary: "One unit's traveler in the OCP Test & Validation output format (JSON Lines).",
    produces: "application/x-ndjson",
  },
  "GET /v1/factory/travelers/:serial/html": {
    summary: "One unit's traveler as a printable page.",
    produces: "text/html",
  },
};
