// Durations as operators write them ("90s", "20m", "1h30m"), for the CLI (--timeout 20m) and the policy
// file (timeout: 20m): one pure parser to milliseconds.
import { BootwrightError } from "../../protocol/index.js";

/** A duration that cannot be read; `text` is what was given. */
export class DurationError extends BootwrightError<"duration_invalid"> {
  constructor(text: string | number, detail: string) {
    super(
      "duration_invalid",
      `duration ${typeof text === "string" ? JSON.stringify(text) : String(text)} ${detail}`,
      {
        text,
      },
    );
  }

  get text(): string | number {
    return this.context.text;
  }
}

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;
const UNITS: readonly Unit[] = ["d", "h", "m", "s", "ms"]; // largest first
const EXPECTED = "is not valid: expected a number and a unit (d, h, m, s, ms), e.g. 90s, 20m, 1h30m";

/**
 * Milliseconds from a number (already milliseconds: YAML `timeout: 1500`) or from parts like "1h30m",
 * "1.5h", "500ms". A string without a unit is refused (except "0"): `--timeout 20` is more likely meant
 * as minutes than as 20 ms. Fractions of a millisecond are rounded.
 */
export function parseDuration(text: string | number): number {
  if (typeof text === "number") {
    if (!Number.isFinite(text) || text < 0) {
      throw new DurationError(text, "is not valid: milliseconds must be a finite number, 0 or more");
    }
    return checked(text, Math.round(text));
  }
  const source = text.trim();
  if (source === "0") return 0;
  if (/^\d+(\.\d+)?$/.test(source)) {
    throw new DurationError(text, `has no unit: use ${UNITS.join(", ")}, e.g. "${source}m"`);
  }
  let total = 0;
  let lastUnit = -1;
  // "ms" before "m" and "s": the alternation is tried left to right.
  const part = /(\d+(?:\.\d+)?)(ms|d|h|m|s)/y;
  let at = 0;
  while (at < source.length) {
    part.lastIndex = at;
    const match = part.exec(source);
    const unit = UNITS.find((u) => u === match?.[2]);
    if (match === null || unit === undefined) throw new DurationError(text, EXPECTED);
    const index = UNITS.indexOf(unit);
    // "30m1h" or "1h1h" is more likely a typo than a sum.
    if (index <= lastUnit) throw new DurationError(text, "is not valid: units go largest first, each once");
    lastUnit = index;
    total += Number(match[1]) * UNIT_MS[unit];
    at = part.lastIndex;
  }
  if (at === 0) throw new DurationError(text, EXPECTED);
  return checked(text, Math.round(total));
}

function checked(text: string | number, ms: number): number {
  if (!Number.isSafeInteger(ms)) throw new DurationError(text, "is too long");
  return ms;
}
