// Resumable uploads of captured images: which are open, how far each has come, and what each became.
// At most one open upload per (recipe, configuration fingerprint): a unique index decides races.
import type Database from "better-sqlite3";
import { z } from "zod";
import { ImageFormat, ImageOrigin, ImagePurpose } from "../../protocol/index.js";

const PendingOrigin = ImageOrigin.omit({ capturedAt: true });

export interface UploadRecord {
  id: string;
  name: string;
  format: ImageFormat;
  purpose: ImagePurpose;
  origin: z.infer<typeof PendingOrigin>;
  received: number;
  state: "open" | "complete";
  image: string | null;
  createdAt: string;
}

export interface UploadCatalog {
  /** Opens an upload, or returns the open one of the same recipe and configuration. */
  open(record: UploadRecord): Promise<{ opened: UploadRecord } | { busy: UploadRecord }>;
  get(id: string): Promise<UploadRecord | undefined>;
  setReceived(id: string, received: number, at: string): Promise<void>;
  complete(id: string, image: string, at: string): Promise<void>;
}

const UploadRow = z.object({
  id: z.string(),
  name: z.string(),
  format: ImageFormat,
  purpose: ImagePurpose,
  origin_json: z.string(),
  received: z.number(),
  state: z.enum(["open", "complete"]),
  image: z.string().nullable(),
  created_at: z.string(),
});

function toRecord(raw: unknown): UploadRecord {
  const row = UploadRow.parse(raw);
  return {
    id: row.id,
    name: row.name,
    format: row.format,
    purpose: row.purpose,
    origin: PendingOrigin.parse(JSON.parse(row.origin_json)),
    received: row.received,
    state: row.state,
    image: row.image,
    createdAt: row.created_at,
  };
}

export function originKey(origin: { recipe: string; fingerprint: string }): string {
  return `${origin.recipe}\n${origin.fingerprint}`;
}

export class SqliteUploadCatalog implements UploadCatalog {
  constructor(private readonly db: Database.Database) {}

  open(record: UploadRecord): Promise<{ opened: UploadRecord } | { busy: UploadRecord }> {
    return Promise.resolve(
      this.db.transaction((): { opened: UploadRecord } | { busy: UploadRecord } => {
        const busy: unknown = this.db
          .prepare("SELECT * FROM uploads WHERE origin_key = ? AND state = 'open'")
          .get(originKey(record.origin));
        if (busy !== undefined) return { busy: toRecord(busy) };
        this.db
          .prepare(
            `INSERT INTO uploads (id, name, format, purpose, origin_json, origin_key, received, state, image,
                                  created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, 0, 'open', NULL, ?, ?)`,
          )
          .run(
            record.id,
            record.name,
            record.format,
            record.purpose,
            JSON.stringify(record.origin),
            originKey(record.origin),
            record.createdAt,
            record.createdAt,
          );
        return { opened: record };
      })(),
    );
  }

  get(id: string): Promise<UploadRecord | undefined> {
    const row: unknown = this.db.prepare("SELECT * FROM uploads WHERE id = ?").get(id);
    return Promise.resolve(row === undefined ? undefined : toRecord(row));
  }

  setReceived(id: string, received: number, at: string): Promise<void> {
    this.db.prepare("UPDATE uploads SET received = ?, updated_at = ? WHERE id = ?").run(received, at, id);
    return Promise.resolve();
  }

  complete(id: string, image: string, at: string): Promise<void> {
    this.db
      .prepare("UPDATE uploads SET state = 'complete', image = ?, updated_at = ? WHERE id = ?")
      .run(image, at, id);
    return Promise.resolve();
  }
}
