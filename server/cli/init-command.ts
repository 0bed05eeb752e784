// `bootwright init`: writes a new install's first configuration and prints its first admin token
// (server/first-run.ts does the work). Run as root after installing the package, before starting the unit.
import { Option, type Command } from "commander";
import { firstAdminNotice } from "../auth/service.js";

interface InitOptions {
  config?: string;
  host?: string;
  port?: string;
  advertiseUrl?: string;
  dataDir?: string;
  store?: string;
  dhcp?: "off" | "proxy" | "full";
  interface?: string;
  range?: string;
  tls?: "off" | "auto";
  force?: boolean;
  json?: boolean;
}

export function addInitCommand(program: Command): void {
  program
    .command("init")
    .description("write a first configuration file, make the store ready and print the first admin token")
    .option(
      "--config <file>",
      "the file to write (default $BOOTWRIGHT_CONFIG; the package: /etc/bootwright/config.json)",
    )
    .option("--host <address>", "address to listen on (default 0.0.0.0)")
    .option("--port <port>", "port to listen on (default 8080)")
    .option("--advertise-url <url>", "URL machines use to reach the server, e.g. http://10.0.0.1:8080")
    .option("--data-dir <dir>", "the state (default ./var; the package: /var/lib/bootwright)")
    .option("--store <store>", "sqlite:<file> or postgres://… (default sqlite:<data-dir>/bootwright.sqlite)")
    .addOption(new Option("--dhcp <mode>", "managed dnsmasq").choices(["off", "proxy", "full"]))
    .option("--interface <name>", "the provisioning network's interface (with --dhcp proxy|full)")
    .option("--range <first-last>", "addresses --dhcp full leases")
    .addOption(new Option("--tls <mode>", "TLS for the API").choices(["off", "auto"]))
    .option("--force", "replace an existing configuration file")
    .option("--json", "print JSON (the token included)")
    .action(async (opts: InitOptions) => {
      const { initInstall } = await import("../first-run.js");
      const done = await initInstall(
        {
          host: opts.host,
          port: opts.port === undefined ? undefined : Number(opts.port),
          advertiseUrl: opts.advertiseUrl,
          dataDir: opts.dataDir,
          store: opts.store,
          dhcp: opts.dhcp,
          interface: opts.interface,
          dhcpRange: opts.range,
          tls: opts.tls,
        },
        { ...(opts.config === undefined ? {} : { configFile: opts.config }), force: opts.force === true },
      );
      if (opts.json) {
        console.log(JSON.stringify(done, null, 2));
        return;
      }
      console.log(`wrote ${done.configFile}; the state is in ${done.dataDir}, its store ready`);
      console.log(
        done.adminToken === null
          ? "an admin token exists already: none made (bootwright token create makes more)"
          : firstAdminNotice(done.adminToken, done.adminTokenFile).trimEnd(),
      );
      console.log("start it: systemctl enable --now bootwright (or bootwright server)");
    });
}
