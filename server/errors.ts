// The server's errors: ApiError, a refusal with a stable code from protocol/errors.ts, a message and details
// for the wire; ServerError for any other failure. One place maps codes to HTTP status (style.md §7).
import { BootwrightError, codeOf, ERROR_CODES, type ErrorCode } from "../protocol/index.js";

export class ApiError extends BootwrightError<ErrorCode> {
  constructor(
    code: ErrorCode,
    message: string,
    /** What the wire sends as `details`, as given. */
    readonly details?: unknown,
    options?: ErrorOptions,
  ) {
    super(code, message, { status: HTTP_STATUS[code] }, options);
  }
}

/** Whether `err` is an ApiError, matched by its code (a wire code: no in-process code is one). */
export function isApiError(err: unknown): err is ApiError {
  const code = codeOf(err);
  return code !== undefined && Object.hasOwn(ERROR_CODES, code);
}

export const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_json: 400,
  invalid_parameter: 400,
  body_too_large: 413,
  unsupported_media_type: 415,
  schema_mismatch: 422,
  not_found: 404,
  lease_refused: 409,
  method_not_allowed: 405,
  invalid_policy: 422,
  invalid_station: 422,
  image_invalid: 422,
  image_conflict: 409,
  insufficient_storage: 507,
  range_not_satisfiable: 416,
  upload_offset: 409,
  capture_in_progress: 409,
  maintenance_refused: 409,
  schedule_invalid: 422,
  boot_area_invalid: 422,
  unauthenticated: 401,
  forbidden: 403,
  wrong_machine: 403,
  tls_required: 403,
  headers_too_large: 431,
  malformed_request: 400,
  request_timeout: 408,
  rate_limited: 429,
  awaiting_approval: 403,
  enrollment_held: 409,
  replan_refused: 409,
  machine_busy: 409,
  image_in_use: 409,
  kernel_unknown: 404,
  power_check_failed: 502,
  bios_unavailable: 409,
  bios_invalid: 422,
  internal: 500,
};

/** Any other failure of the server itself: names what it was doing, keeps the original on `cause`. */
export class ServerError extends BootwrightError<"server_failure"> {
  constructor(message: string, options?: ErrorOptions) {
    super("server_failure", message, {}, options);
  }
}
