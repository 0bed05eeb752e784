// The server's own rescue media, for a BMC's virtual CD (issue 23): the same hybrid ISO `bootwright media
// build` writes, naming this server, built on first use and kept under the data directory. Rebuilt when
// the loader's kernel or initramfs, the server's URL or its CA change (the file name carries their hash).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { buildMedia } from "./build-media.js";

export interface ServedMediaInputs {
  dataDir: string;
  /** The URL the loader on the media talks to (the server's advertised API URL). */
  serverUrl: string;
  caFingerprint: string | null;
  kernel: string;
  initramfs: string;
  bootFilesDir: string;
  kernelArgs: string;
}

/** What decides the ISO's bytes: the settings, and the loader's files by size and time. */
function inputsKey(inputs: ServedMediaInputs): string {
  const file = (path: string): string => {
    const info = statSync(path);
    return `${path}:${info.size}:${info.mtimeMs}`;
  };
  return createHash("sha256")
    .update(
      JSON.stringify([
        inputs.serverUrl,
        inputs.caFingerprint,
        inputs.kernelArgs,
        file(inputs.kernel),
        file(inputs.initramfs),
      ]),
    )
    .digest("hex")
    .slice(0, 16);
}

/** A function that answers the ISO's path, building it once (concurrent callers share the build). */
export function servedRescueMedia(inputs: ServedMediaInputs): () => Promise<string> {
  let building: Promise<string> | undefined;
  let builtFor: string | undefined;
  return async () => {
    const key = inputsKey(inputs);
    if (building && builtFor === key) return building;
    const dir = join(inputs.dataDir, "media");
    const out = join(dir, `rescue-${key}.iso`);
    builtFor = key;
    building = (async () => {
      if (existsSync(out)) return out;
      mkdirSync(dir, { recursive: true });
      await buildMedia({
        server: inputs.serverUrl,
        caFingerprint: inputs.caFingerprint ?? undefined,
        out,
        kernel: inputs.kernel,
        initramfs: inputs.initramfs,
        bootFilesDir: inputs.bootFilesDir,
        kernelArgs: inputs.kernelArgs,
      });
      return out;
    })().catch((err: unknown) => {
      building = undefined; // the next request tries again
      throw err;
    });
    return building;
  };
}
