// The image store's catalogue (a row makes an image visible, so it is written only after its file is
// complete and verified) and the uploads of captured images (received moves only after the bytes are
// fsynced). Unique keys: one image per sha256, one captured image per recipe and configuration, one
// open upload per recipe and configuration.
import * as z from "zod";
import { ImageFormat, ImageOrigin, ImagePurpose, type ImageRecord } from "../../../protocol/index.js";
import type { ImageRows, PendingOrigin, UploadRecord, UploadRows } from "../rows.js";
import type { Sql } from "../sql.js";

const ImageRow = z.object({
  sha256: z.string(),
  name: z.string(),
  format: ImageFormat,
  purpose: ImagePurpose,
  size_bytes: z.coerce.number(),
  raw_bytes: z.coerce.number(),
  raw_sha256: z.string(),
  created_at: z.string(),
  origin_json: z.string().nullable(),
});

function toImage(raw: unknown): ImageRecord {
  const r = ImageRow.parse(raw);
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

const PendingOriginSchema: z.ZodType<PendingOrigin> = ImageOrigin.omit({ capturedAt: true });

const UploadRow = z.object({
  id: z.string(),
  name: z.string(),
  format: ImageFormat,
  purpose: ImagePurpose,
  origin_json: z.string(),
  received: z.coerce.number(),
  state: z.enum(["open", "complete"]),
  image: z.string().nullable(),
  created_at: z.string(),
});

function toUpload(raw: unknown): UploadRecord {
  const row = UploadRow.parse(raw);
  return {
    id: row.id,
    name: row.name,
    format: row.format,
    purpose: row.purpose,
    origin: PendingOriginSchema.parse(JSON.parse(row.origin_json)),
    received: row.received,
    state: row.state,
    image: row.image,
    createdAt: row.created_at,
  };
}

/** The key of "one open upload per recipe and configuration". */
const originKey = (recipe: string, fingerprint: string): string => `${recipe}\n${fingerprint}`;

export class ImageTable implements ImageRows {
  /** Insertion order: SQLite's rowid, PostgreSQL's seq column. */
  private readonly order: string;

  constructor(private readonly sql: Sql) {
    this.order = sql.dialect === "sqlite" ? "rowid" : "seq";
  }

  private async one(where: string, params: string[]): Promise<ImageRecord | undefined> {
    const row = await this.sql.get(`SELECT * FROM images WHERE ${where}`, params);
    return row === undefined ? undefined : toImage(row);
  }

  bySha(sha256: string): Promise<ImageRecord | undefined> {
    return this.one("sha256 = ?", [sha256]);
  }

  newestNamed(name: string): Promise<ImageRecord | undefined> {
    // Insertion order breaks ties between images added in the same millisecond: the later is the newer.
    return this.one(`name = ? ORDER BY created_at DESC, ${this.order} DESC LIMIT 1`, [name]);
  }

  async list(): Promise<ImageRecord[]> {
    return (await this.sql.all(`SELECT * FROM images ORDER BY name, created_at, ${this.order}`)).map(toImage);
  }

  captured(recipe: string, fingerprint: string): Promise<ImageRecord | undefined> {
    return this.one("origin_recipe = ? AND origin_fingerprint = ?", [recipe, fingerprint]);
  }

  async insert(r: ImageRecord): Promise<void> {
    await this.sql.run(
      `INSERT INTO images (sha256, name, format, purpose, size_bytes, raw_bytes, raw_sha256, created_at,
                           origin_json, origin_recipe, origin_fingerprint)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        r.sha256,
        r.name,
        r.format,
        r.purpose,
        r.sizeBytes,
        r.rawBytes,
        r.rawSha256,
        r.createdAt,
        r.origin ? JSON.stringify(r.origin) : null,
        r.origin?.recipe ?? null,
        r.origin?.fingerprint ?? null,
      ],
    );
  }

  async remove(sha256: string): Promise<boolean> {
    return (await this.sql.run("DELETE FROM images WHERE sha256 = ?", [sha256])) > 0;
  }
}

export class UploadTable implements UploadRows {
  constructor(private readonly sql: Sql) {}

  async openFor(recipe: string, fingerprint: string): Promise<UploadRecord | undefined> {
    const row = await this.sql.get("SELECT * FROM uploads WHERE origin_key = ? AND state = 'open'", [
      originKey(recipe, fingerprint),
    ]);
    return row === undefined ? undefined : toUpload(row);
  }

  async insert(r: UploadRecord): Promise<void> {
    await this.sql.run(
      `INSERT INTO uploads (id, name, format, purpose, origin_json, origin_key, received, state, image,
                            created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        r.id,
        r.name,
        r.format,
        r.purpose,
        JSON.stringify(r.origin),
        originKey(r.origin.recipe, r.origin.fingerprint),
        r.received,
        r.state,
        r.image,
        r.createdAt,
        r.createdAt,
      ],
    );
  }

  async get(id: string): Promise<UploadRecord | undefined> {
    const row = await this.sql.get("SELECT * FROM uploads WHERE id = ?", [id]);
    return row === undefined ? undefined : toUpload(row);
  }

  async setReceived(id: string, received: number, at: string): Promise<void> {
    await this.sql.run("UPDATE uploads SET received = ?, updated_at = ? WHERE id = ?", [received, at, id]);
  }

  async complete(id: string, image: string, at: string): Promise<void> {
    await this.sql.run("UPDATE uploads SET state = 'complete', image = ?, updated_at = ? WHERE id = ?", [
      image,
      at,
      id,
    ]);
  }

  async idleOpen(before: string): Promise<UploadRecord[]> {
    const rows = await this.sql.all(
      "SELECT * FROM uploads WHERE state = 'open' AND updated_at < ? ORDER BY updated_at, id",
      [before],
    );
    return rows.map(toUpload);
  }

  async remove(id: string): Promise<boolean> {
    return (await this.sql.run("DELETE FROM uploads WHERE id = ?", [id])) > 0;
  }
}
