// Taking images out of the store: deleting one (refused while something names it, see holders.ts; the
// catalogue row goes in the checking transaction, the file once no stream reads it) and the garbage
// collection (files no row names, abandoned uploads). The row is the image: with it gone no new stream
// finds the image, and a crash before the file went leaves only an orphan file the collection removes.
import type { ImageDeleted, ImageGcReport, ImageHolder } from "../../protocol/index.js";
import type { Store } from "../db/rows.js";
import { ApiError } from "../errors.js";
import type { BlobStore } from "./blob-store.js";
import { findImage } from "./catalog.js";
import { imageHolders } from "./holders.js";
import type { UploadService } from "./uploads.js";

/** An upload left open with no chunk for this long is abandoned. */
export const ABANDONED_UPLOAD_MS = 24 * 3600_000;
/**
 * A file no row names is left alone while younger than this: an upload's file lands before its row is
 * written (and a server sharing the directory may be between the two).
 */
export const ORPHAN_GRACE_MS = 3600_000;

function holderList(holders: readonly ImageHolder[]): string {
  return holders.map((holder) => `${holder.kind} ${holder.ids.join(", ")}`).join("; ");
}

export class ImageRemoval {
  constructor(
    private readonly store: Store,
    private readonly blobs: BlobStore,
    private readonly uploads: UploadService,
  ) {}

  /**
   * Deletes the image `ref` names (a sha256, or a name: its newest image). Refused (image_in_use, 409)
   * while a holder is left that `force` does not override.
   */
  async delete(ref: string, force: boolean): Promise<ImageDeleted> {
    const outcome = await this.store.transaction(async (rows) => {
      const image = await findImage(rows, ref);
      if (!image) return { kind: "missing" } as const;
      const holders = await imageHolders(rows, image);
      const blocking = holders.filter((holder) => !(force && holder.forcible));
      if (blocking.length > 0) return { kind: "held", image, holders, blocking } as const;
      await rows.images.remove(image.sha256);
      return { kind: "deleted", image, holders } as const;
    });
    if (outcome.kind === "missing") throw new ApiError("not_found", `no image ${ref}`);
    if (outcome.kind === "held") {
      const { image, holders, blocking } = outcome;
      const forcible = blocking.every((holder) => holder.forcible);
      throw new ApiError(
        "image_in_use",
        `image ${image.name} (sha256:${image.sha256}) is still named by: ${holderList(blocking)}${
          forcible ? " (--force deletes it anyway)" : ""
        }`,
        { image: image.sha256, holders },
      );
    }
    const blobRemoved = await this.blobs.discard(outcome.image.sha256);
    return { image: outcome.image, overridden: outcome.holders, blobRemoved };
  }

  /** Removes files no catalogue row names and uploads abandoned for a day; reports what went. */
  async gc(now: Date): Promise<ImageGcReport> {
    const named = new Set((await this.store.read((rows) => rows.images.list())).map((image) => image.sha256));
    const blobs = await this.blobs.collect(
      (sha256) => named.has(sha256),
      new Date(now.getTime() - ORPHAN_GRACE_MS),
    );
    const uploads = await this.uploads.abandon(new Date(now.getTime() - ABANDONED_UPLOAD_MS));
    return {
      blobs: blobs.map((blob) => blob.sha256),
      uploads: uploads.map((upload) => upload.id),
      bytesFreed: [...blobs, ...uploads].reduce((sum, removed) => sum + removed.bytes, 0),
    };
  }
}
