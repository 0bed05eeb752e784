// A site network for VM tests, in network namespaces the test creates and deletes (never the host's own
// interfaces): a bridge with our server's address and tap devices for VMs; a second namespace joined by
// a veth as the site's own DHCP server (Debian's dnsmasq, plain DHCP, no boot options); a third as the
// switch announcing itself with LLDP (Debian's lldpd). Every process is started here and stopped by PID.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { REPO_ROOT } from "./paths.js";

const LLDPD_ROOT = join(REPO_ROOT, "build/tools/lldpd");

function ip(args: string[]): void {
  const result = spawnSync("ip", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`ip ${args.join(" ")} failed: ${result.stderr.trim()}`);
}

/** Stops a child by its PID: SIGTERM, then SIGKILL after 5 s. */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) =>
    child.once("exit", () => {
      done();
    }),
  );
  child.kill("SIGTERM");
  const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(killer);
}

export interface SiteNetworkOptions {
  /** Short and unique: namespace names are derived from it. */
  name: string;
  /** The /24 prefix, e.g. "10.77.0": the server is .1, the site DHCP server .2, leases .100-.150. */
  prefix: string;
  workDir: string;
}

export class SiteNetwork {
  readonly namespace: string;
  readonly serverAddress: string;
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];
  private taps = 0;

  constructor(private readonly options: SiteNetworkOptions) {
    this.namespace = `bw-${options.name}-${process.pid}`;
    this.serverAddress = `${options.prefix}.1`;
  }

  /** The segment: br0 with the server's address; LLDP frames (01:80:c2:00:00:0e) forwarded between ports. */
  create(): this {
    mkdirSync(this.options.workDir, { recursive: true });
    ip(["netns", "add", this.namespace]);
    this.namespaces.push(this.namespace);
    const inNs = ["-n", this.namespace];
    ip([...inNs, "link", "set", "lo", "up"]);
    ip([...inNs, "link", "add", "br0", "type", "bridge", "group_fwd_mask", "0x4000"]);
    ip([...inNs, "addr", "add", `${this.serverAddress}/24`, "dev", "br0"]);
    ip([...inNs, "link", "set", "br0", "up"]);
    return this;
  }

  /** A new tap device on the bridge, for one VM's NIC. */
  addTap(): { namespace: string; tap: string } {
    const tap = `tap${this.taps++}`;
    ip(["-n", this.namespace, "tuntap", "add", tap, "mode", "tap"]);
    ip(["-n", this.namespace, "link", "set", tap, "master", "br0", "up"]);
    return { namespace: this.namespace, tap };
  }

  /** Another host on the segment: a namespace of its own whose eth0 (a veth) is a bridge port. */
  private addHost(role: string, address: string | undefined, port: string): string {
    const ns = `bw-${this.options.name}-${role}-${process.pid}`;
    ip(["netns", "add", ns]);
    this.namespaces.push(ns);
    ip(["-n", this.namespace, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns]);
    ip(["-n", this.namespace, "link", "set", port, "master", "br0", "up"]);
    ip(["-n", ns, "link", "set", "lo", "up"]);
    if (address) ip(["-n", ns, "addr", "add", `${address}/24`, "dev", "eth0"]);
    ip(["-n", ns, "link", "set", "eth0", "up"]);
    return ns;
  }

  /**
   * An uplink off the segment (not a bridge port): a namespace of its own joined to the segment's by a
   * veth, `<prefix>.1` on the segment's side (uplink0), `<prefix>.2` on its own. Nothing forwards
   * between the two, so the segment's machines reach what runs there only through a process on the
   * segment's namespace that connects out (a rack relay).
   */
  addUplink(role: string, prefix: string): { namespace: string; near: string; far: string } {
    const ns = `bw-${this.options.name}-${role}-${process.pid}`;
    ip(["netns", "add", ns]);
    this.namespaces.push(ns);
    ip(["-n", this.namespace, "link", "add", "uplink0", "type", "veth", "peer", "name", "eth0", "netns", ns]);
    ip(["-n", this.namespace, "addr", "add", `${prefix}.1/24`, "dev", "uplink0"]);
    ip(["-n", this.namespace, "link", "set", "uplink0", "up"]);
    ip(["-n", ns, "link", "set", "lo", "up"]);
    ip(["-n", ns, "addr", "add", `${prefix}.2/24`, "dev", "eth0"]);
    ip(["-n", ns, "link", "set", "eth0", "up"]);
    return { namespace: ns, near: `${prefix}.1`, far: `${prefix}.2` };
  }

  /** Starts a process in a namespace; `ip netns exec` execs it in place, so the PID is the program's. */
  spawnIn(
    ns: string,
    command: string,
    args: string[],
    log: string,
    env: NodeJS.ProcessEnv = process.env,
  ): ChildProcess {
    const out = openSync(log, "a");
    const child = spawn("ip", ["netns", "exec", ns, command, ...args], { stdio: ["ignore", out, out], env });
    closeSync(out);
    this.children.push(child);
    return child;
  }

  /**
   * The site's own DHCP server on .2 in a namespace of its own: addresses .100-.150, no boot options.
   * Its lease file is where a test sees who leased the VMs' addresses.
   */
  startSiteDhcp(): { leaseFile: string; log: string; child: ChildProcess } {
    const ns = this.addHost("dhcp", `${this.options.prefix}.2`, "vdhcp");
    const leaseFile = join(this.options.workDir, "site-dhcp.leases");
    const log = join(this.options.workDir, "site-dhcp.log");
    const child = this.spawnIn(
      ns,
      "dnsmasq",
      [
        "--keep-in-foreground",
        "--conf-file=/dev/null",
        "--port=0",
        "--interface=eth0",
        "--bind-interfaces",
        `--dhcp-range=${this.options.prefix}.100,${this.options.prefix}.150,12h`,
        `--dhcp-leasefile=${leaseFile}`,
        "--log-facility=-",
        "--log-dhcp",
        `--pid-file=${join(this.options.workDir, "site-dhcp.pid")}`,
      ],
      log,
    );
    return { leaseFile, log, child };
  }

  /**
   * The switch: lldpd on a port of the segment, announcing `systemName` and `portDescription` every
   * second (its default 30 s would outlast a test's boot).
   */
  startSwitch(systemName: string, portDescription: string): ChildProcess {
    if (!existsSync(join(LLDPD_ROOT, "usr/sbin/lldpd"))) throw new Error("lldpd missing: run npm run setup");
    const ns = this.addHost("switch", undefined, "vswitch");
    const config = join(this.options.workDir, "lldpd.conf");
    writeFileSync(
      config,
      [
        `configure system hostname ${systemName}`,
        "configure lldp tx-interval 1",
        "configure lldp portidsubtype ifname",
        `configure ports eth0 lldp portdescription "${portDescription}"`,
        "",
      ].join("\n"),
    );
    return this.spawnIn(
      ns,
      join(LLDPD_ROOT, "usr/sbin/lldpd"),
      [
        "-d",
        "-I",
        "eth0",
        "-u",
        join(this.options.workDir, "lldpd.socket"),
        "-L",
        join(LLDPD_ROOT, "usr/sbin/lldpcli"),
        "-O",
        config,
      ],
      join(this.options.workDir, "lldpd.log"),
      { ...process.env, LD_LIBRARY_PATH: join(LLDPD_ROOT, "usr/lib/x86_64-linux-gnu") },
    );
  }

  /** The site DHCP server's leases: "<expiry> <mac> <ip> <name> <client-id>" per line. */
  static leases(leaseFile: string): { mac: string; address: string }[] {
    if (!existsSync(leaseFile)) return [];
    return readFileSync(leaseFile, "utf8")
      .split("\n")
      .flatMap((line) => {
        const [, mac, address] = line.split(" ");
        return mac && address ? [{ mac, address }] : [];
      });
  }

  /** Stops every process started here (by PID), then deletes the namespaces (taps and veths go with them). */
  async destroy(): Promise<void> {
    await Promise.all(this.children.map((child) => stopChild(child)));
    for (const ns of this.namespaces.reverse()) spawnSync("ip", ["netns", "del", ns]);
    await delay(0);
  }
}
