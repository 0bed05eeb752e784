// Cron schedules: every field form, names and macros, Vixie's day-of-month / day-of-week rule, rollovers,
// leap days, errors with their messages, and a property check of nextCronTime against brute force.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hasCode, type BootwrightError } from "../../protocol/index.js";
import { nextCronTime, parseCron, type CronSpec } from "./cron.js";

const range = (lo: number, hi: number, step = 1) =>
  Array.from({ length: Math.floor((hi - lo) / step) + 1 }, (_, i) => lo + i * step);

function next(text: string, after: string): string {
  return nextCronTime(parseCron(text), new Date(after)).toISOString();
}

function cronError(run: () => unknown): BootwrightError<"cron_invalid"> {
  try {
    run();
  } catch (error) {
    if (hasCode(error, "cron_invalid")) return error;
    throw error;
  }
  throw new Error("expected a CronError");
}

describe("parseCron", () => {
  it("reads every field form", () => {
    const spec = parseCron("*/20 1,5-7 10-20/5 * 1-5/2");
    expect(spec.minutes).toEqual([0, 20, 40]);
    expect(spec.hours).toEqual([1, 5, 6, 7]);
    expect(spec.daysOfMonth).toEqual([10, 15, 20]);
    expect(spec.months).toEqual(range(1, 12));
    expect(spec.daysOfWeek).toEqual([1, 3, 5]);
    expect(spec.source).toBe("*/20 1,5-7 10-20/5 * 1-5/2");
  });

  it("expands * to the whole field and merges overlapping list items", () => {
    const spec = parseCron("* * * * *");
    expect(spec.minutes).toEqual(range(0, 59));
    expect(spec.hours).toEqual(range(0, 23));
    expect(spec.daysOfMonth).toEqual(range(1, 31));
    expect(spec.daysOfWeek).toEqual(range(0, 6));
    expect(parseCron("5,1-10,*/30,7 * * * *").minutes).toEqual([...range(0, 10), 30]);
  });

  it("accepts leading zeros, extra blanks and a step wider than its range", () => {
    const spec = parseCron("  05   0-3/10\t1 * *  ");
    expect(spec.minutes).toEqual([5]);
    expect(spec.hours).toEqual([0]);
    expect(spec.source).toBe("05   0-3/10\t1 * *");
  });

  it("reads month and weekday names in any case, alone, in ranges and in lists", () => {
    expect(parseCron("0 0 1 jan,JUL,Dec *").months).toEqual([1, 7, 12]);
    expect(parseCron("0 0 1 mar-may/2 *").months).toEqual([3, 5]);
    expect(parseCron("0 9 * * mon-fri").daysOfWeek).toEqual([1, 2, 3, 4, 5]);
    expect(parseCron("0 9 * * SUN,sat").daysOfWeek).toEqual([0, 6]);
  });

  it("reads 0 and 7 as Sunday, and Sunday at the end of a range as 7", () => {
    expect(parseCron("0 0 * * 7").daysOfWeek).toEqual([0]);
    expect(parseCron("0 0 * * 0,7").daysOfWeek).toEqual([0]);
    expect(parseCron("0 0 * * 5-7").daysOfWeek).toEqual([0, 5, 6]);
    expect(parseCron("0 0 * * fri-sun").daysOfWeek).toEqual([0, 5, 6]);
    expect(parseCron("0 0 * * */7").daysOfWeek).toEqual([0]);
  });

  it.each([
    ["@hourly", "0 * * * *"],
    ["@daily", "0 0 * * *"],
    ["@midnight", "0 0 * * *"],
    ["@weekly", "0 0 * * 0"],
    ["@monthly", "0 0 1 * *"],
    ["@yearly", "0 0 1 1 *"],
    ["@annually", "0 0 1 1 *"],
    ["@DAILY", "0 0 * * *"],
  ])("expands %s to %s and keeps the macro as its source", (macro, fields) => {
    expect(parseCron(macro)).toEqual({ ...parseCron(fields), source: macro });
  });

  it.each([
    ["0 0 13 * fri", "either"],
    ["0 0 1,15 * mon-fri", "either"],
    ["0 0 * * fri", "both"],
    ["0 0 13 * *", "both"],
    ["0 0 * * *", "both"],
    // Vixie cron: a field that starts with "*" does not restrict, whatever its step.
    ["0 0 */2 * fri", "both"],
    ["0 0 13 * */2", "both"],
    ["@weekly", "both"],
  ] as const)("%s: a day matches %s of its day fields", (text, dayMatch) => {
    expect(parseCron(text).dayMatch).toBe(dayMatch);
  });

  it.each([
    ["61 * * * *", "minute 61 is outside 0-59"],
    ["* 24 * * *", "hour 24 is outside 0-23"],
    ["* * 0 * *", "day-of-month 0 is outside 1-31"],
    ["* * 32 * *", "day-of-month 32 is outside 1-31"],
    ["* * * 13 *", "month 13 is outside 1-12"],
    ["* * * 0 *", "month 0 is outside 1-12"],
    ["* * * * 8", "day-of-week 8 is outside 0-7"],
    ["x * * * *", 'minute "x" is not a number'],
    ["* * * foo *", 'month "foo" is not a number or a month name (jan-dec)'],
    ["* * * * monday", 'day-of-week "monday" is not a number or a weekday name (sun-sat)'],
    ["* * * * jan", 'day-of-week "jan" is not a number or a weekday name (sun-sat)'],
    ["* -1 * * *", 'hour range "-1" is not a-b'],
    ["* 1-2-3 * * *", 'hour range "1-2-3" is not a-b'],
    ["* 5- * * *", 'hour range "5-" is not a-b'],
    ["* 5-2 * * *", "hour range 5-2 runs backwards"],
    ["* * * dec-jan *", "month range dec-jan runs backwards"],
    ["*/0 * * * *", "minute step 0 is outside 1-60"],
    ["*/90 * * * *", "minute step 90 is outside 1-60"],
    ["* * * * */8", "day-of-week step 8 is outside 1-7"],
    ["*/x * * * *", 'minute step "x" is not a number'],
    ["*/ * * * *", 'minute step "" is not a number'],
    ["5/10 * * * *", 'minute step "5/10" needs * or a range a-b before /'],
    ["1/2/3 * * * *", 'minute "1/2/3" has more than one step'],
    ["1,,2 * * * *", 'minute list "1,,2" has an empty item'],
    ["1, * * * *", 'minute list "1," has an empty item'],
    ["* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"],
    ["0 * * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 6"],
    ["", "expected 5 fields (minute hour day-of-month month day-of-week), got 0"],
    ["@reboot", "unknown macro @reboot (@hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually)"],
  ])("refuses %j: %s", (text, detail) => {
    const error = cronError(() => parseCron(text));
    expect(error.code).toBe("cron_invalid");
    expect(error.message).toBe(`cron "${text.trim()}": ${detail}`);
    expect(error.context.expression).toBe(text.trim());
  });

  it("names the field in the error's context", () => {
    expect(cronError(() => parseCron("* * * * 9")).context.field).toBe("day-of-week");
    expect(cronError(() => parseCron("* * *")).context.field).toBeNull();
    expect(cronError(() => parseCron("61 * * * *"))).toMatchObject({
      name: "CronError",
      expression: "61 * * * *",
      field: "minute",
    });
  });
});

describe("nextCronTime", () => {
  it.each([
    // The first whole minute strictly after: seconds are dropped, the same minute never returned.
    ["* * * * *", "2026-05-04T10:07:30.500Z", "2026-05-04T10:08:00.000Z"],
    ["* * * * *", "2026-05-04T10:07:00.000Z", "2026-05-04T10:08:00.000Z"],
    ["0 * * * *", "2026-05-04T10:00:00.000Z", "2026-05-04T11:00:00.000Z"],
    ["0 * * * *", "2026-05-04T09:59:59.999Z", "2026-05-04T10:00:00.000Z"],
    ["*/15 * * * *", "2026-05-04T10:07:00Z", "2026-05-04T10:15:00.000Z"],
    ["10-40/15 * * * *", "2026-05-04T10:40:00Z", "2026-05-04T11:10:00.000Z"],
    ["0 8-18/5 * * *", "2026-05-04T13:00:00Z", "2026-05-04T18:00:00.000Z"],
    // Hour, day, month and year rollovers.
    ["30 23 * * *", "2026-05-04T23:45:00Z", "2026-05-05T23:30:00.000Z"],
    ["0 0 * * *", "2026-01-31T12:00:00Z", "2026-02-01T00:00:00.000Z"],
    ["0 0 1 * *", "2026-01-31T12:00:00Z", "2026-02-01T00:00:00.000Z"],
    ["59 23 31 12 *", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00.000Z"],
    ["0 0 1 1 *", "2026-06-01T00:00:00Z", "2027-01-01T00:00:00.000Z"],
    ["15 3 * 11 *", "2026-11-30T03:15:00Z", "2027-11-01T03:15:00.000Z"],
    // Months without the day are skipped.
    ["0 0 31 * *", "2026-04-01T00:00:00Z", "2026-05-31T00:00:00.000Z"],
    ["0 0 30 * *", "2026-01-30T00:00:00Z", "2026-03-30T00:00:00.000Z"],
    // Leap days: 2028 is a leap year, 2100 is not.
    ["0 12 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T12:00:00.000Z"],
    ["0 12 29 2 *", "2028-02-29T12:00:00Z", "2032-02-29T12:00:00.000Z"],
    ["0 12 29 2 *", "2096-03-01T00:00:00Z", "2104-02-29T12:00:00.000Z"],
    ["0 0 * 2 *", "2028-02-28T23:59:00Z", "2028-02-29T00:00:00.000Z"],
    ["0 0 * 2 *", "2027-02-28T23:59:00Z", "2028-02-01T00:00:00.000Z"],
    // Names; 2026-03-06 is a Friday, 2026-03-01 a Sunday.
    ["0 9 * * mon-fri", "2026-03-06T10:00:00Z", "2026-03-09T09:00:00.000Z"],
    ["0 0 * * 7", "2026-03-02T00:00:00Z", "2026-03-08T00:00:00.000Z"],
    ["0 0 1 jan,jul *", "2026-03-01T00:00:00Z", "2026-07-01T00:00:00.000Z"],
    // Both day fields restricted: either matches. 2026-04-10 is a Friday, 2026-04-13 a Monday.
    ["0 0 13 * fri", "2026-04-01T00:00:00Z", "2026-04-03T00:00:00.000Z"],
    ["0 0 13 * fri", "2026-04-10T00:00:00Z", "2026-04-13T00:00:00.000Z"],
    // One of them starts with "*": both must match (odd days that are Fridays: 2026-03-13).
    ["0 0 */2 * fri", "2026-03-01T00:00:00Z", "2026-03-13T00:00:00.000Z"],
    ["0 0 * * fri", "2026-04-10T00:00:00Z", "2026-04-17T00:00:00.000Z"],
    ["0 0 13 * *", "2026-04-10T00:00:00Z", "2026-04-13T00:00:00.000Z"],
    // Macros.
    ["@hourly", "2026-05-04T10:00:00Z", "2026-05-04T11:00:00.000Z"],
    ["@daily", "2026-05-04T10:00:00Z", "2026-05-05T00:00:00.000Z"],
    ["@weekly", "2026-03-02T00:00:00Z", "2026-03-08T00:00:00.000Z"],
    ["@monthly", "2026-05-04T10:00:00Z", "2026-06-01T00:00:00.000Z"],
    ["@yearly", "2026-05-04T10:00:00Z", "2027-01-01T00:00:00.000Z"],
    // The rarest schedule that fires: Feb 29 on a Sunday, 40 years apart across 2100.
    ["0 0 29 2 */7", "2026-03-01T00:00:00Z", "2032-02-29T00:00:00.000Z"],
    ["0 0 29 2 */7", "2088-02-29T00:00:00Z", "2128-02-29T00:00:00.000Z"],
  ])("%s after %s is %s", (text, after, expected) => {
    expect(next(text, after)).toBe(expected);
  });

  it.each(["0 0 30 2 *", "0 0 31 2,4,6,9,11 *", "0 0 31 apr *"])("%s never fires", (text) => {
    const error = cronError(() => next(text, "2026-03-01T00:00:00Z"));
    expect(error.code).toBe("cron_invalid");
    expect(error.message).toBe(
      `cron "${text}": never fires (searched 40 years from 2026-03-01T00:01:00.000Z)`,
    );
  });

  it("refuses an invalid date", () => {
    expect(() => nextCronTime(parseCron("* * * * *"), new Date(Number.NaN))).toThrow(RangeError);
  });
});

// An oracle written from the spec's fields alone, checked against nextCronTime.
const MINUTE = 60_000;
const DAY = 86_400_000;

function dayMatches(spec: CronSpec, t: Date): boolean {
  const byDate = spec.daysOfMonth.includes(t.getUTCDate());
  const byWeekday = spec.daysOfWeek.includes(t.getUTCDay());
  const day = spec.dayMatch === "either" ? byDate || byWeekday : byDate && byWeekday;
  return day && spec.months.includes(t.getUTCMonth() + 1);
}

function matches(spec: CronSpec, t: Date): boolean {
  return (
    dayMatches(spec, t) && spec.hours.includes(t.getUTCHours()) && spec.minutes.includes(t.getUTCMinutes())
  );
}

/** A field of random items: numbers, ranges, stepped ranges and stepped stars. */
function field(min: number, max: number, maxStep: number): fc.Arbitrary<string> {
  const n = fc.integer({ min, max });
  const span = fc.tuple(n, n).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`);
  const step = fc.integer({ min: 1, max: maxStep });
  const item = fc.oneof(
    n.map(String),
    span,
    fc.tuple(span, step).map(([r, s]) => `${r}/${s}`),
    step.map((s) => `*/${s}`),
  );
  return fc.oneof(
    fc.constant("*"),
    fc.array(item, { minLength: 1, maxLength: 3 }).map((a) => a.join(",")),
  );
}

// Some schedules on the last days of a few months, so that later years and "never fires" come up.
const lateDays = fc.array(fc.integer({ min: 28, max: 31 }), { minLength: 1, maxLength: 2 });
const fewMonths = fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 2 });
const anySpec = fc
  .tuple(
    field(0, 59, 60),
    field(0, 23, 24),
    fc.oneof(
      field(1, 31, 31),
      lateDays.map((days) => days.join(",")),
    ),
    fc.oneof(
      field(1, 12, 12),
      fewMonths.map((months) => months.join(",")),
    ),
    field(0, 7, 7),
  )
  .map((fields) => fields.join(" "));
// Fires at least once a day: every day matches, so a minute-by-minute search stays short.
const dailySpec = fc.tuple(field(0, 59, 60), field(0, 23, 24)).map(([m, h]) => `${m} ${h} * * *`);
const instant = fc.date({
  min: new Date("2000-01-01T00:00:00Z"),
  max: new Date("2090-12-31T23:59:59Z"),
  noInvalidDate: true,
});

/** The first time in [from, to), by `step`, that passes `test`: a counterexample, or null. */
function firstHit(from: number, to: number, step: number, test: (t: Date) => boolean): string | null {
  for (let t = from; t < to; t += step) if (test(new Date(t))) return new Date(t).toISOString();
  return null;
}

describe("nextCronTime against brute force", () => {
  it("answers a matching whole minute after the input, with no match in between (minute by minute)", () => {
    fc.assert(
      fc.property(dailySpec, instant, (text, after) => {
        const spec = parseCron(text);
        const answer = nextCronTime(spec, after).getTime();
        expect(answer).toBeGreaterThan(after.getTime());
        expect(answer % MINUTE).toBe(0);
        expect(matches(spec, new Date(answer))).toBe(true);
        const first = Math.floor(after.getTime() / MINUTE) * MINUTE + MINUTE;
        expect(firstHit(first, answer, MINUTE, (t) => matches(spec, t))).toBeNull();
      }),
      { numRuns: 200 },
    );
  });

  it("agrees for any schedule: minutes on the first and last day, whole days in between", () => {
    fc.assert(
      fc.property(anySpec, instant, (text, after) => {
        const spec = parseCron(text);
        const first = Math.floor(after.getTime() / MINUTE) * MINUTE + MINUTE;
        let answer: number;
        try {
          answer = nextCronTime(spec, after).getTime();
        } catch (error) {
          // "never fires": no day in the next 41 years may match (hours and minutes are never empty).
          expect(hasCode(error, "cron_invalid")).toBe(true);
          expect(firstHit(first, first + 41 * 366 * DAY, DAY, (t) => dayMatches(spec, t))).toBeNull();
          return;
        }
        expect(answer).toBeGreaterThan(after.getTime());
        expect(answer % MINUTE).toBe(0);
        expect(matches(spec, new Date(answer))).toBe(true);
        const firstDayEnd = Math.floor(first / DAY) * DAY + DAY;
        const lastDayStart = Math.floor(answer / DAY) * DAY;
        const minuteHit = (t: Date) => matches(spec, t);
        expect(firstHit(first, Math.min(firstDayEnd, answer), MINUTE, minuteHit)).toBeNull();
        expect(firstHit(firstDayEnd, lastDayStart, DAY, (t) => dayMatches(spec, t))).toBeNull();
        expect(firstHit(Math.max(lastDayStart, first), answer, MINUTE, minuteHit)).toBeNull();
      }),
      { numRuns: 300 },
    );
  });
});
