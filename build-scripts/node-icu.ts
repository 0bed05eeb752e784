// Shrinks the Node binary the initramfs carries by trimming the ICU data built into it to English.
//
// Node's release builds embed full ICU (the `icudt<N>_dat` common data package, ~33 MB of its ~86 MB,
// ~9 MB of the initramfs once compressed): every locale's calendars, collations, currencies and names,
// the CJK/Thai/Khmer word dictionaries, legacy charset converters. The loader formats nothing for
// people in other languages, so we keep what Node's own `small-icu` build keeps (root and English)
// plus the data V8 and Node reach for without a locale (time zones, normalisation, plural and unit
// rules, root collation, break rules). The package is rewritten in place, same format, shorter, and
// the rest of its space zeroed (which compresses to nothing). Other locales then fall back to English
// (`toLocaleString("de-DE")` formats as en), the documented small-icu behaviour.
//
// Format (ICU's ucmndata.h, "CmnD"): a data header of `headerSize` bytes, then a table of contents:
// count (u32), then count × (name offset, data offset), both u32 and relative to the table's start;
// names are NUL-terminated, sorted (ICU binary-searches them); each item's data is 16-byte aligned.

/** Locale-tree folders: in each, only root, English and the shared pools stay. */
const LOCALE_FOLDERS = new Set(["coll", "curr", "lang", "region", "unit", "zone", "rbnf", "brkitr"]);
const KEPT_LOCALE_FILE = /^(root|en|en_US|en_US_POSIX|pool|res_index)\.res$/;
/** A locale bundle at the top level: ll, ll_CC, ll_Script_CC… (supplementalData.res and the like are not). */
const LOCALE_FILE = /^[a-z]{2,3}(_[A-Za-z0-9]+)*\.res$/;

interface Item {
  name: string;
  data: Buffer;
}

/** Whether an item of the package (`icudt78l/coll/de.res`) stays in the trimmed one. */
export function keepIcuItem(name: string): boolean {
  const parts = name.split("/").slice(1);
  const file = parts[parts.length - 1] ?? "";
  if (parts.length === 1) {
    // Legacy charset converters (Node decodes UTF-8/16 and latin1 itself) and character names.
    if (file.endsWith(".cnv") || file === "unames.icu") return false;
    return !LOCALE_FILE.test(file) || KEPT_LOCALE_FILE.test(file);
  }
  const folder = parts[0] ?? "";
  if (folder === "translit") return false; // transliterators: nothing in V8 or Node uses them
  if (!LOCALE_FOLDERS.has(folder)) return true;
  if (file.endsWith(".dict")) return false; // CJK, Thai, Khmer… word dictionaries
  return !file.endsWith(".res") || KEPT_LOCALE_FILE.test(file);
}

/** The offset of the embedded ICU package in a Node binary, by its header; -1 when there is none. */
export function findIcuPackage(binary: Buffer): number {
  // The data header's magic (0xda27 at offset 2) and the "CmnD" data format at offset 12.
  for (let at = binary.indexOf("CmnD"); at !== -1; at = binary.indexOf("CmnD", at + 1)) {
    const start = at - 12;
    if (start >= 0 && binary[start + 2] === 0xda && binary[start + 3] === 0x27) return start;
  }
  return -1;
}

/** The package's items; `length` is the package's size (the size of its symbol in the binary). */
function readItems(pkg: Buffer, length: number): { header: Buffer; items: Item[] } {
  const headerSize = pkg.readUInt16LE(0);
  const toc = headerSize;
  const count = pkg.readUInt32LE(toc);
  const entries = Array.from({ length: count }, (_, i) => ({
    nameAt: toc + pkg.readUInt32LE(toc + 4 + 8 * i),
    dataAt: toc + pkg.readUInt32LE(toc + 8 + 8 * i),
  }));
  // An item's length is not recorded: it runs to the next item, the last one to the package's end.
  const items = entries.map((entry, i) => ({
    name: pkg.toString("latin1", entry.nameAt, pkg.indexOf(0, entry.nameAt)),
    data: pkg.subarray(entry.dataAt, entries[i + 1]?.dataAt ?? length),
  }));
  return { header: pkg.subarray(0, headerSize), items };
}

function writePackage(header: Buffer, items: Item[]): Buffer {
  const tocLength = 4 + 8 * items.length;
  const names = Buffer.concat(items.map((item) => Buffer.from(`${item.name}\0`, "latin1")));
  const align = (n: number): number => (n + 15) & ~15;
  let dataAt = align(header.length + tocLength + names.length) - header.length;
  const toc = Buffer.alloc(tocLength);
  toc.writeUInt32LE(items.length, 0);
  let nameAt = tocLength;
  const chunks: Buffer[] = [];
  items.forEach((item, i) => {
    toc.writeUInt32LE(nameAt, 4 + 8 * i);
    toc.writeUInt32LE(dataAt, 8 + 8 * i);
    nameAt += Buffer.byteLength(item.name, "latin1") + 1;
    const padded = Buffer.alloc(align(item.data.length));
    item.data.copy(padded);
    chunks.push(padded);
    dataAt += padded.length;
  });
  const head = Buffer.concat([header, toc, names]);
  return Buffer.concat([head, Buffer.alloc(align(head.length) - head.length), ...chunks]);
}

/**
 * The binary with its ICU package trimmed in place (same length). `length` is the package's size: the
 * size of the `icudt<N>_dat` symbol (`nm -S`), since the package itself does not record it. Returns null
 * when the binary has no embedded package (a Node built with system or small ICU): nothing to trim.
 */
export function trimNodeIcu(
  binary: Buffer,
  length: number,
): { binary: Buffer; before: number; after: number; kept: number } | null {
  const at = findIcuPackage(binary);
  if (at === -1) return null;
  if (at + length > binary.length) throw new Error("the ICU package's size runs past the binary's end");
  const { header, items } = readItems(binary.subarray(at), length);
  const kept = items.filter((item) => keepIcuItem(item.name));
  const trimmed = writePackage(header, kept);
  if (trimmed.length > length) throw new Error("the trimmed ICU package came out larger than the original");
  const out = Buffer.from(binary);
  trimmed.copy(out, at);
  out.fill(0, at + trimmed.length, at + length);
  return { binary: out, before: length, after: trimmed.length, kept: kept.length };
}
