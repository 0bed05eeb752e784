// Which ICU data items the trimmed Node keeps (pure), and the trim on this host's own Node binary: the
// package found by its header, rewritten shorter, and the patched Node still running Intl code.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findIcuPackage, keepIcuItem, trimNodeIcu } from "./node-icu.js";

describe("keepIcuItem", () => {
  it("keeps root and English, the time zones, normalisation and the rules V8 uses without a locale", () => {
    for (const name of [
      "icudt78l/root.res",
      "icudt78l/en.res",
      "icudt78l/en_US_POSIX.res",
      "icudt78l/zoneinfo64.res",
      "icudt78l/supplementalData.res",
      "icudt78l/nfkc.nrm",
      "icudt78l/coll/root.res",
      "icudt78l/coll/ucadata.icu",
      "icudt78l/brkitr/word.brk",
      "icudt78l/zone/en.res",
      "icudt78l/curr/pool.res",
    ])
      expect(keepIcuItem(name), name).toBe(true);
  });

  it("drops other locales, word dictionaries, transliterators and legacy converters", () => {
    for (const name of [
      "icudt78l/de.res",
      "icudt78l/zh_Hant_TW.res",
      "icudt78l/coll/zh.res",
      "icudt78l/brkitr/cjdict.dict",
      "icudt78l/translit/root.res",
      "icudt78l/ibm-1375_P100-2008.cnv",
      "icudt78l/unames.icu",
    ])
      expect(keepIcuItem(name), name).toBe(false);
  });
});

describe("trimNodeIcu", () => {
  const symbol = /^[0-9a-f]+ ([0-9a-f]+) [rR] icudt\d+_dat$/m.exec(
    execFileSync("nm", ["-S", "--defined-only", process.execPath], { maxBuffer: 1 << 28 }).toString(),
  );

  it.skipIf(!symbol)("trims this Node's ICU package in place and the result still runs Intl code", () => {
    const original = readFileSync(process.execPath);
    const trimmed = trimNodeIcu(original, parseInt(symbol?.[1] ?? "0", 16));
    expect(trimmed).not.toBeNull();
    if (!trimmed) return;
    expect(trimmed.binary.length).toBe(original.length);
    expect(trimmed.after).toBeLessThan(trimmed.before / 4);
    expect(findIcuPackage(trimmed.binary)).toBe(findIcuPackage(original));
    const dir = mkdtempSync(join(tmpdir(), "bootwright-node-icu-"));
    try {
      const node = join(dir, "node");
      writeFileSync(node, trimmed.binary);
      chmodSync(node, 0o755);
      const out = execFileSync(node, [
        "-p",
        'JSON.stringify([(1234.5).toLocaleString("de-DE"), new Date(0).toLocaleDateString("en-US", { timeZone: "UTC" }), "b".localeCompare("a")])',
      ]).toString();
      // German is gone (formats as English), English and collation work.
      expect(JSON.parse(out)).toEqual(["1,234.5", "1/1/1970", 1]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
