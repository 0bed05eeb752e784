import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { generalizeRoot, SSH_HOST_KEYS_UNIT } from "./generalize.js";

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "bootwright-generalize-"));
  mkdirSync(join(root, "etc/ssh"), { recursive: true });
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/**
 * A root as openssh-server's postinst and systemd-machine-id-setup leave it in a recipe's chroot, with a
 * host certificate a recipe added.
 */
function builtRoot(): void {
  writeFileSync(join(root, "etc/machine-id"), "5f1c0e0c8a6a4f5f9d57a1b2c3d4e5f6\n", { mode: 0o444 });
  mkdirSync(join(root, "var/lib/dbus"), { recursive: true });
  writeFileSync(join(root, "var/lib/dbus/machine-id"), "5f1c0e0c8a6a4f5f9d57a1b2c3d4e5f6\n");
  for (const type of ["rsa", "ecdsa", "ed25519"]) {
    writeFileSync(join(root, `etc/ssh/ssh_host_${type}_key`), `private ${type}\n`, { mode: 0o600 });
    writeFileSync(join(root, `etc/ssh/ssh_host_${type}_key.pub`), `ssh-${type} AAAA root@builder\n`);
  }
  writeFileSync(
    join(root, "etc/ssh/ssh_host_ed25519_key-cert.pub"),
    "ssh-ed25519-cert-v01@openssh.com AAAA\n",
  );
  writeFileSync(join(root, "etc/ssh/sshd_config"), "Include /etc/ssh/sshd_config.d/*.conf\n");
  writeFileSync(join(root, "etc/ssh/moduli"), "# moduli\n");
}

it("takes the builder's machine-id and SSH host keys out, and enables the unit that makes the machine's own", async () => {
  builtRoot();
  expect(await generalizeRoot(root)).toEqual({
    machineIdCleared: true,
    sshHostKeysRemoved: 7,
    sshHostKeysUnit: true,
  });
  expect(readFileSync(join(root, "etc/machine-id"), "utf8")).toBe("");
  expect(statSync(join(root, "etc/machine-id")).mode & 0o777).toBe(0o444);
  expect(existsSync(join(root, "var/lib/dbus/machine-id"))).toBe(false);
  // Only the keys go: sshd's configuration and moduli are the image's.
  expect(existsSync(join(root, "etc/ssh/sshd_config"))).toBe(true);
  expect(existsSync(join(root, "etc/ssh/moduli"))).toBe(true);
  expect(readFileSync(join(root, "etc/ssh/sshd_config"), "utf8")).toContain("Include");
  const units = join(root, "etc/systemd/system");
  const unit = readFileSync(join(units, SSH_HOST_KEYS_UNIT), "utf8");
  expect(unit).toMatch(/^Before=ssh\.service$/m);
  expect(unit).toMatch(/^ExecStart=\/usr\/bin\/ssh-keygen -A$/m);
  expect(unit).toMatch(/^WantedBy=ssh\.service$/m);
  expect(readlinkSync(join(units, "ssh.service.wants", SSH_HOST_KEYS_UNIT))).toBe(`../${SSH_HOST_KEYS_UNIT}`);

  // Run again (a retried step), it finds nothing left to take out.
  expect(await generalizeRoot(root)).toEqual({
    machineIdCleared: false,
    sshHostKeysRemoved: 0,
    sshHostKeysUnit: false,
  });
});

it("leaves a root without sshd or a machine-id as it is, and dbus's link to /etc/machine-id in place", async () => {
  writeFileSync(join(root, "etc/machine-id"), "");
  mkdirSync(join(root, "var/lib/dbus"), { recursive: true });
  symlinkSync("/etc/machine-id", join(root, "var/lib/dbus/machine-id"));
  expect(await generalizeRoot(root)).toEqual({
    machineIdCleared: false,
    sshHostKeysRemoved: 0,
    sshHostKeysUnit: false,
  });
  expect(readlinkSync(join(root, "var/lib/dbus/machine-id"))).toBe("/etc/machine-id");
  expect(existsSync(join(root, "etc/systemd"))).toBe(false);
});
