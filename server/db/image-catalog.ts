// The image catalogue: what each stored image is. The bytes are files named by their sha256
// (server/images/blob-store.ts); a row here makes an image visible, so it is written only after its
// file is complete and verified.
import type Database from "better-sqlite3";
import { z } from "zod";
import { ImageFormat, ImageOrigin, ImagePurpose, type ImageRecord } from "../../protocol/index.js";

export type AddOutcome =
  | { record: ImageRecord; added: boolean }
  /** These bytes are stored under another name. */
  | { conflict: ImageRecord }
  /** A captured image of the same recipe and configuration was stored first: it stays, this one is not added. */
  | { captured: ImageRecord };

export interface ImageCatalog {
  /** Records an image; the same bytes under the same name again is a no-op returning the first record. */
  add(record: ImageRecord): Promise<AddOutcome>;
  list(): Promise<ImageRecord[]>;
  /** By sha256 (bare or "sha256:"-prefixed) or by name (the newest image of that name). */
  find(ref: string): Promise<ImageRecord | undefined>;
  /** The image a recipe's install script produced on a machine of this configuration, if one was captured. */
  findCaptured(recipe: string, fingerprint: string): Promise<ImageRecord | undefined>;
}

const ImageRow = z.object({
  sha256: z.string(),
  name: z.string(),
  format: ImageFormat,
  purpose: ImagePurpose,
  size_bytes: z.number(),
  raw_bytes: z.number(),
  raw_sha256: z.string(),
  created_at: z.string(),
  origin_json: z.string().nullable(),
});

function toRecord(row: unknown): ImageRecord {
  const r = ImageRow.parse(row);
  return {
    sha256: r.sha256,
    name: r.name,
    format: r.format,
    purpose: r.purpose,
    sizeBytes: r.size_bytes,
    rawBytes: r.raw_bytes,
    rawSha256: r.raw_sha256,
    createdAt: r.created_at,
    origin: r.origin_json === null ? null : ImageOrigin.parse(JSON.parse(r.origin_json)),
  };
}

/** "sha256:<hex>" or "<hex>" → the hex; anything else is a name. */
export function shaOfRef(ref: string): string | undefined {
  const hex = ref.startsWith("sha256:") ? ref.slice("sha256:".length) : ref;
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

export class SqliteImageCatalog implements ImageCatalog {
  constructor(private readonly db: Database.Database) {}

  add(record: ImageRecord): Promise<AddOutcome> {
    return Promise.resolve(
      this.db.transaction((): AddOutcome => {
        if (record.origin) {
          const first = this.captured(record.origin.recipe, record.origin.fingerprint);
          if (first) return { captured: first };
        }
        const existing: unknown = this.db.prepare("SELECT * FROM images WHERE sha256 = ?").get(record.sha256);
        if (existing !== undefined) {
          const stored = toRecord(existing);
          return stored.name === record.name ? { record: stored, added: false } : { conflict: stored };
        }
        this.db
          .prepare(
            `INSERT INTO images (sha256, name, format, purpose, size_bytes, raw_bytes, raw_sha256, created_at,
                                 origin_json, origin_recipe, origin_fingerprint)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            record.sha256,
            record.name,
            record.format,
            record.purpose,
            record.sizeBytes,
            record.rawBytes,
            record.rawSha256,
            record.createdAt,
            record.origin ? JSON.stringify(record.origin) : null,
            record.origin?.recipe ?? null,
            record.origin?.fingerprint ?? null,
          );
        return { record, added: true };
      })(),
    );
  }

  list(): Promise<ImageRecord[]> {
    return Promise.resolve(
      this.db.prepare("SELECT * FROM images ORDER BY name, created_at").all().map(toRecord),
    );
  }

  private captured(recipe: string, fingerprint: string): ImageRecord | undefined {
    const row: unknown = this.db
      .prepare("SELECT * FROM images WHERE origin_recipe = ? AND origin_fingerprint = ?")
      .get(recipe, fingerprint);
    return row === undefined ? undefined : toRecord(row);
  }

  findCaptured(recipe: string, fingerprint: string): Promise<ImageRecord | undefined> {
    return Promise.resolve(this.captured(recipe, fingerprint));
  }

  find(ref: string): Promise<ImageRecord | undefined> {
    const sha = shaOfRef(ref);
    const row: unknown = sha
      ? this.db.prepare("SELECT * FROM images WHERE sha256 = ?").get(sha)
      : this.db
          .prepare("SELECT * FROM images WHERE name = ? ORDER BY created_at DESC, rowid DESC LIMIT 1")
          .get(ref);
    return Promise.resolve(row === undefined ? undefined : toRecord(row));
  }
}
