// A secret on disk (the first admin token, the key that seals drivers' secrets, the CLI's profile):
// written 0600 from its first byte, atomically (temp, fsync, rename), in a directory made with `dirMode`.
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";

export function writeSecretFile(path: string, text: string, dirMode?: number): void {
  mkdirSync(dirname(path), { recursive: true, ...(dirMode === undefined ? {} : { mode: dirMode }) });
  writeFileDurably(path, text, 0o600);
}

/** Any file written atomically: temp (with `mode` from its first byte), fsync, rename. */
export function writeFileDurably(path: string, text: string, mode: number): void {
  const temp = `${path}.tmp-${process.pid}`;
  const fd = openSync(temp, "w", mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  // openSync's mode is filtered by the umask; the file must have `mode` whatever the umask says.
  chmodSync(temp, mode);
  renameSync(temp, path);
}
