// Picks the power driver for a machine's settings (kept apart from driver.ts, which the drivers import).
import type { PowerSettings } from "../../protocol/index.js";
import type { PowerDriver } from "./driver.js";
import { IpmiPowerDriver } from "./ipmi.js";
import { QmpPowerDriver } from "./qmp.js";
import { RedfishPowerDriver } from "./redfish.js";

/** The driver for a machine's settings; undefined for `none` (reboots happen in band or by hand). */
export function powerDriverFor(settings: PowerSettings): PowerDriver | undefined {
  switch (settings.driver) {
    case "qmp":
      return new QmpPowerDriver(settings.socket);
    case "ipmi":
      return new IpmiPowerDriver(settings);
    case "redfish":
      return new RedfishPowerDriver(settings);
    case "none":
      return undefined;
  }
}
