// The provisioning interface's IPv4 address and network, and the checks that stop start-up with the reason
// when the site settings cannot work (no such interface, no address, a DHCP range outside its network).
import { networkInterfaces, type NetworkInterfaceInfo } from "node:os";
import { BootwrightError, type FailureContext } from "../../protocol/index.js";

export class SiteNetworkError extends BootwrightError<"site_network_invalid"> {
  constructor(message: string, context: FailureContext<"site_network_invalid">) {
    super("site_network_invalid", message, context);
  }
}

export interface InterfaceAddress {
  interface: string;
  address: string;
  netmask: string;
  network: string;
  prefixLength: number;
}

function toInt(ip: string): number {
  return ip.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
}

function toIp(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** The first IPv4 address of `name`; the error lists the interfaces there are when it has none. */
export function interfaceAddress(
  name: string,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): InterfaceAddress {
  const addresses = interfaces[name];
  if (!addresses)
    throw new SiteNetworkError(
      `no network interface named ${name} (there are: ${Object.keys(interfaces).join(", ") || "none"})`,
      { interface: name },
    );
  const ipv4 = addresses.find((a) => a.family === "IPv4");
  if (!ipv4 || !ipv4.cidr)
    throw new SiteNetworkError(`interface ${name} has no IPv4 address: give it one first`, {
      interface: name,
    });
  const prefixLength = Number(ipv4.cidr.split("/")[1]);
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  return {
    interface: name,
    address: ipv4.address,
    netmask: ipv4.netmask,
    network: toIp((toInt(ipv4.address) & mask) >>> 0),
    prefixLength,
  };
}

/** "first-last" → both ends, checked to be IPv4 addresses in order and inside the interface's network. */
export function parseRange(text: string, on: InterfaceAddress): { first: string; last: string } {
  const [first, last, extra] = text.split("-").map((part) => part.trim());
  if (!first || !last || extra !== undefined || !IPV4.test(first) || !IPV4.test(last))
    throw new SiteNetworkError(`DHCP range must be <first>-<last> IPv4 addresses, not "${text}"`, {
      setting: "range",
    });
  const mask = on.prefixLength === 0 ? 0 : (0xffffffff << (32 - on.prefixLength)) >>> 0;
  const network = toInt(on.network);
  for (const end of [first, last]) {
    if ((toInt(end) & mask) >>> 0 !== network)
      throw new SiteNetworkError(
        `DHCP range end ${end} is outside ${on.network}/${on.prefixLength} (${on.interface})`,
        {
          interface: on.interface,
          setting: "range",
        },
      );
  }
  if (toInt(first) > toInt(last))
    throw new SiteNetworkError(`DHCP range ${text} runs backwards`, { setting: "range" });
  const own = toInt(on.address);
  if (own >= toInt(first) && own <= toInt(last))
    throw new SiteNetworkError(`DHCP range ${text} holds the server's own address ${on.address}`, {
      setting: "range",
    });
  return { first, last };
}
