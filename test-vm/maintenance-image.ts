// Packs a maintenance image of the test's own (an operator would write one the same way): manifest.json
// and a program module in a tar, zstd-compressed, ready for `image add --format tar.zst`.
import { writeFile } from "node:fs/promises";
import { pack } from "tar-stream";
import { compress } from "zstd-napi";
import { MaintenanceManifest, type MaintenanceManifest as Manifest } from "../protocol/index.js";

export async function packMaintenanceImage(
  out: string,
  contents: { manifest: Manifest; program: string },
): Promise<void> {
  const manifest = MaintenanceManifest.parse(contents.manifest);
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on("data", (chunk: unknown) => {
    if (Buffer.isBuffer(chunk)) chunks.push(chunk);
  });
  const ended = new Promise<void>((resolve, reject) => {
    tar.on("end", resolve);
    tar.on("error", reject);
  });
  tar.entry({ name: "manifest.json", mtime: new Date(0) }, JSON.stringify(manifest, null, 2));
  tar.entry({ name: manifest.program, mtime: new Date(0) }, contents.program);
  tar.finalize();
  await ended;
  await writeFile(out, compress(Buffer.concat(chunks)));
}
