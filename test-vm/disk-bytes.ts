// A VM's disk file as the test reads it after the run: bytes at an offset (what an install wrote).
import { closeSync, openSync, readSync } from "node:fs";

export function readBytes(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, offset);
    return buffer;
  } finally {
    closeSync(fd);
  }
}
