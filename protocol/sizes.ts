// Sizes as operators write them in a policy ("64GiB", "1.5 TB"): conditions on facts and partition sizes.

const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  pb: 1e15,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
  pib: 2 ** 50,
};

/** "64GiB", "1.5 TB", "512" → bytes (KiB… are powers of 1024, KB… of 1000); null when not a size. */
export function parseSize(text: string): number | null {
  const found = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!found) return null;
  const factor = SIZE_UNITS[(found[2] ?? "").toLowerCase() || "b"];
  if (factor === undefined) return null;
  const bytes = Math.round(Number(found[1]) * factor);
  return Number.isSafeInteger(bytes) ? bytes : null;
}
