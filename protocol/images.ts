// The image store on the wire: what an image is (content-addressed by the sha256 of its stored bytes),
// and what the agent needs to stream and verify one.
import * as z from "zod";

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "a sha256 as 64 lower-case hex digits");

export const ImageFormat = z.enum([
  /** A whole-disk raw image (partition table included), zstd-compressed: written to the block device. */
  "raw.zst",
  /** A tar of a filesystem tree, zstd-compressed: unpacked onto filesystems the agent made. */
  "tar.zst",
]);
export type ImageFormat = z.infer<typeof ImageFormat>;

/** What an image is for: the OS a machine runs, or a maintenance image it is swapped into. */
export const ImagePurpose = z.enum(["os", "diagnostic", "repair"]);
export type ImagePurpose = z.infer<typeof ImagePurpose>;

export const ImageName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, "letters, digits, '.', '_' and '-' (at most 100)");

/**
 * Where a captured image came from (seed 003): the recipe whose install script built it, the configuration
 * fingerprint of the machine it ran on (the next machine with that fingerprint gets this image), the
 * machine, a summary of its inventory, and when.
 */
export const ImageOrigin = z.strictObject({
  recipe: z.string().min(1),
  fingerprint: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  sourceMachine: z.string().min(1),
  inventorySummary: z.record(z.string(), z.unknown()),
  capturedAt: z.string(),
});
export type ImageOrigin = z.infer<typeof ImageOrigin>;

export const ImageRecord = z.strictObject({
  /** sha256 of the stored (compressed) bytes: the image's address. */
  sha256: Sha256Hex,
  name: ImageName,
  format: ImageFormat,
  purpose: ImagePurpose,
  /** Stored (compressed) size. */
  sizeBytes: z.number().int().nonnegative(),
  /** Size and sha256 once decompressed: what lands on the disk, checked end to end by the agent. */
  rawBytes: z.number().int().nonnegative(),
  rawSha256: Sha256Hex,
  createdAt: z.string(),
  /** Set for a captured image; null for one an operator added. */
  origin: ImageOrigin.nullable(),
});
export type ImageRecord = z.infer<typeof ImageRecord>;

/** POST /v1/uploads: open a resumable, chunked upload of a captured image. */
export const UploadStart = z.strictObject({
  name: ImageName,
  format: ImageFormat,
  purpose: ImagePurpose.default("os"),
  origin: ImageOrigin.omit({ capturedAt: true }),
});
export type UploadStart = z.input<typeof UploadStart>;

export const UploadState = z.strictObject({
  id: z.string(),
  /** Bytes stored so far: the next chunk must start here. */
  received: z.number().int().nonnegative(),
  state: z.enum(["open", "complete"]),
  /** Set once complete: the image it became (or the one that already existed for its origin). */
  image: Sha256Hex.nullable(),
});
export type UploadState = z.infer<typeof UploadState>;

/** POST /v1/uploads/:id/complete: the whole upload's checksum and size, verified before it is visible. */
export const UploadComplete = z.strictObject({
  sha256: Sha256Hex,
  sizeBytes: z.number().int().positive(),
});
export type UploadComplete = z.infer<typeof UploadComplete>;

export const UploadCompleted = z.strictObject({
  image: ImageRecord,
  /** True when another capture of the same recipe and configuration was stored first: this one was dropped. */
  duplicate: z.boolean(),
});
export type UploadCompleted = z.infer<typeof UploadCompleted>;

export const ImageList = z.strictObject({ images: z.array(ImageRecord) });
export type ImageList = z.infer<typeof ImageList>;

/** How the server has read an image from its store since it started (the fan-out's proof of work). */
export const ImageReadStats = z.strictObject({
  /** Bytes read from the store file, over every stream (batched and solo). */
  storeBytesRead: z.number().int().nonnegative(),
  /** Bytes sent to machines. */
  bytesSent: z.number().int().nonnegative(),
  batches: z.number().int().nonnegative(),
  /** Members served by a batch (one read for all of them). */
  batchedMembers: z.number().int().nonnegative(),
  /** Streams of their own: a resume with Range, a late joiner, or a member detached for lagging. */
  soloStreams: z.number().int().nonnegative(),
  detached: z.number().int().nonnegative(),
});
export type ImageReadStats = z.infer<typeof ImageReadStats>;

/** GET /v1/images/:ref — the record and its read counters. */
export const ImageDetail = z.strictObject({ image: ImageRecord, reads: ImageReadStats });
export type ImageDetail = z.infer<typeof ImageDetail>;

/** What a tailored agent needs to fetch and check an image; baked into its plan. */
export const ImageSource = z.strictObject({
  sha256: Sha256Hex,
  format: ImageFormat,
  sizeBytes: z.number().int().nonnegative(),
  rawBytes: z.number().int().nonnegative(),
  rawSha256: Sha256Hex,
});
export type ImageSource = z.infer<typeof ImageSource>;

/** Where an image's bytes are served (the server's advertised URL in front). */
export function imageBlobPath(sha256: string): string {
  return `/v1/images/${sha256}/blob`;
}

/**
 * What still names an image, so deleting it would break something: a rule of the current policy (its
 * plan's image, or a health rule's maintenance image), a queued or leased write-image whose install
 * source is it, a maintenance run on its way into it or running it, a maintenance schedule that names
 * it, a machine whose installed marker (or call home) names it, or the captured-image key (recipe +
 * configuration fingerprint) the image itself fills. Only the last two can be overridden (--force).
 */
export const ImageHolderKind = z.enum([
  "policy",
  "pending-install",
  "maintenance-run",
  "maintenance-schedule",
  "installed-marker",
  "captured-key",
]);
export type ImageHolderKind = z.infer<typeof ImageHolderKind>;

export const ImageHolder = z.strictObject({
  kind: ImageHolderKind,
  /** Rule names ("health:<name>": health rules); machine, run or schedule ids; "<recipe> <fingerprint>". */
  ids: z.array(z.string()),
  /** Whether --force deletes the image anyway. */
  forcible: z.boolean(),
});
export type ImageHolder = z.infer<typeof ImageHolder>;

/** DELETE /v1/images/:ref?force= — the catalogue row is gone; the bytes go once no stream reads them. */
export const ImageDeleted = z.strictObject({
  image: ImageRecord,
  /** Holders that --force overrode (empty without it). */
  overridden: z.array(ImageHolder),
  /** False while streams still read the bytes: they are removed when the last one closes. */
  blobRemoved: z.boolean(),
});
export type ImageDeleted = z.infer<typeof ImageDeleted>;

/** POST /v1/images/gc — what the image store's garbage collection removed. */
export const ImageGcReport = z.strictObject({
  /** sha256s of stored files no catalogue row names (and deleted images' files no stream reads any more). */
  blobs: z.array(Sha256Hex),
  /** Uploads left open and idle for a day (their rows and files), and upload files with no open upload. */
  uploads: z.array(z.string()),
  bytesFreed: z.number().int().nonnegative(),
});
export type ImageGcReport = z.infer<typeof ImageGcReport>;
