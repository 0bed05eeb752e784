// Error bodies on the wire: every non-2xx answer is { code, message, details? } (architecture.md).
import * as z from "zod";

/** The catalogue of error codes: each with what it means. Codes are never reused. */
export const ERROR_CODES = {
  invalid_json: "The request body is not valid JSON.",
  body_too_large: "The request body is larger than the server accepts.",
  unsupported_media_type: "The request body is not application/json.",
  schema_mismatch:
    "The body is JSON but does not match the schema; details lists each issue's path and message.",
  invalid_parameter:
    "A path or query parameter is malformed (e.g. a MAC address that is not one, bad percent-encoding, a path segment over 100 characters).",
  not_found: "No such route, machine or file.",
  lease_refused:
    "A command result was refused: its lease expired, is not the current one, or the command was cancelled; details.reason says which.",
  method_not_allowed: "The route exists but not with this HTTP method.",
  invalid_policy:
    "The policy text does not parse or does not match the policy schema; details lists each issue's path, line, column and message. Nothing was stored.",
  invalid_station:
    "The factory station text does not parse or does not match the station schema (or names an image the store lacks); details lists each issue's path, line, column and message. Nothing was stored.",
  image_invalid:
    "An uploaded image was refused: its sha256 differs from the one declared, or it is not a complete zstd stream; nothing was stored.",
  image_conflict: "These bytes are already stored under another image name; details.existing names it.",
  insufficient_storage: "The server's image store ran out of space; nothing partial was kept.",
  range_not_satisfiable: "A Range request starts past the end of the image.",
  upload_offset:
    "A chunk does not start where the upload stands; details.received is where the next chunk must start.",
  capture_in_progress:
    "Another machine of the same configuration is capturing this recipe's image now; details.upload names it.",
  maintenance_refused:
    "A maintenance swap, extra step or restore was refused (the machine is not installed, already in maintenance, a passive run, no failed run to restore…); the message says why.",
  schedule_invalid:
    "A maintenance schedule's cron expression or time does not parse; the message names the field.",
  boot_area_invalid:
    "A boot-area upload was refused: its sha256 differs from the one declared, or its sizes do not add up; nothing was stored.",
  unauthenticated:
    "The route needs a credential and the request carried none, or one that is unknown, malformed or revoked (Authorization: Bearer <token>).",
  forbidden:
    "The credential is valid but its role may not do this; details.needs names the role the route needs.",
  wrong_machine:
    "A machine's credential was used for another machine's route (its queue, plan, results, image, upload, boot area…); nothing of that machine changed.",
  tls_required:
    "The server runs with TLS and this route is not one a machine's firmware fetches before it can speak TLS: call it over https:// (the CA's fingerprint is on the loader's kernel command line).",
  headers_too_large:
    "The request's header section (its URL included) is larger than the server reads (16 KiB); the connection is closed.",
  malformed_request:
    "The request is not well-formed HTTP (a header, the framing or the body's length does not parse); the connection is closed.",
  request_timeout: "The request did not arrive whole in time; the connection is closed.",
  rate_limited:
    "Too many enrollment or inventory requests from this source address; the retry-after header (and details.retryAfterSeconds) says how many seconds to wait.",
  awaiting_approval:
    "An inventory was not enrolled: the machine waits for an operator (bootwright approve): enrollment is approve or allowlist and it is new or not on the allowlist, or its serial or MAC set changed since it enrolled. details has machineId, reason and retryAfterMs; no credential was issued. The loader retries.",
  enrollment_held:
    "An inventory was not enrolled: the machine it names holds a live command lease (its agent is running a step), so a second enrollment under its identity waits until the lease ends or an operator approves it. Its credential was not revoked. details has machineId, reason and retryAfterMs.",
  replan_refused:
    "A reinstall with the policy's new plan (expect <id> installed --replan) was refused: the machine is not installed, has no recorded plan, runs the plan the current policy gives it (no drift), or the policy gives it no plan; the message says which. Nothing changed.",
  machine_busy:
    "A machine was not deleted: a command of its queue is leased (its agent runs a step), an install is in flight (configuring, imaging, capturing, or rebooting into its install) or a maintenance run is unfinished. details has machineId and reason; nothing changed.",
  image_in_use:
    "An image was not deleted: something still names it; details.holders lists each kind (policy, pending-install, maintenance-run, maintenance-schedule, installed-marker, captured-key) with the ids. --force (?force=true) overrides installed markers and captured keys, never the policy or a pending install.",
  kernel_unknown:
    "Drivers were asked for a kernel the server has no module tree for; details.kernel is the one asked, details.known the ones it has (build-scripts/fetch-kernel.sh unpacks them).",
  power_check_failed:
    "Redfish power settings were not stored: the server could not reach the BMC, its certificate does not match the pin or the CA given, it refused the user name and password, or it has no (or several) ComputerSystems and none was named; details has the BMC's code and messages.",
  bios_unavailable:
    "BIOS settings cannot be applied out of band to this machine: its power driver is not redfish, or its plan has no bios.attributes. Nothing was sent to the BMC.",
  bios_invalid:
    "The plan's BIOS attributes were refused before anything was staged: a name the BMC's AttributeRegistry does not have, a read-only attribute, or a value of the wrong type or not in its list; details.issues lists each.",
  internal: "The server failed; its log has the reason under the request id.",
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;
export const ErrorCode = z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]);

export const SchemaIssue = z.strictObject({ path: z.string(), message: z.string() });
export type SchemaIssue = z.infer<typeof SchemaIssue>;

export const ErrorBody = z.strictObject({
  code: ErrorCode,
  message: z.string(),
  details: z.unknown().optional(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** Zod issues as the wire shows them: a dotted path ("nics.0.mac") and the message. */
export function toSchemaIssues(issues: readonly z.core.$ZodIssue[]): SchemaIssue[] {
  return issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "(root)",
    message: issue.message,
  }));
}
