// Pure parsers for /proc text files, tested on captured bytes.

export interface CpuSummary {
  model: string | null;
  logicalCount: number;
}

/** /proc/cpuinfo: one block per logical processor; "model name" of the first. */
export function parseCpuinfo(text: string): CpuSummary {
  let model: string | null = null;
  let logicalCount = 0;
  for (const line of text.split("\n")) {
    const [rawKey, ...rest] = line.split(":");
    const key = rawKey?.trim();
    if (key === "processor") logicalCount += 1;
    else if (key === "model name" && model === null) model = rest.join(":").trim() || null;
  }
  return { model, logicalCount };
}

/** /proc/meminfo: MemTotal in bytes (the file says "kB" and means KiB). */
export function parseMemTotalBytes(text: string): number | undefined {
  const match = /^MemTotal:\s+(\d+)\s+kB$/m.exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
}
