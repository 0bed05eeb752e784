// LLDP (IEEE 802.1AB) frames → the switch and port a NIC is plugged into (pure), and the listener that
// hears them: initramfs/lldp-listen (Node has no packet sockets) prints each frame as hex.
import type { LldpNeighbour } from "../../protocol/index.js";

const ETHERTYPE_LLDP = 0x88cc;
const ETHERTYPE_VLAN = 0x8100;
/** IEEE 802.1's OUI: its organizationally specific TLV subtype 1 is the Port VLAN ID. */
const IEEE_8021_OUI = "0080c2";

function macText(bytes: Buffer): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** Chassis ID subtype 4 and port ID subtype 3 are MAC addresses; the others are text (ifName, local…). */
function idText(subtype: number, value: Buffer, macSubtype: number): string {
  if (subtype === macSubtype && value.length === 6) return macText(value);
  // Network address (chassis 5 / port 4): family 1 = IPv4.
  if (subtype === (macSubtype === 4 ? 5 : 4) && value[0] === 1 && value.length === 5)
    return [...value.subarray(1)].join(".");
  return value.toString("utf8").replace(/\0+$/, "");
}

/**
 * One LLDP frame, Ethernet header included (a VLAN tag is skipped), to its neighbour; undefined when
 * it is not LLDP or lacks the mandatory chassis and port IDs. TLVs: 7-bit type, 9-bit length.
 */
export function parseLldpFrame(frame: Buffer): LldpNeighbour | undefined {
  if (frame.length < 16) return undefined;
  let offset = 12;
  let etherType = frame.readUInt16BE(offset);
  if (etherType === ETHERTYPE_VLAN && frame.length >= 18) {
    offset += 4;
    etherType = frame.readUInt16BE(offset);
  }
  if (etherType !== ETHERTYPE_LLDP) return undefined;
  offset += 2;
  let chassisId: string | undefined;
  let portId: string | undefined;
  let portDescription: string | null = null;
  let systemName: string | null = null;
  let vlan: number | null = null;
  while (offset + 2 <= frame.length) {
    const header = frame.readUInt16BE(offset);
    const type = header >> 9;
    const length = header & 0x1ff;
    const value = frame.subarray(offset + 2, offset + 2 + length);
    offset += 2 + length;
    if (type === 0 || value.length < length) break; // End of LLDPDU, or a truncated TLV
    switch (type) {
      case 1:
        if (length >= 2) chassisId = idText(value[0] ?? 0, value.subarray(1), 4);
        break;
      case 2:
        if (length >= 2) portId = idText(value[0] ?? 0, value.subarray(1), 3);
        break;
      case 4:
        portDescription = value.toString("utf8");
        break;
      case 5:
        systemName = value.toString("utf8");
        break;
      case 127:
        if (length >= 6 && value.subarray(0, 3).toString("hex") === IEEE_8021_OUI && value[3] === 1)
          vlan = value.readUInt16BE(4);
        break;
      default:
        break;
    }
  }
  if (chassisId === undefined || portId === undefined) return undefined;
  return { chassisId, portId, portDescription, systemName, vlan };
}

/** lldp-listen's output ("<interface> <hex>" per line) → the first neighbour heard on each interface. */
export function parseListenerOutput(text: string): LldpNeighbour[] {
  const seen = new Map<string, LldpNeighbour>();
  for (const line of text.split("\n")) {
    const [iface, hex] = line.trim().split(" ");
    if (!iface || !hex || seen.has(iface) || !/^[0-9a-f]+$/i.test(hex)) continue;
    const neighbour = parseLldpFrame(Buffer.from(hex, "hex"));
    if (neighbour) seen.set(iface, { ...neighbour, interface: iface });
  }
  return [...seen.values()];
}
