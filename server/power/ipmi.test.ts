// ipmitool's argv and how its output is read, on output captured from ipmitool 1.8.19 (Debian 12) against
// OpenIPMI 2.0.33's ipmi_sim. The driver against a real BMC: test-vm/ipmi-power.test.ts.
import { describe, expect, it } from "vitest";
import { IpmitoolError, ipmitoolArgs, parsePowerStatus, SUCCESS, type IpmiSettings } from "./ipmi.js";

const settings: IpmiSettings = {
  driver: "ipmi",
  host: "10.1.2.3",
  port: 6230,
  username: "admin",
  password: "s3cret-pw",
};

/** [command, exit code, stdout, stderr] as ipmitool printed them. */
const CAPTURED = {
  statusOn: [0, "Chassis Power is on\n", ""],
  statusOff: [0, "Chassis Power is off\n", ""],
  statusFailed: [1, "", "Get Chassis Power Status failed: Unspecified error\n"],
  bootdevPxe: [0, "Set Boot Device to pxe\n", ""],
  // The quirk: the BMC refused the boot flags, ipmitool says so on stderr and still exits 0.
  bootdevRefused: [0, "", "Set Chassis Boot Parameter 5 failed: Unspecified error\n"],
  reset: [0, "Chassis Power Control: Reset\n", ""],
  resetRefused: [1, "", "Set Chassis Power Control to Reset failed: Unspecified error\n"],
  on: [0, "Chassis Power Control: Up/On\n", ""],
  off: [0, "Chassis Power Control: Down/Off\n", ""],
  wrongPassword: [1, "", "Error: Unable to establish IPMI v2 / RMCP+ session\n"],
} as const satisfies Record<string, readonly [number, string, string]>;

describe("ipmitoolArgs", () => {
  it("speaks lanplus with cipher suite 3 and takes the password from the environment, never argv", () => {
    const argv = ipmitoolArgs(settings, ["chassis", "power", "status"]);
    expect(argv).toEqual([
      "-I",
      "lanplus",
      "-C",
      "3",
      "-H",
      "10.1.2.3",
      "-p",
      "6230",
      "-U",
      "admin",
      "-E",
      "chassis",
      "power",
      "status",
    ]);
    expect(argv.join(" ")).not.toContain(settings.password);
    expect(argv).not.toContain("-P");
  });
});

describe("reading ipmitool's output", () => {
  it("parses the power state", () => {
    expect(parsePowerStatus(CAPTURED.statusOn[1])).toBe("on");
    expect(parsePowerStatus(CAPTURED.statusOff[1])).toBe("off");
    expect(parsePowerStatus(CAPTURED.statusFailed[1])).toBeUndefined();
    expect(parsePowerStatus(CAPTURED.off[1])).toBeUndefined();
  });

  it("knows each command's success line, and a refused bootdev has none despite exit 0", () => {
    expect(SUCCESS.bootdevPxe.test(CAPTURED.bootdevPxe[1])).toBe(true);
    expect(CAPTURED.bootdevRefused[0]).toBe(0);
    expect(SUCCESS.bootdevPxe.test(CAPTURED.bootdevRefused[1])).toBe(false);
    expect(SUCCESS.powerReset.test(CAPTURED.reset[1])).toBe(true);
    expect(SUCCESS.powerReset.test(CAPTURED.resetRefused[1])).toBe(false);
    expect(SUCCESS.powerOn.test(CAPTURED.on[1])).toBe(true);
    // Power off must not pass for power on, nor a status for a control.
    expect(SUCCESS.powerOn.test(CAPTURED.off[1])).toBe(false);
    expect(SUCCESS.powerReset.test(CAPTURED.statusOn[1])).toBe(false);
    expect(SUCCESS.powerStatus.test(CAPTURED.wrongPassword[1])).toBe(false);
  });
});

describe("IpmitoolError", () => {
  it("is a power_failed error naming the command, the BMC, the exit code and stderr", () => {
    const [exitCode, , stderr] = CAPTURED.bootdevRefused;
    const err = new IpmitoolError(["chassis", "bootdev", "pxe"], exitCode, stderr.trim(), "10.1.2.3:6230");
    expect(err.code).toBe("power_failed");
    expect(err.message).toBe(
      "BMC 10.1.2.3:6230: ipmitool chassis bootdev pxe failed (exit 0): Set Chassis Boot Parameter 5 failed: Unspecified error",
    );
    expect(new IpmitoolError(["chassis", "power", "on"], null, "", "h:623").message).toBe(
      "BMC h:623: ipmitool chassis power on failed (killed or not started)",
    );
  });
});
