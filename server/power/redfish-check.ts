// `power set … --driver redfish`: before the settings are stored the server reaches the BMC once, pins its
// certificate when the operator gave neither a pin nor a CA (trust on first use: the answer shows the
// fingerprint, to compare with the BMC's own console), logs in and finds the ComputerSystem. Settings
// that cannot work are refused then, not at the first reboot.
import { codeOf, type RedfishSettings } from "../../protocol/index.js";
import { ApiError } from "../errors.js";
import { RedfishClient } from "./redfish-client.js";
import { offeredCertificatePin } from "./redfish-http.js";

const CHECK_TIMEOUT_MS = 60_000;

/** The settings to store: with `tls` and `system` filled in. Throws ApiError power_check_failed. */
export async function checkRedfish(settings: RedfishSettings): Promise<RedfishSettings> {
  const signal = AbortSignal.timeout(CHECK_TIMEOUT_MS);
  try {
    const tls = settings.tls ?? { pin: await offeredCertificatePin(settings.url, signal), firstUse: true };
    const client = await RedfishClient.open({ ...settings, tls }, signal);
    try {
      // Reading the system proves the credentials (the service root alone needs none).
      await client.system(signal);
      return { ...settings, tls, system: client.systemPath };
    } finally {
      await client.close();
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ApiError(
      "power_check_failed",
      `power settings not stored: ${message}`,
      { bmc: settings.url, cause: codeOf(err) ?? null },
      { cause: err },
    );
  }
}
