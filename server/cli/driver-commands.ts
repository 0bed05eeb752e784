// `bootwright drivers <machine>`: each PCI device, its ids and class, the module that claims it (from the
// initramfs, sent on demand, built in) or why none does.
import type { Command } from "commander";
import { MachineDrivers } from "../../protocol/index.js";
import { clientServerUrl } from "../config.js";
import { getJson, print, SERVER_HELP, type ClientOptions } from "./api-client.js";
import { formatTable } from "./format.js";

export function addDriverCommands(program: Command): void {
  program
    .command("drivers")
    .description("show a machine's PCI devices and the driver that claims each (or why none does)")
    .argument("<machine>", "machine id")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (machine: string, opts: ClientOptions) => {
      const drivers = MachineDrivers.parse(
        await getJson(`${clientServerUrl(opts.server)}/v1/machines/${encodeURIComponent(machine)}/drivers`),
      );
      print(opts, drivers, () => {
        if (!drivers.devices.length)
          return `${machine}: its inventory lists no PCI devices (an older loader)`;
        const table = formatTable(
          ["PCI", "VENDOR:DEVICE", "CLASS", "KIND", "DRIVER", "FROM", "WHY NONE"],
          drivers.devices.map((d) => [
            d.address,
            `${d.vendorId.replace(/^0x/, "")}:${d.deviceId.replace(/^0x/, "")}`,
            d.classCode,
            d.kind,
            d.module ?? d.driver ?? "-",
            d.source ?? "",
            d.reason ?? "",
          ]),
        );
        const loaded = drivers.loaded.length
          ? `\nsent on demand and loaded: ${drivers.loaded.join(", ")}`
          : "";
        const failed = drivers.failures.map((f) => `\nfailed to load: ${f.module}: ${f.message}`).join("");
        return `${table}${loaded}${failed}`;
      });
    });
}
