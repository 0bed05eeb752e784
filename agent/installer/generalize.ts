// Before a recipe's result is captured, what makes the builder one machine comes out of its root, as
// Packer templates and sysprep do: every machine that installs the image must not share it. The
// machine-id is emptied (systemd makes a new one at first boot; a shared one gives every machine the
// same DHCP DUID). The SSH host keys a package's postinst made in the recipe's chroot are removed, and a
// unit that makes the machine's own before sshd first starts is put in their place.
import { lstat, mkdir, readdir, readFile, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const SSH_HOST_KEYS_UNIT = "bootwright-ssh-host-keys.service";

/**
 * Pulled in by ssh.service and ordered before it: ssh-keygen -A makes only the keys that are missing, so
 * once made it changes nothing. sync puts them on disk before sshd reads them: a power cut right after
 * first boot must not leave empty key files behind. Their fingerprints go to the console too (as
 * cloud-init prints them), where an operator checking one on first contact looks. ($$ is systemd's $.)
 */
const SSH_HOST_KEYS_UNIT_TEXT = `# Written by bootwright when it captured this image: the image builder's SSH host keys were removed so
# that no two machines installed from it share them. This machine makes its own before sshd first starts.
[Unit]
Description=SSH host keys of this machine's own
Before=ssh.service
ConditionPathExists=/usr/bin/ssh-keygen

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
ExecStart=/bin/sync
ExecStart=/bin/sh -c 'for key in /etc/ssh/ssh_host_*_key.pub; do /usr/bin/ssh-keygen -l -f "$$key"; done'
StandardOutput=journal+console

[Install]
WantedBy=ssh.service
`;

/** What generalizeRoot took out (and put in) of the root it was given. */
export interface Generalized {
  /** /etc/machine-id held an id (a package set one up in the chroot) and was emptied. */
  machineIdCleared: boolean;
  /** ssh_host_* key (and key certificate) files removed from /etc/ssh. */
  sshHostKeysRemoved: number;
  /** The unit that makes this machine's host keys at first boot was written (keys were removed). */
  sshHostKeysUnit: boolean;
}

/** A host key, its public half, or a certificate for it (signed for the builder's key: void on a clone). */
const HOST_KEY_FILE = /^ssh_host_\w+_key(\.pub|-cert\.pub)?$/;

/** Takes the builder's identity out of the mounted root at `root`. Run again, it finds nothing to do. */
export async function generalizeRoot(root: string): Promise<Generalized> {
  const machineIdCleared = await emptyMachineId(root);
  const sshDir = join(root, "etc/ssh");
  const keys = (await readdir(sshDir).catch(() => [])).filter((name) => HOST_KEY_FILE.test(name));
  for (const name of keys) await rm(join(sshDir, name), { force: true });
  if (keys.length > 0) await installHostKeysUnit(root);
  return { machineIdCleared, sshHostKeysRemoved: keys.length, sshHostKeysUnit: keys.length > 0 };
}

/**
 * Empties /etc/machine-id when it holds an id (an empty one means "not yet made" to systemd), and removes
 * dbus's own copy when it is a file rather than Debian's link to /etc/machine-id.
 */
async function emptyMachineId(root: string): Promise<boolean> {
  const path = join(root, "etc/machine-id");
  const id = await readFile(path, "utf8").catch(() => "");
  // Its own mode (0444 as systemd makes it): only the content changes.
  if (id.trim() !== "") await writeAtomically(path, "", (await stat(path)).mode & 0o7777);
  const dbusCopy = join(root, "var/lib/dbus/machine-id");
  const dbus = await lstat(dbusCopy).catch(() => undefined);
  if (dbus?.isFile()) await rm(dbusCopy);
  return id.trim() !== "";
}

async function installHostKeysUnit(root: string): Promise<void> {
  const units = join(root, "etc/systemd/system");
  await mkdir(join(units, "ssh.service.wants"), { recursive: true });
  await writeAtomically(join(units, SSH_HOST_KEYS_UNIT), SSH_HOST_KEYS_UNIT_TEXT, 0o644);
  // What `systemctl enable` would make; systemctl cannot run against a root that is not booted.
  const link = join(units, "ssh.service.wants", SSH_HOST_KEYS_UNIT);
  await rm(link, { force: true });
  await symlink(`../${SSH_HOST_KEYS_UNIT}`, link);
}

/** Temp file, then rename: a capture never sees half a file. The step's sync puts it on disk. */
async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const temp = `${path}.bootwright-tmp`;
  await rm(temp, { force: true });
  await writeFile(temp, text, { mode });
  await rename(temp, path);
}
