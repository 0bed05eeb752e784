// The LLDP parser on a frame Debian's lldpd really sent (fixtures/lldp/README.md), and on the edges:
// a VLAN tag before the EtherType, the 802.1 Port VLAN ID TLV, truncated and foreign frames.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseListenerOutput, parseLldpFrame } from "./lldp.js";

const captured = readFileSync(
  join(import.meta.dirname, "fixtures/lldp/lldpd-1.0.16-ifname.hex"),
  "utf8",
).trim();

function tlv(type: number, value: Buffer): Buffer {
  const header = Buffer.alloc(2);
  header.writeUInt16BE((type << 9) | value.length);
  return Buffer.concat([header, value]);
}

describe("LLDP", () => {
  it("reads the switch and port from lldpd's frame", () => {
    expect(parseLldpFrame(Buffer.from(captured, "hex"))).toEqual({
      chassisId: "82:0e:4f:bf:b2:e3",
      portId: "swp12",
      portDescription: "rack 12 slot 3",
      systemName: "rack12-tor",
      vlan: null,
    });
  });

  it("skips a VLAN tag and reads the 802.1 Port VLAN ID; a chassis given as text stays text", () => {
    const frame = Buffer.concat([
      Buffer.from("0180c200000e020000000001", "hex"),
      Buffer.from("8100000c88cc", "hex"),
      tlv(1, Buffer.concat([Buffer.from([7]), Buffer.from("tor-12")])),
      tlv(2, Buffer.concat([Buffer.from([3]), Buffer.from("020000000001", "hex")])),
      tlv(3, Buffer.from([0, 120])),
      tlv(127, Buffer.from("0080c201002a", "hex")),
      tlv(0, Buffer.alloc(0)),
    ]);
    expect(parseLldpFrame(frame)).toMatchObject({
      chassisId: "tor-12",
      portId: "02:00:00:00:00:01",
      vlan: 42,
    });
  });

  it("gives nothing for a frame that is not LLDP, lacks an ID, or is cut short", () => {
    expect(parseLldpFrame(Buffer.from("ffffffffffff0200000000010800450000", "hex"))).toBeUndefined();
    expect(parseLldpFrame(Buffer.from(captured.slice(0, 40), "hex"))).toBeUndefined();
    expect(parseLldpFrame(Buffer.alloc(4))).toBeUndefined();
  });

  it("keeps the first neighbour per interface from the listener's lines", () => {
    const out = `eth0 ${captured}\neth0 ${captured}\neth1 nothex\n\n`;
    expect(parseListenerOutput(out)).toEqual([
      expect.objectContaining({ interface: "eth0", systemName: "rack12-tor", portId: "swp12" }),
    ]);
  });
});
