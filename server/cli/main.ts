// The bootwright command line (commander). It only wires: parse flags, call the server module or the API.
import { Command, Option } from "commander";
import { BootList } from "../../protocol/index.js";
import { clientServerUrl, loadServerConfig } from "../config.js";
import { getJson, SERVER_HELP } from "./api-client.js";
import { formatBootList } from "./format.js";
import { addMachineShow } from "./machine-show.js";
import { addImageCommands } from "./image-commands.js";
import { addMaintenanceCommands } from "./maintenance-commands.js";
import { addPowerCommands } from "./power-commands.js";
import { addPolicyCommands } from "./policy-commands.js";
import { addQueueCommands } from "./queue-commands.js";
import { addSiteCommands } from "./site-commands.js";
import { addRelayCommands } from "./relay-commands.js";
import { addAuthCommands } from "./auth-commands.js";
import { addEnrollmentCommands } from "./enrollment-commands.js";
import { addLifecycleCommands, addMachineDelete } from "./lifecycle-commands.js";
import { addSmbiosCommand } from "./smbios-command.js";
import { addStoreCommands } from "./store-commands.js";
import { addReleaseCommands } from "./release-commands.js";
import { addDriverCommands } from "./driver-commands.js";
import { addInitCommand } from "./init-command.js";
import { addWatchCommand } from "./watch-command.js";
import { addMediaCommands } from "./media-commands.js";
import { addFactoryCommands } from "./factory-commands.js";

const program = new Command()
  .name("bootwright")
  .description("Network-boot provisioning for bare metal")
  .showHelpAfterError();

/** The server's flags, shared by `server` and `factory` (which adds its station and forces full DHCP). */
function withServerOptions(command: Command): Command {
  return command
    .option("--host <address>", "address to listen on (default 0.0.0.0)")
    .option("--port <port>", "port to listen on (default 8080; 0 picks a free one)")
    .option(
      "--advertise-url <url>",
      "URL machines use to reach the server, e.g. http://10.0.2.2:8080 ({port} = bound port)",
    )
    .option("--data-dir <dir>", "where images, agents and the SQLite store live (default ./var)")
    .option("--store <store>", "sqlite:<file> or postgres://… (default sqlite:<data-dir>/bootwright.sqlite)")
    .option("--kernel <file>", "loader kernel (default build/kernel/vmlinuz)")
    .option("--initramfs <file>", "loader initramfs (default build/initramfs.img)")
    .option("--config <file>", "JSON config file (flags > environment > file > defaults)")
    .option("--policy <file>", "policy file (.yaml/.json) to load at start-up; a bad one stops start-up")
    .addOption(
      new Option(
        "--dhcp <mode>",
        "managed dnsmasq: proxy (beside the site's DHCP) or full (isolated network)",
      ).choices(["off", "proxy", "full"]),
    )
    .option("--interface <name>", "the provisioning network's interface (with --dhcp proxy|full)")
    .option("--range <first-last>", "addresses --dhcp full leases, e.g. 10.0.0.100-10.0.0.200")
    .addOption(
      new Option(
        "--uefi-pxe <program>",
        "what UEFI PXE clients get: ipxe, snponly, or shim (Secure Boot)",
      ).choices(["ipxe", "snponly", "shim"]),
    )
    .option("--boot-files <dir>", "iPXE, shim and signed GRUB for TFTP (default build/boot-files)")
    .option("--socket <path>", "also serve the API on this Unix socket")
    .addOption(
      new Option("--tls <mode>", "TLS for the API: auto makes a CA and certificate on first start").choices([
        "off",
        "auto",
      ]),
    )
    .option("--tls-cert <file>", "the site's certificate chain (PEM: the server's first, its CA last)")
    .option("--tls-key <file>", "the key of --tls-cert's certificate")
    .addOption(
      new Option("--log-level <level>").choices([
        "fatal",
        "error",
        "warn",
        "info",
        "debug",
        "trace",
        "silent",
      ]),
    );
}

/** Starts the server from the flags (and `extra`, which wins): `server` and `factory` run the same one. */
async function startFromOptions(
  opts: Record<string, string | undefined>,
  extra: { dhcp?: string; stationFile?: string } = {},
): Promise<void> {
  const config = loadServerConfig(
    {
      host: opts.host,
      port: opts.port,
      advertiseUrl: opts.advertiseUrl,
      dataDir: opts.dataDir,
      store: opts.store,
      kernelPath: opts.kernel,
      initramfsPath: opts.initramfs,
      logLevel: opts.logLevel,
      policyFile: opts.policy,
      dhcp: extra.dhcp ?? opts.dhcp,
      stationFile: extra.stationFile,
      interface: opts.interface,
      dhcpRange: opts.range,
      uefiPxe: opts.uefiPxe,
      bootFilesDir: opts.bootFiles,
      socket: opts.socket,
      tls: opts.tls,
      tlsCert: opts.tlsCert,
      tlsKey: opts.tlsKey,
    },
    opts.config ? { configFile: opts.config } : {},
  );
  // The server (fastify, the stores, the builders) is loaded only for this command: `bootwright --help`
  // and the API clients start without it.
  const { startServer } = await import("../server.js");
  const server = await startServer(config);
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

withServerOptions(
  program
    .command("server")
    .description("run the bootwright server (embedded SQLite store, or PostgreSQL with --store)"),
).action((opts: Record<string, string | undefined>) => startFromOptions(opts));

addFactoryCommands(program, (command) =>
  withServerOptions(command).action((opts: Record<string, string | undefined>) => {
    const station = opts.station;
    if (station === undefined) return command.error("error: bootwright factory needs --station <file>");
    return startFromOptions(opts, { dhcp: "full", stationFile: station });
  }),
);

const machines = program
  .command("machines")
  .description("show the boot list: every machine and its boot category")
  .option("--json", "print JSON")
  .option("--server <url>", SERVER_HELP)
  .action(async (opts: { json?: boolean; server?: string }) => {
    const list = BootList.parse(await getJson(`${clientServerUrl(opts.server)}/v1/machines`));
    console.log(opts.json ? JSON.stringify(list, null, 2) : formatBootList(list.machines));
  });

addMachineShow(machines);
addMachineDelete(machines);
addQueueCommands(program);
addEnrollmentCommands(program);
addLifecycleCommands(program);
addPolicyCommands(program);
addImageCommands(program);
addMaintenanceCommands(program);
addPowerCommands(program);
addSiteCommands(program);
addRelayCommands(program);
addAuthCommands(program);
addSmbiosCommand(program);
addStoreCommands(program);
addReleaseCommands(program);
addDriverCommands(program);
addInitCommand(program);
addWatchCommand(program);
addMediaCommands(program);

program.parseAsync().catch((err: unknown) => {
  console.error(`bootwright: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
