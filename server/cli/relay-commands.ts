// CLI for rack relays: `bootwright relay config` writes the nginx configuration of a relay next to the
// machines (server/relay/nginx-config.ts says what it proxies and caches).
import type { Command } from "commander";
import { interfaceAddress, NGINX, writeRelayConfig } from "../relay/relay-files.js";

interface RelayConfigOptions {
  server: string;
  interface: string;
  port: string;
  dir: string;
  cacheSize: string;
  user: string;
}

export function addRelayCommands(program: Command): void {
  const relay = program.command("relay").description("rack relays: nginx next to the machines");
  relay
    .command("config")
    .description("write a relay's nginx configuration: proxy the API to the servers, cache images")
    .requiredOption("--server <url[,url…]>", "the servers' base URLs, comma-separated")
    .requiredOption("--interface <name>", "the interface the rack's machines reach the relay on")
    .option("--port <port>", "the port to listen on", "8080")
    .option("--dir <dir>", "the relay's directory: nginx.conf, cache, logs", "/var/lib/bootwright-relay")
    .option("--cache-size <size>", "the most image data to keep (nginx units: 50g)", "50g")
    .option("--user <name>", "the user nginx's workers run as", "www-data")
    .action(async (opts: RelayConfigOptions) => {
      const port = Number(opts.port);
      if (!Number.isInteger(port) || port < 1 || port > 65_535)
        throw new Error(`relay config: --port ${opts.port} is not a port`);
      const file = await writeRelayConfig({
        servers: opts.server.split(",").map((s) => s.trim()),
        listen: { address: interfaceAddress(opts.interface), port },
        dir: opts.dir,
        cacheSize: opts.cacheSize,
        user: opts.user,
      });
      console.log(`${file}\nstart it: ${NGINX} -p ${opts.dir} -c ${file}`);
    });
}
