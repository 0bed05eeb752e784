// The image catalogue: what each stored image is. The bytes are files named by their sha256
// (server/images/blob-store.ts); a row here makes an image visible, so it is written only after its
// file is complete and verified.
import type Database from "better-sqlite3";
import { z } from "zod";
import { ImageFormat, ImagePurpose, type ImageRecord } from "../../protocol/index.js";

export interface ImageCatalog {
  /** Records an image; the same bytes under the same name again is a no-op returning the first record. */
  add(record: ImageRecord): Promise<{ record: ImageRecord; added: boolean } | { conflict: ImageRecord }>;
  list(): Promise<ImageRecord[]>;
  /** By sha256 (bare or "sha256:"-prefixed) or by name (the newest image of that name). */
  find(ref: string): Promise<ImageRecord | undefined>;
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
  };
}

/** "sha256:<hex>" or "<hex>" → the hex; anything else is a name. */
export function shaOfRef(ref: string): string | undefined {
  const hex = ref.startsWith("sha256:") ? ref.slice("sha256:".length) : ref;
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

export class SqliteImageCatalog implements ImageCatalog {
  constructor(private readonly db: Database.Database) {}

  add(record: ImageRecord): Promise<{ record: ImageRecord; added: boolean } | { conflict: ImageRecord }> {
    return Promise.resolve(
      this.db.transaction(() => {
        const existing: unknown = this.db.prepare("SELECT * FROM images WHERE sha256 = ?").get(record.sha256);
        if (existing !== undefined) {
          const stored = toRecord(existing);
          return stored.name === record.name ? { record: stored, added: false } : { conflict: stored };
        }
        this.db
          .prepare(
            `INSERT INTO images (sha256, name, format, purpose, size_bytes, raw_bytes, raw_sha256, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
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
