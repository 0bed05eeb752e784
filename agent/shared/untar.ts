// Unpacks a tar held in memory into a directory: regular files and directories only, and no entry may
// leave the directory (a crafted `../` or absolute name is refused before anything is written).
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, normalize } from "node:path";
import { extract } from "tar-stream";

export interface UntarredFile {
  name: string;
  mode: number;
  data: Buffer;
}

/** Reads every entry first, then writes: a refused entry leaves nothing half-unpacked. */
export async function untar(
  tar: Buffer,
  dir: string,
  /** The error to throw for an entry whose name leaves `dir` (or that `accept` refuses). */
  escapes: (name: string) => Error,
  /** Which names may be written at all (default: any inside `dir`). */
  accept: (name: string) => boolean = () => true,
): Promise<UntarredFile[]> {
  const files: UntarredFile[] = [];
  const parser = extract();
  const done = new Promise<void>((resolve, reject) => {
    parser.on("entry", (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: unknown) => {
        if (Buffer.isBuffer(chunk)) chunks.push(chunk);
      });
      stream.on("end", () => {
        const name = normalize(header.name);
        if (name.startsWith("..") || name.startsWith("/") || !accept(name)) reject(escapes(header.name));
        else if (header.type === "file") files.push({ name, mode: header.mode, data: Buffer.concat(chunks) });
        next();
      });
      stream.resume();
    });
    parser.on("finish", resolve);
    parser.on("error", reject);
  });
  parser.end(tar);
  await done;
  for (const file of files) {
    const path = join(dir, file.name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, file.data, { mode: file.mode & 0o777 });
  }
  return files;
}
