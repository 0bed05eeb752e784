// What `bootwright media build --offline` carries, found and checked before anything is written: the
// image as the store holds it (catalogue row + blob, size checked), and the policy, parsed and validated
// as the server does, whose every rule must install that image (the media carries no other).
import { statSync } from "node:fs";
import { join } from "node:path";
import { OfflineManifest, offlineBlobPath, type ImageRecord, type Policy } from "../../protocol/index.js";
import { openStore } from "../db/open-store.js";
import { formatPolicyIssues, loadPolicyFile, PolicyFileError } from "../policy/load.js";
import { MediaBuildRefused, type OfflineMediaInputs } from "./build-media.js";

export interface OfflineRequest {
  /** The store (`sqlite:<file>` or postgres://…) and the data dir whose images/ holds the blobs. */
  store: string;
  dataDir: string;
  image: string;
  policyFile: string;
}

function readPolicy(file: string): Policy {
  try {
    return loadPolicyFile(file).policy;
  } catch (err) {
    if (!(err instanceof PolicyFileError)) throw err;
    throw new MediaBuildRefused(
      `media build refused: policy file ${file} is not valid:\n${formatPolicyIssues(err.issues, file)}`,
      { file },
    );
  }
}

async function findImage(request: OfflineRequest): Promise<ImageRecord> {
  const store = await openStore(request.store);
  try {
    const image = await store.read((rows) => rows.images.newestNamed(request.image));
    if (!image)
      throw new MediaBuildRefused(
        `media build refused: no image named ${request.image} in the store (bootwright images lists them)`,
        { image: request.image },
      );
    return image;
  } finally {
    await store.close();
  }
}

/** The blob must be there with the catalogue's size: a media that cannot install is refused now. */
function blobFile(dataDir: string, image: ImageRecord): string {
  const file = join(dataDir, "images", "sha256", image.sha256);
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw new MediaBuildRefused(`media build refused: image ${image.name}'s blob ${file} is missing`, {
      image: image.name,
      file,
    });
  }
  if (size !== image.sizeBytes)
    throw new MediaBuildRefused(
      `media build refused: image ${image.name}'s blob is ${String(size)} bytes, the store says ${String(image.sizeBytes)}`,
      { image: image.name, file },
    );
  return file;
}

/** Checks both inputs and returns what the build writes; throws MediaBuildRefused naming the problem. */
export async function offlineInputs(request: OfflineRequest): Promise<OfflineMediaInputs> {
  const policy = readPolicy(request.policyFile);
  const image = await findImage(request);
  const other = policy.rules.find(
    (rule) => rule.plan.image !== image.name && rule.plan.image !== `sha256:${image.sha256}`,
  );
  if (other)
    throw new MediaBuildRefused(
      `media build refused: rule ${other.name} installs ${other.plan.image}, but the media carries only ${image.name}`,
      { file: request.policyFile, image: other.plan.image },
    );
  const source = blobFile(request.dataDir, image);
  const manifest: OfflineManifest = OfflineManifest.parse({
    version: 1,
    image: {
      name: image.name,
      source: {
        sha256: image.sha256,
        format: image.format,
        sizeBytes: image.sizeBytes,
        rawBytes: image.rawBytes,
        rawSha256: image.rawSha256,
      },
      blob: offlineBlobPath(image.sha256),
    },
    policy,
    builtAt: new Date().toISOString(),
  });
  return {
    manifestText: `${JSON.stringify(manifest, null, 2)}\n`,
    blob: { name: manifest.image.blob, source },
  };
}
