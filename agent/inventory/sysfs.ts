// Small readers for /sys and /proc: a missing or unreadable file is "unknown" (null), not an error,
// since many attributes are optional and differ by driver.
import { access, readdir, readFile, readlink, realpath } from "node:fs/promises";
import { basename, join, relative } from "node:path";

export async function readText(path: string): Promise<string | null> {
  try {
    const value = (await readFile(path, "utf8")).trim();
    return value === "" ? null : value;
  } catch {
    return null;
  }
}

export async function readBytes(path: string): Promise<Uint8Array | null> {
  try {
    return new Uint8Array(await readFile(path));
  } catch {
    return null;
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Basename of a symlink's target (…/device/driver → "virtio_net"), null when there is no link. */
export async function linkName(path: string): Promise<string | null> {
  try {
    return basename(await readlink(path));
  } catch {
    return null;
  }
}

export async function devicePath(root: string, path: string): Promise<string | null> {
  try {
    return relative(join(root, "sys/devices"), await realpath(path));
  } catch {
    return null;
  }
}

export async function listDir(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch {
    return [];
  }
}
