// CLI for the site network: `bootwright site` (the managed dnsmasq and TFTP server) and
// `bootwright boot-log [<mac>]` (what machines asked for on their way to the loader, in order) and
// `bootwright servers` (the servers sharing the store, with their heartbeats and periodic work).
import type { Command } from "commander";
import { BootLog, ServerList, SiteStatus } from "../../protocol/index.js";
import { clientServerUrl } from "../config.js";
import { getJson, print, SERVER_HELP, type ClientOptions } from "./api-client.js";
import { formatTable } from "./format.js";

export function formatBootLog(log: BootLog): string {
  if (log.events.length === 0) return "no boot requests logged yet";
  return formatTable(
    ["AT", "MAC", "ADDRESS", "SOURCE", "EVENT", "DETAIL"],
    log.events.map((e) => [e.at, e.mac ?? "-", e.address ?? "-", e.source, e.event, e.detail]),
  );
}

export function formatServers(list: ServerList): string {
  const table = formatTable(
    ["ID", "VERSION", "URL", "HEARTBEAT", "STATE", "PERIODIC WORK"],
    list.servers.map((s) => [
      s.id,
      s.version,
      s.url,
      s.heartbeatAt,
      s.alive ? "alive" : "gone",
      s.duties.join(",") || "-",
    ]),
  );
  const relays =
    list.relays.length === 0
      ? "relays: none seen (a relay shows once a machine's or operator's request passed through it)"
      : `relays:\n${formatTable(
          ["URL", "VERSION", "HEARTBEAT"],
          list.relays.map((r) => [r.url, r.version, r.heartbeatAt]),
        )}`;
  return `coordination: ${list.coordination}\n${table}\n${relays}`;
}

export function formatSite(site: SiteStatus): string {
  if (site.dhcp === "off") return "dhcp off: the site's DHCP server sends machines to /boot.ipxe itself";
  const d = site.dnsmasq;
  const exit = d?.lastExit
    ? `; last exit ${d.lastExit.at} (${d.lastExit.signal ?? `code ${String(d.lastExit.code)}`}: ${d.lastExit.reason})`
    : "";
  return [
    `dhcp        ${site.dhcp} on ${site.interface ?? "-"} (${site.address ?? "-"})`,
    `uefi pxe    ${site.uefiPxe ?? "-"}`,
    `tftp        ${site.tftp ? `${site.tftp.address}:${site.tftp.port}` : "-"}`,
    `dnsmasq     ${d?.pid ? `pid ${d.pid}` : "not running"}, restarts ${d?.restarts ?? 0}${exit}`,
    `config      ${site.configFile ?? "-"}`,
  ].join("\n");
}

export function addSiteCommands(program: Command): void {
  program
    .command("site")
    .description("the site network: managed dnsmasq (proxy or full DHCP) and the TFTP server")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (opts: ClientOptions) => {
      const site = SiteStatus.parse(await getJson(`${clientServerUrl(opts.server)}/v1/site`));
      print(opts, site, () => formatSite(site));
    });

  program
    .command("servers")
    .description(
      "the servers sharing the store (versions, last heartbeat, which periodic work each holds) and the relays",
    )
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (opts: ClientOptions) => {
      const list = ServerList.parse(await getJson(`${clientServerUrl(opts.server)}/v1/servers`));
      print(opts, list, () => formatServers(list));
    });

  program
    .command("boot-log")
    .description("what machines asked for on their way to the loader: DHCP, TFTP and HTTP, in order")
    .argument("[mac]", "one machine's boot NIC")
    .option("--limit <n>", "the newest n events (default 500)")
    .option("--json", "print JSON")
    .option("--server <url>", SERVER_HELP)
    .action(async (mac: string | undefined, opts: ClientOptions & { limit?: string }) => {
      const query = new URLSearchParams();
      if (mac) query.set("mac", mac.toLowerCase());
      if (opts.limit) query.set("limit", opts.limit);
      const log = BootLog.parse(
        await getJson(`${clientServerUrl(opts.server)}/v1/boot-log?${query.toString()}`),
      );
      print(opts, log, () => formatBootLog(log));
    });
}
