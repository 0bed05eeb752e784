// The /proc parsers on real captured bytes (fixtures/host-2cpu: a 2-vCPU AMD EPYC VM) and small samples.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseCpuinfo, parseMemTotalBytes } from "./proc-parsers.js";

const fixture = (name: string): string =>
  readFileSync(new URL(`fixtures/host-2cpu/proc/${name}`, import.meta.url), "utf8");

describe("parseCpuinfo", () => {
  it("counts the processors and takes the first model name (captured /proc/cpuinfo)", () => {
    expect(parseCpuinfo(fixture("cpuinfo"))).toEqual({ model: "AMD EPYC", logicalCount: 2 });
  });

  it("keeps colons inside the model name", () => {
    const text = "processor\t: 0\nmodel name\t: Weird CPU: rev 2\n\nprocessor\t: 1\nmodel name\t: Other\n";
    expect(parseCpuinfo(text)).toEqual({ model: "Weird CPU: rev 2", logicalCount: 2 });
  });

  it("has a null model when there is no model name line (e.g. some ARM kernels)", () => {
    expect(parseCpuinfo("processor\t: 0\nBogoMIPS\t: 50.00\n\nprocessor\t: 1\nBogoMIPS\t: 50.00\n")).toEqual({
      model: null,
      logicalCount: 2,
    });
  });

  it("finds no processor in empty text", () => {
    expect(parseCpuinfo("")).toEqual({ model: null, logicalCount: 0 });
  });
});

describe("parseMemTotalBytes", () => {
  it("reads MemTotal in KiB as bytes (captured /proc/meminfo)", () => {
    expect(parseMemTotalBytes(fixture("meminfo"))).toBe(24_683_620 * 1024);
  });

  it("is undefined without a MemTotal line", () => {
    expect(parseMemTotalBytes("MemFree:        23781380 kB\nMemAvailable:   23862636 kB\n")).toBeUndefined();
    expect(parseMemTotalBytes("")).toBeUndefined();
  });
});
