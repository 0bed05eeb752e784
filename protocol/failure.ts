// Errors inside the processes: one base class with a stable `code` from the catalogue below, typed context
// fields and the original on `cause`. Match them with hasCode(), never `instanceof`: the loader, a tailored
// agent and a maintenance program each bundle their own copy of a class (style.md §7).
import type { ErrorCode } from "./errors.js";
import type { PolicyIssue } from "./policy.js";

/** How a server answered a request it refused: its status and, when it sent one, our error body's words. */
export interface ServerRefusal {
  status: number;
  serverCode: ErrorCode | null;
  serverMessage: string | null;
  /** The error body's details, when it had some (e.g. an enrollment refusal's machineId and retryAfterMs). */
  serverDetails?: unknown;
}

/** The context of an error with no fields of its own (its message says it all). */
export type NoContext = Record<string, never>;

/**
 * What each in-process failure carries besides its message: the data a log line or an operator needs (a
 * path, an exit code, an offset). Never a secret: context is logged whole.
 */
export interface FailureContexts {
  command_failed: { command: string; argv: readonly string[]; exitCode: number | null; stderrTail: string };
  gpt_invalid: { path?: string };
  efivar_write: { variable?: string };
  image_integrity: { image: string; bytes: number; rawBytes: number };
  image_stream_refused: { url: string; status: number };
  target_write: { target: string; offset: number };
  inventory_unreadable: { path: string };
  http_status: ServerRefusal;
  loader_request_timeout: { method: string; url: string; timeoutMs: number };
  upload_refused: ServerRefusal;
  boot_area_refused: { url: string; status: number };
  maintenance_image_invalid: { image: string; file?: string };
  agent_integrity: { url: string; sha256: string };
  invalid_policy_file: { file: string; issues: readonly PolicyIssue[] };
  invalid_station_file: { file: string; issues: readonly PolicyIssue[] };
  template_error: { placeholder: string };
  invalid_config: { file?: string };
  init_refused: { file?: string };
  cron_invalid: { expression: string; field: string | null };
  duration_invalid: { text: string | number };
  power_failed: {
    target: string;
    command?: readonly string[];
    exitCode?: number | null;
    stderrTail?: string;
  };
  bmc_refused: {
    target: string;
    method: string;
    path: string;
    status: number;
    /** The error body's MessageIds (error.code first, then each @Message.ExtendedInfo entry's). */
    messageIds: readonly string[];
  };
  bmc_certificate_mismatch: { target: string; pinned: string; offered: string };
  store_copy_failed: { table?: string };
  server_failure: NoContext;
  tftp_failed: { address: string; port: number };
  site_network_invalid: { interface?: string; setting?: string };
  dnsmasq_failed: { exitCode?: number | null; signal?: string | null };
  tls_setup: { file?: string; step?: string };
  tls_pin_mismatch: { server: string; pinned: string; offered: readonly string[] };
  media_build_refused: { setting?: string; file?: string; image?: string };
  media_import_refused: { source: string; file?: string };
}

export type FailureCode = keyof FailureContexts;

/**
 * The catalogue of in-process failure codes, each with what it means and where it comes from. Codes are
 * never reused, nor shared with the wire's ERROR_CODES (protocol/errors.ts); a retired code stays retired.
 */
export const FAILURE_CODES: { readonly [C in FailureCode]: string } = {
  command_failed:
    "A program run by argv exited non-zero, was killed by its timeout, or did not start (agent/shared/run-command.ts, build-scripts/os-image/run.ts); context has the exit code (null when killed or not started) and the tail of stderr.",
  gpt_invalid:
    "A GPT cannot be read or laid out: no or implausible header, a CRC32 mismatch, partitions that do not fit; context.path names the disk or image when known.",
  efivar_write:
    "A UEFI variable could not be written through efivarfs or reads back different (or the machine did not boot through UEFI); context.variable is Name-GUID.",
  image_integrity:
    "The install stream's bytes are not the image: sha256 or size mismatch, or they do not decompress; context has the expected image sha256 and the byte counts received and written.",
  image_stream_refused:
    "The image server refused the install stream (a 4xx) or ignored a Range request, so resuming cannot help.",
  target_write:
    "The install target refused a write (I/O error, device full, short write); context has the target and the byte offset.",
  inventory_unreadable: "/proc has no processor or no MemTotal: the minimal inventory cannot be sent.",
  http_status:
    "The server answered a loader request with a non-2xx status; context has it and the server's error code and message when it sent our error body.",
  loader_request_timeout:
    "A loader request (agent/shared/http-client.ts) got no whole answer within its time; context has the method, URL and the time allowed.",
  upload_refused:
    "The server refused a captured image's upload (a non-2xx answer); context has the status and the server's error code and message.",
  boot_area_refused:
    "The server refused a boot-area record, or answered with a record that is not the one sent: retrying cannot help.",
  maintenance_image_invalid:
    "A maintenance image cannot be run: download failed, too big, wrong sha256, not zstd, unsafe tar entry, no manifest, or a program without steps.",
  agent_integrity:
    "A tailored agent bundle's sha256 is not the one the server named, or it exports no run(): it is not run; context.sha256 is what arrived.",
  invalid_policy_file:
    "A policy file cannot be used: it does not read, parse or match the schema; context.issues lists each problem with its path and line.",
  invalid_station_file:
    "A factory station file cannot be used: it does not read, parse or match the station schema; context.issues lists each problem with its path and line.",
  template_error:
    "An iPXE template has a placeholder without a value, or a value that would break the script (a line break, whitespace in a URL).",
  invalid_config:
    "The server configuration (flags, environment, file) is contradictory or invalid; the process stops at start-up.",
  init_refused:
    "`bootwright init` will not write the configuration: the file exists (--force replaces it) or nothing names where it goes (--config, BOOTWRIGHT_CONFIG).",
  cron_invalid:
    "A maintenance schedule's cron expression does not parse or never fires; context.field names the field when one is at fault.",
  duration_invalid:
    'A duration ("90s", "20m", "1h30m", or milliseconds) cannot be read; context.text is what was given.',
  power_failed:
    "A power driver (QMP socket, ipmitool to a BMC, a Redfish BMC that cannot be reached, times out or never reaches the power state asked for) could not cycle the machine; context names the target and, for ipmitool, its command words (never the password), exit code and stderr tail; for Redfish, the request.",
  bmc_refused:
    "A Redfish BMC answered a request with an error status (a refused reset, an unknown boot target, a wrong password…); the message carries its own words (error.@Message.ExtendedInfo[].Message) and context its status, MessageIds, method and path. Never the password.",
  bmc_certificate_mismatch:
    "A Redfish BMC offered a TLS certificate whose SHA-256 is not the one pinned at `power set`: nothing (no password) was sent to it; context has both fingerprints. `power set` again to pin a new certificate on purpose.",
  store_copy_failed:
    "Copying one store into another stopped: the destination has rows, a value has no portable form, or a table differs after the copy.",
  server_failure:
    "The server failed at something it should always manage (stored data that no longer parses, a bundle that does not build, a port it cannot listen on); the message names it.",
  tftp_failed:
    "Our TFTP server cannot listen on the site interface's address (port 69 taken, address gone); the server does not start.",
  site_network_invalid:
    "The site-network settings cannot work: no such interface, no IPv4 address on it, a DHCP range outside its network, a boot file missing; the server does not start.",
  dnsmasq_failed:
    "The managed dnsmasq cannot be started (not installed, configuration refused) or keeps dying; context has its last exit code or signal.",
  tls_setup:
    "The server's TLS identity cannot be made or read: openssl failed, the certificate or key file does not read, or the chain lacks the CA machines pin; the server does not start.",
  tls_pin_mismatch:
    "The server's certificate chain holds no certificate with the fingerprint the loader pins (bootwright.ca=): not the server it was sent to, so nothing is sent to it; context lists what it offered.",
  media_build_refused:
    "`bootwright media build` refused before writing anything: a setting does not parse (context.setting: server, ca, static), or a file it needs is missing or unreadable (context.file: the kernel, initramfs, shim, GRUB, the offline image or policy, context.image: an image not in the store or one the media does not carry); the message says which and how to fix it.",
  media_import_refused:
    "`bootwright media import` cannot read the media: no partition labelled BWMEDIA (not our media), or its FAT cannot be read; context.file names a report that does not parse (the others are still imported). Nothing is written for the unreadable part.",
};

/** Every code an error of these processes carries: the in-process catalogue's, or the wire's (ApiError). */
export type BootwrightErrorCode = FailureCode | ErrorCode;

/** A code's context: the catalogue's shape for an in-process code; the HTTP status for a wire code. */
export type FailureContext<C extends BootwrightErrorCode> = C extends FailureCode
  ? Readonly<FailureContexts[C]>
  : { readonly status: number };

/**
 * The base of every error class in agent/, server/ and build-scripts/: a literal `code`, its typed
 * `context` and the original on `cause` (ErrorOptions). `name` is the subclass's name.
 */
export abstract class BootwrightError<C extends BootwrightErrorCode = BootwrightErrorCode> extends Error {
  readonly code: C;
  readonly context: FailureContext<C>;

  constructor(code: C, message: string, context: FailureContext<C>, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.context = context;
  }
}

/** The string `code` of any thrown value that has one (ours, or Node's "ENOENT", undici's "UND_ERR_…"). */
export function codeOf(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null || !("code" in err)) return undefined;
  return typeof err.code === "string" ? err.code : undefined;
}

/**
 * Whether `err` is a failure with this `code`, whichever bundle's copy of its class threw it: only the
 * `code` property is checked, so the narrowing holds for errors built on BootwrightError.
 */
export function hasCode<C extends BootwrightErrorCode>(err: unknown, code: C): err is BootwrightError<C> {
  return codeOf(err) === code;
}
