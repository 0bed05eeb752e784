// CLI for rack relays: `bootwright relay config` writes the nginx configuration of a relay next to the
// machines (server/relay/nginx-config.ts says what it proxies and caches) and, beside it, the dnsmasq
// configuration that boots the rack's machines through the relay (proxyDHCP + TFTP naming the relay).
import { resolve } from "node:path";
import type { Command } from "commander";
import { INSTALL_ROOT } from "../install-root.js";
import { packageVersion } from "../http/openapi.js";
import { NGINX, writeRelayConfig, writeRelayDnsmasqConfig } from "../relay/relay-files.js";
import { interfaceAddress } from "../site/interface.js";

interface RelayConfigOptions {
  server: string;
  interface: string;
  port: string;
  dir: string;
  cacheSize: string;
  user: string;
  dhcp: string;
  uefiPxe: string;
  bootFiles: string;
}

export function addRelayCommands(program: Command): void {
  const relay = program.command("relay").description("rack relays: nginx and dnsmasq next to the machines");
  relay
    .command("config")
    .description(
      "write a relay's nginx configuration (proxy the API to the servers, cache images) and its dnsmasq one (boot machines through it)",
    )
    .requiredOption("--server <url[,url…]>", "the servers' base URLs, comma-separated")
    .requiredOption("--interface <name>", "the interface the rack's machines reach the relay on")
    .option("--port <port>", "the port to listen on", "8080")
    .option(
      "--dir <dir>",
      "the relay's directory: nginx.conf, dnsmasq.conf, cache, logs",
      "/var/lib/bootwright-relay",
    )
    .option("--cache-size <size>", "the most image data to keep (nginx units: 50g)", "50g")
    .option("--user <name>", "the user nginx's workers run as", "www-data")
    .option(
      "--dhcp <mode>",
      "proxy: also write dnsmasq.conf (proxyDHCP + TFTP to the relay); off: nginx only",
      "proxy",
    )
    .option("--uefi-pxe <program>", "what UEFI PXE clients get over TFTP: ipxe or snponly", "ipxe")
    .option(
      "--boot-files <dir>",
      "the network boot programs (undionly.kpxe, ipxe.efi…)",
      resolve(INSTALL_ROOT, "build/boot-files"),
    )
    .action(async (opts: RelayConfigOptions) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 1 || port > 65_535)
        throw new Error(`relay config: --port ${opts.port} is not a port`);
      if (opts.dhcp !== "proxy" && opts.dhcp !== "off")
        throw new Error(`relay config: --dhcp is proxy or off, not ${opts.dhcp}`);
      if (opts.uefiPxe !== "ipxe" && opts.uefiPxe !== "snponly")
        throw new Error(`relay config: --uefi-pxe is ipxe or snponly on a relay, not ${opts.uefiPxe}`);
      const on = interfaceAddress(opts.interface);
      const file = await writeRelayConfig({
        servers: opts.server.split(",").map((s) => s.trim()),
        listen: { address: on.address, port },
        dir: opts.dir,
        cacheSize: opts.cacheSize,
        user: opts.user,
        version: packageVersion(),
      });
      console.log(`${file}\nstart it: ${NGINX} -p ${opts.dir} -c ${file}`);
      if (opts.dhcp === "off") return;
      const dnsmasq = await writeRelayDnsmasqConfig({
        on,
        port,
        dir: opts.dir,
        bootFilesDir: resolve(opts.bootFiles),
        uefiPxe: opts.uefiPxe,
      });
      console.log(`${dnsmasq}\nstart it: dnsmasq --keep-in-foreground --conf-file=${dnsmasq}`);
    });
}
