// CLI for machines' power drivers and out-of-band BIOS settings: power set|show|cycle, bios apply (each
// with --json). Secrets come from the environment (--password-env), never the command line.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { BiosApplyResult, PowerResult, PowerView, type PowerSettingsInput } from "../../protocol/index.js";
import { clientServerUrl } from "../config.js";
import { parseDuration } from "../maintenance/duration.js";
import { getJson, print, requestJson, SERVER_HELP, type ClientOptions } from "./api-client.js";
import { machinePath } from "./maintenance-commands.js";

/** The server bounds a BMC's work itself (graceful wait, reset, read-backs): the CLI waits longer. */
const BMC_WAIT_MS = 15 * 60_000;

interface PowerSetOptions extends ClientOptions {
  driver: string;
  socket?: string;
  host?: string;
  port?: string;
  url?: string;
  user?: string;
  passwordEnv?: string;
  certSha256?: string;
  ca?: string;
  system?: string;
  gracefulTimeout?: string;
  boot?: string;
}

function describePower(machine: string, view: PowerView): string {
  const lines = [`${machine}: power driver ${view.driver}${view.target ? ` (${view.target})` : ""}`];
  const cert = view.certificate;
  if (cert?.pin && cert.firstUse)
    lines.push(
      `  BMC certificate ${cert.pin} pinned on first use: compare it with the certificate the BMC's own console shows`,
    );
  else if (cert?.pin) lines.push(`  BMC certificate ${cert.pin} pinned as given`);
  else if (cert?.ca) lines.push("  BMC certificate checked against the CA given");
  if (view.boot === "virtual-media")
    lines.push(
      "  a power cycle boots the server's rescue media from the BMC's virtual CD (ejected once enrolled)",
    );
  return lines.join("\n");
}

/**
 * The password from the variable --password-env names; never a flag (argv shows in `ps`). IPMI users
 * may have none; a Redfish login always has one.
 */
function passwordFrom(opts: PowerSetOptions, required: boolean): string {
  if (!opts.passwordEnv) {
    if (!required) return "";
    throw new Error(`--driver ${opts.driver} needs --password-env <VAR>`);
  }
  const password = process.env[opts.passwordEnv];
  if (password === undefined) throw new Error(`the environment variable ${opts.passwordEnv} is not set`);
  return password;
}

function bootVia(value: string): "pxe" | "virtual-media" {
  if (value !== "pxe" && value !== "virtual-media")
    throw new Error(`--boot must be pxe or virtual-media (got ${value})`);
  return value;
}

function powerSettings(opts: PowerSetOptions): PowerSettingsInput {
  switch (opts.driver) {
    case "qmp":
      return { driver: "qmp", socket: opts.socket ?? "" };
    case "ipmi":
      return {
        driver: "ipmi",
        host: opts.host ?? "",
        ...(opts.port ? { port: Number(opts.port) } : {}),
        username: opts.user ?? "",
        password: passwordFrom(opts, false),
      };
    case "redfish": {
      if (opts.certSha256 && opts.ca) throw new Error("give --cert-sha256 or --ca, not both");
      const pin = opts.certSha256?.toLowerCase();
      return {
        driver: "redfish",
        url: opts.url ?? "",
        username: opts.user ?? "",
        password: passwordFrom(opts, true),
        ...(pin
          ? { tls: { pin: pin.startsWith("sha256:") ? pin : `sha256:${pin.replaceAll(":", "")}` } }
          : {}),
        ...(opts.ca ? { tls: { ca: readFileSync(opts.ca, "utf8") } } : {}),
        ...(opts.system ? { system: opts.system } : {}),
        ...(opts.gracefulTimeout ? { gracefulTimeoutMs: parseDuration(opts.gracefulTimeout) } : {}),
        ...(opts.boot ? { boot: bootVia(opts.boot) } : {}),
      };
    }
    case "none":
      return { driver: "none" };
    default:
      throw new Error(`--driver must be qmp, ipmi, redfish or none (got ${opts.driver})`);
  }
}

function describeBios(result: BiosApplyResult): string {
  const staged = Object.entries(result.staged).map(([name, value]) => `${name}=${String(value)}`);
  const lines = [
    `${result.machineId}: staged ${staged.join(", ")}; reset ${result.power.ok ? `in ${result.power.ms} ms` : `failed: ${result.power.error ?? "?"}`}; ${result.applied ? "applied by the firmware" : "NOT reported applied by the BMC"}`,
  ];
  for (const d of result.differences)
    lines.push(
      `  DIFFERS ${d.name}: wanted ${String(d.wanted)}, reads ${d.actual === null ? "(absent)" : String(d.actual)}`,
    );
  for (const message of result.messages) lines.push(`  BMC: ${message}`);
  if (result.differences.length === 0 && result.applied) lines.push("  every attribute reads back as staged");
  return lines.join("\n");
}

export function addPowerCommands(program: Command): void {
  const power = program.command("power").description("a machine's power driver (how the server reboots it)");
  power
    .command("set")
    .argument("<machine>", "machine id")
    .requiredOption("--driver <driver>", "qmp, ipmi, redfish or none")
    .option("--socket <path>", "qmp: the VM's QMP socket")
    .option("--host <host>", "ipmi: the BMC's address")
    .option("--port <port>", "ipmi: the BMC's port (623)")
    .option("--url <url>", "redfish: the BMC's https:// address")
    .option("--user <name>", "ipmi, redfish: user name")
    .option(
      "--password-env <var>",
      "ipmi, redfish: the environment variable holding the password (never on the command line)",
    )
    .option(
      "--cert-sha256 <hex>",
      "redfish: the BMC certificate's SHA-256 to pin (default: the one it offers now, shown to you)",
    )
    .option("--ca <file>", "redfish: a CA (PEM) the BMC's certificate must chain to, instead of a pin")
    .option("--system <path>", "redfish: the ComputerSystem (default: the BMC's only one)")
    .option("--graceful-timeout <duration>", "redfish: wait for a graceful shutdown before forcing it (60s)")
    .option(
      "--boot <how>",
      "redfish: what a power cycle boots: pxe (default), or virtual-media (the server's rescue ISO in the BMC's virtual CD)",
    )
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (machine: string, opts: PowerSetOptions) => {
      const view = PowerView.parse(
        await requestJson(machinePath(clientServerUrl(opts.server), machine, "/power"), {
          method: "PUT",
          body: powerSettings(opts),
          timeoutMs: 90_000,
        }),
      );
      print(opts, view, () => describePower(machine, view));
    });
  power
    .command("show")
    .argument("<machine>", "machine id")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (machine: string, opts: ClientOptions) => {
      const view = PowerView.parse(
        await getJson(machinePath(clientServerUrl(opts.server), machine, "/power")),
      );
      print(opts, view, () => describePower(machine, view));
    });
  power
    .command("cycle")
    .description("reboot the machine through its power driver")
    .argument("<machine>", "machine id")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (machine: string, opts: ClientOptions) => {
      const result = PowerResult.parse(
        await requestJson(machinePath(clientServerUrl(opts.server), machine, "/power/cycle"), {
          method: "POST",
          timeoutMs: BMC_WAIT_MS,
        }),
      );
      print(opts, result, () =>
        result.ok
          ? `${machine}: power cycled by ${result.driver} in ${result.ms} ms`
          : `${machine}: ${result.error ?? "failed"}`,
      );
      if (!result.ok) process.exitCode = 1;
    });

  program
    .command("bios")
    .description("BIOS settings through the machine's BMC (Redfish)")
    .command("apply")
    .description("stage the plan's bios.attributes, reset the machine, read them back")
    .argument("<machine>", "machine id")
    .option("--wait <duration>", "how long the firmware may take to apply them after the reset (2m)")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (machine: string, opts: ClientOptions & { wait?: string }) => {
      const result = BiosApplyResult.parse(
        await requestJson(machinePath(clientServerUrl(opts.server), machine, "/bios/apply"), {
          method: "POST",
          body: opts.wait ? { waitMs: parseDuration(opts.wait) } : {},
          timeoutMs: BMC_WAIT_MS,
        }),
      );
      print(opts, result, () => describeBios(result));
      if (!result.power.ok || !result.applied || result.differences.length > 0) process.exitCode = 1;
    });
}
