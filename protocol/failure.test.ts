// The error base and its helpers: code, context, cause and name; matching by code across copies of a class
// (each bundle has its own); and the catalogue: every code documented, none shared with the wire's.
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "./errors.js";
import { BootwrightError, codeOf, FAILURE_CODES, hasCode } from "./failure.js";

class SampleCommandError extends BootwrightError<"command_failed"> {
  constructor(exitCode: number | null, options?: ErrorOptions) {
    super(
      "command_failed",
      `sgdisk -p /dev/vda failed (exit ${exitCode ?? "killed"})`,
      { command: "sgdisk", argv: ["-p", "/dev/vda"], exitCode, stderrTail: "Problem opening /dev/vda" },
      options,
    );
  }
}

class SamplePowerError extends BootwrightError<"power_failed"> {
  constructor(message: string, target: string) {
    super("power_failed", message, { target });
  }
}

class SampleIpmiError extends SamplePowerError {}

/** The same class as another bundle carries it: a different class object with the same code. */
function bundledCopy(): new (exitCode: number | null) => Error {
  return class SampleCommandError extends BootwrightError<"command_failed"> {
    constructor(exitCode: number | null) {
      super("command_failed", "from another bundle", {
        command: "sgdisk",
        argv: [],
        exitCode,
        stderrTail: "",
      });
    }
  };
}

describe("BootwrightError", () => {
  it("keeps the code, the context, the message and the original on cause", () => {
    const cause = Object.assign(new Error("spawn sgdisk ENOENT"), { code: "ENOENT" });
    const err = new SampleCommandError(null, { cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe("command_failed");
    expect(err.context).toEqual({
      command: "sgdisk",
      argv: ["-p", "/dev/vda"],
      exitCode: null,
      stderrTail: "Problem opening /dev/vda",
    });
    expect(err.message).toBe("sgdisk -p /dev/vda failed (exit killed)");
    expect(err.cause).toBe(cause);
    expect(err.stack).toContain("SampleCommandError");
  });

  it("is named after the subclass that was thrown, however deep", () => {
    expect(new SampleCommandError(1).name).toBe("SampleCommandError");
    expect(new SamplePowerError("no answer", "10.0.0.9:623").name).toBe("SamplePowerError");
    const ipmi = new SampleIpmiError("exit 1", "10.0.0.9:623");
    expect(ipmi.name).toBe("SampleIpmiError");
    expect(ipmi.code).toBe("power_failed");
    expect(String(ipmi)).toBe("SampleIpmiError: exit 1");
  });

  it("has no cause unless one is given", () => {
    expect("cause" in new SampleCommandError(2)).toBe(false);
  });
});

describe("hasCode", () => {
  it("matches another bundle's copy of a class, where instanceof does not", () => {
    const Copy = bundledCopy();
    const err: unknown = new Copy(3);
    expect(err instanceof SampleCommandError).toBe(false);
    expect(hasCode(err, "command_failed")).toBe(true);
    if (!hasCode(err, "command_failed")) throw err;
    // Narrowed: the context is typed by the code.
    expect(err.context.exitCode).toBe(3);
  });

  it("matches a subclass of a subclass by the code it inherits", () => {
    expect(hasCode(new SampleIpmiError("exit 1", "h:623"), "power_failed")).toBe(true);
  });

  it("refuses another code, Node's errno errors and anything without a code", () => {
    const err = new SampleCommandError(1);
    expect(hasCode(err, "gpt_invalid")).toBe(false);
    expect(hasCode(err, "internal")).toBe(false);
    expect(hasCode(Object.assign(new Error("gone"), { code: "ENOENT" }), "command_failed")).toBe(false);
    for (const value of [
      undefined,
      null,
      "command_failed",
      42,
      new Error("plain"),
      { kode: "command_failed" },
    ])
      expect(hasCode(value, "command_failed")).toBe(false);
  });

  it("matches a wire code the same way (the server's ApiError)", () => {
    const wire = Object.assign(new Error("no such machine"), { code: "not_found", context: { status: 404 } });
    expect(hasCode(wire, "not_found")).toBe(true);
    expect(hasCode(wire, "command_failed")).toBe(false);
  });
});

describe("codeOf", () => {
  it("reads the code of ours, of Node's errors and of any object with a string one", () => {
    expect(codeOf(new SampleCommandError(1))).toBe("command_failed");
    expect(codeOf(Object.assign(new Error("refused"), { code: "ECONNREFUSED" }))).toBe("ECONNREFUSED");
    expect(codeOf({ code: "UND_ERR_SOCKET" })).toBe("UND_ERR_SOCKET");
  });

  it("is undefined for values without a string code", () => {
    for (const value of [undefined, null, "ENOENT", 7, new Error("plain"), { code: 5 }, { code: null }])
      expect(codeOf(value)).toBeUndefined();
  });
});

describe("FAILURE_CODES", () => {
  const codes = Object.entries(FAILURE_CODES);

  it("documents every code in a sentence", () => {
    expect(codes.length).toBeGreaterThan(0);
    for (const [code, meaning] of codes) {
      expect(meaning.trim().length, code).toBeGreaterThan(20);
      expect(meaning, code).toMatch(/[.)]$/);
    }
  });

  it("spells codes in lower snake case, like the wire's", () => {
    for (const [code] of codes) expect(code).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
  });

  it("shares no code with the wire's catalogue: a code names one failure", () => {
    expect(codes.map(([code]) => code).filter((code) => Object.hasOwn(ERROR_CODES, code))).toEqual([]);
  });
});
