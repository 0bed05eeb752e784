// A rack relay's nginx configuration (`bootwright relay config`): nginx in front of the servers, next to
// the machines. It proxies the API to every server (passive failover: a server that refuses connections
// or answers 502/503 is skipped for a while, and the request goes to the next) and keeps what is
// content-addressed on its disk, so a rack reads each image across the uplink once: image blobs in
// slices (a machine's Range resume is answered from the cached slices), tailored agents, and the
// loader's kernel and initramfs. It holds no state of its own: another relay on the same config serves
// the same. Pure: the caller writes the file.
import { SERVER_KEEP_ALIVE_MS } from "../tls/listener.js";

/**
 * How long nginx keeps an idle connection to a server: a second less than the server keeps it. Were it
 * longer, nginx could send a request down a connection the server is closing that moment, and answer a
 * POST it may not resend (an enrollment) with 502. With nginx's default 60 s, 4 of 40 bursts after a
 * ~5 s lull failed that way on this host.
 */
const UPSTREAM_IDLE_S = Math.floor(SERVER_KEEP_ALIVE_MS / 1000) - 1;

export interface RelaySettings {
  /** The servers' base URLs (http://host:port). */
  servers: readonly string[];
  /** Where machines reach the relay: an address of its interface, and a port. */
  listen: { address: string; port: number };
  /** The relay's own directory: its cache, nginx's temp files, logs and PID file. */
  dir: string;
  /** How much image data the cache may hold, in nginx's units (e.g. 50g). */
  cacheSize: string;
  /** The user nginx's workers run as (when nginx starts as root): it owns the cache. */
  user: string;
  /** The version of the bootwright writing the config: the relay names itself with it to the servers. */
  version: string;
}

/** A slice is one cached piece of an image: what a resume re-reads at most, and the lock's unit. */
export const SLICE = "4m";

/** host:port of each server, refusing anything but plain http:// base URLs. */
export function upstreamServers(urls: readonly string[]): string[] {
  if (urls.length === 0) throw new Error("relay config: name at least one server (--server URL[,URL…])");
  return urls.map((raw) => {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new Error(`relay config: ${raw} is not a URL`);
    }
    if (url.protocol !== "http:" || (url.pathname !== "/" && url.pathname !== "") || url.search)
      throw new Error(`relay config: ${raw}: give the server's http:// base URL (no path)`);
    return url.port ? url.host : `${url.hostname}:80`;
  });
}

/** What nginx caches for a location: the key names the content, and its answers are kept `valid`. */
function cached(key: string, valid: string): string {
  return `proxy_cache bootwright;
      proxy_cache_key "${key}";
      proxy_cache_valid 200 206 ${valid};
      proxy_cache_lock on;
      proxy_cache_lock_timeout 10m;
      proxy_cache_lock_age 10m;
      proxy_ignore_headers Cache-Control Expires Set-Cookie;
      proxy_buffering on;
      add_header X-Bootwright-Relay-Cache $upstream_cache_status always;`;
}

export function nginxConfig(settings: RelaySettings): string {
  const upstreams = upstreamServers(settings.servers);
  const dir = settings.dir;
  const listen = `${settings.listen.address}:${settings.listen.port}`;
  if (!/^[0-9A-Za-z.+-]+$/.test(settings.version))
    throw new Error(`relay config: version ${settings.version} has characters nginx would misread`);
  // Who passed a request on (server/http/relay-origin.ts), replacing whatever the client sent: the
  // servers then name the relay in what machines fetch next, and list it (GET /v1/servers).
  const relayHeaders = [
    `    proxy_set_header X-Bootwright-Relay "http://${listen}";`,
    `    proxy_set_header X-Bootwright-Relay-Version "${settings.version}";`,
  ].join("\n");
  return `# A bootwright rack relay (written by \`bootwright relay config\`; run: nginx -p ${dir} -c ${dir}/nginx.conf).
user ${settings.user};
worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;

events {
  worker_connections 4096;
}

http {
  # One line per request: what the cache did ($upstream_cache_status) and what crossed the uplink.
  log_format relay '$msec $request_method $uri $status cache=$upstream_cache_status '
                   'upstream=$upstream_addr up_bytes=$upstream_bytes_received sent=$body_bytes_sent '
                   'range="$upstream_http_content_range"';
  access_log ${dir}/logs/access.log relay;
  # Each slice is a subrequest: logged too, so the log shows every uplink read.
  log_subrequest on;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=bootwright:16m max_size=${settings.cacheSize} inactive=30d use_temp_path=off;

  upstream bootwright {
${upstreams.map((hostPort) => `    server ${hostPort} max_fails=1 fail_timeout=5s;`).join("\n")}
    keepalive 64;
    keepalive_timeout ${UPSTREAM_IDLE_S}s;
  }

  server {
    listen ${listen};
    # Captured images are uploaded through the relay too; the servers check their size.
    client_max_body_size 0;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
${relayHeaders}
    proxy_connect_timeout 2s;
    proxy_read_timeout 10m;
    # Passive failover: a server that is down or overloaded is skipped. nginx passes a request with a
    # body on only when it never reached the dead server; see the result location for the one it may
    # resend.
    proxy_next_upstream error timeout http_502 http_503;
    proxy_next_upstream_tries 3;
    # Streams and uploads pass through as they come (image uploads, SSE, the agents' progress).
    proxy_buffering off;
    proxy_request_buffering off;

    location / {
      proxy_pass http://bootwright;
    }

    # A command's result names its lease: the server applies it once and answers a resent one as a
    # duplicate, so nginx may resend it to another server whatever happened to the first.
    location ~ ^/v1/machines/[^/]+/commands/[^/]+/result$ {
      proxy_next_upstream error timeout http_502 http_503 non_idempotent;
      proxy_pass http://bootwright;
    }

    # Image blobs by sha256 and tailored agents (named by theirs), for machines with a credential: a
    # server checks it (once per request, never cached: the key would keep the secret on disk), then the
    # cache below answers. Two hops, because auth_request and slice do not mix in one location.
    location ~ "^/v1/images/[0-9a-f]{64}/blob$" {
      auth_request /_bootwright_relay_auth;
      proxy_pass http://unix:${dir}/cache.sock;
    }
    location ~ "^/v1/agents/[0-9a-f]{64}\\.mjs$" {
      auth_request /_bootwright_relay_auth;
      proxy_pass http://unix:${dir}/cache.sock;
    }

    # The loader's kernel and initramfs (public, what firmware fetches): kept a minute, so an upgrade on
    # the servers reaches the rack within one.
    location ~ ^/assets/(vmlinuz|initramfs\\.img)$ {
      ${cached("asset $uri", "1m")}
      proxy_pass http://bootwright;
    }

    location = /_bootwright_relay_auth {
      internal;
      proxy_pass http://bootwright/v1/relay/auth;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Range "";
${relayHeaders}
    }
  }
  # The cache, behind the checked locations above (a socket only this host reaches). Blobs slice by
  # slice: a Range resume is answered from the cached slices, and concurrent machines wait on one
  # server read per slice.
  server {
    listen unix:${dir}/cache.sock;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_connect_timeout 2s;
    proxy_read_timeout 10m;
    proxy_next_upstream error timeout http_502 http_503;
    proxy_next_upstream_tries 3;

    location ~ "^/v1/images/[0-9a-f]{64}/blob$" {
      slice ${SLICE};
      proxy_set_header Connection "";
      proxy_set_header Range $slice_range;
      ${cached("blob $uri $slice_range", "30d")}
      proxy_pass http://bootwright;
    }
    location ~ "^/v1/agents/[0-9a-f]{64}\\.mjs$" {
      ${cached("agent $uri", "30d")}
      proxy_pass http://bootwright;
    }
    location / {
      return 404;
    }
  }
}
`;
}
