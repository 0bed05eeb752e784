// A secret on disk (the first admin token, the key that seals drivers' secrets, the CLI's profile):
// written 0600 from its first byte, atomically (temp, fsync, rename), in a directory made with `dirMode`.
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";

export function writeSecretFile(path: string, text: string, dirMode?: number): void {
  mkdirSync(dirname(path), { recursive: true, ...(dirMode === undefined ? {} : { mode: dirMode }) });
  const temp = `${path}.tmp-${process.pid}`;
  const fd = openSync(temp, "w", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  // openSync's mode is filtered by the umask; the file must be 0600 whatever the umask says.
  chmodSync(temp, 0o600);
  renameSync(temp, path);
}
