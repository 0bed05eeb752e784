// Picks the power driver for a machine's settings (kept apart from driver.ts, which the drivers import).
import type { PowerSettings } from "../../protocol/index.js";
import type { PowerDriver, VirtualMediaSource } from "./driver.js";
import { IpmiPowerDriver } from "./ipmi.js";
import { QmpPowerDriver } from "./qmp.js";
import { RedfishPowerDriver } from "./redfish.js";

/**
 * The driver for a machine's settings; undefined for `none` (reboots happen in band or by hand).
 * `media` is what a Redfish driver set to boot virtual media inserts.
 */
export function powerDriverFor(settings: PowerSettings, media?: VirtualMediaSource): PowerDriver | undefined {
  switch (settings.driver) {
    case "qmp":
      return new QmpPowerDriver(settings.socket);
    case "ipmi":
      return new IpmiPowerDriver(settings);
    case "redfish":
      return new RedfishPowerDriver(settings, media);
    case "none":
      return undefined;
  }
}
