// Cron schedules for timed maintenance programs: a pure parser of the 5-field form and the next time
// one fires, all in UTC, so the server can store each schedule's next fire time and fire it once when due.
import { BootwrightError } from "../../protocol/index.js";

/** A parsed schedule: the allowed values of each field, ascending, without repeats. */
export interface CronSpec {
  /** The text it was parsed from, trimmed (a macro stays as written). */
  readonly source: string;
  readonly minutes: readonly number[]; // 0-59
  readonly hours: readonly number[]; // 0-23
  readonly daysOfMonth: readonly number[]; // 1-31
  readonly months: readonly number[]; // 1-12
  readonly daysOfWeek: readonly number[]; // 0-6, 0 = Sunday (7 is read as 0)
  /**
   * Vixie cron (cron.c, entry.c): a day field whose text starts with a star, bare or stepped, does not
   * restrict; when both day fields restrict, a day matches if either does, otherwise it must match both.
   */
  readonly dayMatch: "either" | "both";
}

export type CronField = "minute" | "hour" | "day-of-month" | "month" | "day-of-week";

/** A schedule that cannot be used: bad text, or one that never fires. */
export class CronError extends BootwrightError<"cron_invalid"> {
  constructor(
    expression: string,
    /** The field at fault; null when the whole expression is (a macro, the field count, never firing). */
    readonly field: CronField | null,
    detail: string,
  ) {
    super("cron_invalid", `cron "${expression}": ${detail}`, { expression, field });
  }

  get expression(): string {
    return this.context.expression;
  }
}

const MACROS: Readonly<Record<string, string>> = {
  "@hourly": "0 * * * *",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@weekly": "0 0 * * 0",
  "@monthly": "0 0 1 * *",
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
};

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

interface FieldRule {
  name: CronField;
  min: number;
  max: number;
  /** Names for the values from `min` on, and how to say what they are in an error. */
  names?: { list: readonly string[]; what: string };
}

const FIELDS: readonly FieldRule[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day-of-month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12, names: { list: MONTHS, what: "a month name (jan-dec)" } },
  // 0 and 7 are both Sunday (Vixie cron's LAST_DOW is 7); 7 is folded into 0 after parsing.
  { name: "day-of-week", min: 0, max: 7, names: { list: WEEKDAYS, what: "a weekday name (sun-sat)" } },
];

/**
 * The longest wait a schedule that fires at all can have: Feb 29 that must also be a given weekday
 * (day-of-month 29, month 2, a stepped-star day-of-week) recurs at most 40 years apart across the
 * Gregorian cycle (2100 is not a leap year), so a search this long answers "never fires" exactly;
 * skipping whole months and days keeps it to a few thousand steps.
 */
const SEARCH_YEARS = 40;

/** Parses "minute hour day-of-month month day-of-week" or a macro (@daily, …); throws a CronError. */
export function parseCron(text: string): CronSpec {
  const source = text.trim();
  let body = source;
  if (source.startsWith("@")) {
    const expanded = MACROS[source.toLowerCase()];
    if (expanded === undefined) {
      throw new CronError(source, null, `unknown macro ${source} (${Object.keys(MACROS).join(", ")})`);
    }
    body = expanded;
  }
  const parts = body.split(/\s+/).filter((part) => part !== "");
  if (parts.length !== FIELDS.length) {
    const names = FIELDS.map((f) => f.name).join(" ");
    throw new CronError(source, null, `expected 5 fields (${names}), got ${parts.length}`);
  }
  const values = FIELDS.map((rule, i) => parseField(source, rule, parts[i] ?? ""));
  const weekdays = [...new Set((values[4] ?? []).map((day) => day % 7))].sort((a, b) => a - b);
  const restricts = (i: number) => !(parts[i] ?? "").startsWith("*");
  return {
    source,
    minutes: values[0] ?? [],
    hours: values[1] ?? [],
    daysOfMonth: values[2] ?? [],
    months: values[3] ?? [],
    daysOfWeek: weekdays,
    dayMatch: restricts(2) && restricts(4) ? "either" : "both",
  };
}

function parseField(source: string, rule: FieldRule, text: string): number[] {
  function fail(detail: string): never {
    throw new CronError(source, rule.name, `${rule.name} ${detail}`);
  }
  function value(token: string): number {
    const named = rule.names?.list.indexOf(token.toLowerCase()) ?? -1;
    if (named >= 0) return rule.min + named;
    if (!/^\d+$/.test(token)) fail(`"${token}" is not a number${rule.names ? ` or ${rule.names.what}` : ""}`);
    const n = Number(token);
    if (n < rule.min || n > rule.max) fail(`${token} is outside ${rule.min}-${rule.max}`);
    return n;
  }
  const found = new Set<number>();
  for (const item of text.split(",")) {
    if (item === "") fail(`list "${text}" has an empty item`);
    const [range = "", stepText, ...extraSlash] = item.split("/");
    if (extraSlash.length > 0) fail(`"${item}" has more than one step`);
    let lo = rule.min;
    let hi = rule.max;
    if (range !== "*") {
      const [first = "", last, ...extraDash] = range.split("-");
      if (extraDash.length > 0 || first === "" || last === "") fail(`range "${range}" is not a-b`);
      lo = value(first);
      hi = last === undefined ? lo : value(last);
      // "fri-sun": Sunday as the end of a range is 7, not 0.
      if (rule.name === "day-of-week" && hi === 0 && lo > 0) hi = 7;
      if (hi < lo) fail(`range ${range} runs backwards`);
      if (stepText !== undefined && last === undefined) {
        fail(`step "${item}" needs * or a range a-b before /`);
      }
    }
    let step = 1;
    if (stepText !== undefined) {
      const span = rule.name === "day-of-week" ? 7 : rule.max - rule.min + 1;
      if (!/^\d+$/.test(stepText)) fail(`step "${stepText}" is not a number`);
      step = Number(stepText);
      // "*/90" in minutes would quietly mean "hourly": refuse steps the field cannot hold.
      if (step < 1 || step > span) fail(`step ${stepText} is outside 1-${span}`);
    }
    for (let n = lo; n <= hi; n += step) found.add(n);
  }
  return [...found].sort((a, b) => a - b);
}

/** The first whole minute strictly after `after` that the schedule matches (UTC); throws a CronError. */
export function nextCronTime(spec: CronSpec, after: Date): Date {
  const afterMs = after.getTime();
  if (Number.isNaN(afterMs)) throw new RangeError("nextCronTime: `after` is not a valid date");
  const start = new Date(Math.floor(afterMs / 60_000) * 60_000 + 60_000);
  const [y0, m0, d0] = [start.getUTCFullYear(), start.getUTCMonth() + 1, start.getUTCDate()];
  const [h0, min0] = [start.getUTCHours(), start.getUTCMinutes()];
  // Each loop starts from the start's value only while every outer field still equals the start's.
  for (let year = y0; year <= y0 + SEARCH_YEARS; year++) {
    for (const month of spec.months) {
      const startMonth = year === y0 && month === m0;
      if (year === y0 && month < m0) continue;
      const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
      for (let day = startMonth ? d0 : 1; day <= days; day++) {
        if (!dayMatches(spec, year, month, day)) continue;
        const startDay = startMonth && day === d0;
        for (const hour of spec.hours) {
          if (startDay && hour < h0) continue;
          const startHour = startDay && hour === h0;
          const minute = spec.minutes.find((m) => !startHour || m >= min0);
          if (minute !== undefined) return new Date(Date.UTC(year, month - 1, day, hour, minute));
        }
      }
    }
  }
  throw new CronError(
    spec.source,
    null,
    `never fires (searched ${SEARCH_YEARS} years from ${start.toISOString()})`,
  );
}

function dayMatches(spec: CronSpec, year: number, month: number, day: number): boolean {
  const byDate = spec.daysOfMonth.includes(day);
  const byWeekday = spec.daysOfWeek.includes(new Date(Date.UTC(year, month - 1, day)).getUTCDay());
  return spec.dayMatch === "either" ? byDate || byWeekday : byDate && byWeekday;
}
