// CRC-32 against the standard check value and against zlib's own CRC-32 (the gzip trailer).
import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { crc32 } from "./crc32.js";

describe("crc32", () => {
  it("gives the catalogued check value for '123456789' and 0 for nothing", () => {
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array())).toBe(0);
  });

  it("agrees with zlib on random data (a gzip trailer holds the data's CRC-32: RFC 1952 §2.3.1)", () => {
    for (const size of [1, 511, 16_384, 100_003]) {
      const data = randomBytes(size);
      const gz = gzipSync(data);
      expect(crc32(data)).toBe(gz.readUInt32LE(gz.length - 8));
    }
  });
});
