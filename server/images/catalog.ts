// The image store's catalogue and its uploads, over the store's rows: what each stored image is (the
// bytes are files named by sha256: blob-store.ts), and which captured-image uploads are open. The
// decisions (same bytes under another name, the first captured image of a configuration wins, one
// open upload per recipe and configuration) are here; the rows only hold them.
import type { ImageRecord } from "../../protocol/index.js";
import type { Rows, Store, UploadRecord } from "../db/rows.js";

export type { UploadRecord };

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

export interface UploadCatalog {
  /** Opens an upload, or returns the open one of the same recipe and configuration. */
  open(record: UploadRecord): Promise<{ opened: UploadRecord } | { busy: UploadRecord }>;
  get(id: string): Promise<UploadRecord | undefined>;
  setReceived(id: string, received: number, at: string): Promise<void>;
  complete(id: string, image: string, at: string): Promise<void>;
  /** Open uploads with no chunk since `before`, oldest first. */
  idle(before: string): Promise<UploadRecord[]>;
  /** Drops the upload if it is still open and idle since `before`; false when it moved meanwhile. */
  removeIdle(id: string, before: string): Promise<boolean>;
}

/** "sha256:<hex>" or "<hex>" → the hex; anything else is a name. */
export function shaOfRef(ref: string): string | undefined {
  const hex = ref.startsWith("sha256:") ? ref.slice("sha256:".length) : ref;
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

export async function addImage(rows: Rows, record: ImageRecord): Promise<AddOutcome> {
  if (record.origin) {
    const first = await rows.images.captured(record.origin.recipe, record.origin.fingerprint);
    if (first) return { captured: first };
  }
  const stored = await rows.images.bySha(record.sha256);
  if (stored) return stored.name === record.name ? { record: stored, added: false } : { conflict: stored };
  await rows.images.insert(record);
  return { record, added: true };
}

export function findImage(rows: Rows, ref: string): Promise<ImageRecord | undefined> {
  const sha = shaOfRef(ref);
  return sha ? rows.images.bySha(sha) : rows.images.newestNamed(ref);
}

export function imageCatalog(store: Store): ImageCatalog {
  return {
    add: (record) => store.transaction((rows) => addImage(rows, record)),
    list: () => store.read((rows) => rows.images.list()),
    find: (ref) => store.read((rows) => findImage(rows, ref)),
    findCaptured: (recipe, fingerprint) => store.read((rows) => rows.images.captured(recipe, fingerprint)),
  };
}

export function uploadCatalog(store: Store): UploadCatalog {
  return {
    open: (record) =>
      store.transaction(async (rows) => {
        const busy = await rows.uploads.openFor(record.origin.recipe, record.origin.fingerprint);
        if (busy) return { busy };
        await rows.uploads.insert(record);
        return { opened: record };
      }),
    get: (id) => store.read((rows) => rows.uploads.get(id)),
    setReceived: (id, received, at) =>
      store.transaction((rows) => rows.uploads.setReceived(id, received, at)),
    complete: (id, image, at) => store.transaction((rows) => rows.uploads.complete(id, image, at)),
    idle: (before) => store.read((rows) => rows.uploads.idleOpen(before)),
    removeIdle: (id, before) =>
      store.transaction(async (rows) =>
        (await rows.uploads.idleOpen(before)).some((upload) => upload.id === id)
          ? rows.uploads.remove(id)
          : false,
      ),
  };
}
