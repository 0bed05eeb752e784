// The boot-area bytes recorded at install (head and tail of the installed disk), one file per machine:
// written atomically (temp file, fsync, rename, directory fsync), read back by the repair image.
import { createHash } from "node:crypto";
import { mkdir, open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";

export class BootAreaFiles {
  constructor(private readonly dir: string) {}

  private path(machineId: string): string {
    // Machine ids are UUIDs or MACs: make a MAC's colons safe in a file name.
    return join(this.dir, `${machineId.replaceAll(":", "-")}.bin`);
  }

  static sha256(bytes: Buffer): string {
    return createHash("sha256").update(bytes).digest("hex");
  }

  async write(machineId: string, bytes: Buffer): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const path = this.path(machineId);
    const temp = `${path}.${process.pid}.tmp`;
    const file = await open(temp, "w");
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
    const dir = await open(this.dir, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  read(machineId: string): Promise<Buffer> {
    return readFile(this.path(machineId));
  }
}
