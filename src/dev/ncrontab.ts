/**
 * Six-field NCRONTAB schedules, as the Azure Functions timer trigger reads them:
 *
 *   {second} {minute} {hour} {day} {month} {day-of-week}
 *
 * Supported per field: `*`, numbers, ranges `a-b`, steps (`*` followed by `/n`, `a-b/n`, and `a/n`
 * meaning a to the field's maximum), lists `a,b,c`, month names JAN..DEC and day names SUN..SAT
 * (case-insensitive). Day-of-week is 0-6 with 0 = Sunday; 7 is refused, as NCrontab refuses it.
 *
 * Day matching: Azure evaluates schedules with the NCrontab library, which requires a date to match
 * BOTH the day-of-month and the day-of-week field (`0 0 9 1 * MON` = a Monday that is also the 1st).
 * That is the default here, so a schedule behaves locally as it does in Azure. Classic (Vixie) cron
 * instead fires when EITHER restricted field matches; `{ dayRule: 'or' }` selects that reading.
 *
 * All times are UTC, which is what Azure uses unless the app sets WEBSITE_TIME_ZONE.
 */

export type DayRule = 'and' | 'or';

export interface NcrontabSchedule {
  readonly expression: string;
  /** Sorted, distinct allowed values per field. */
  readonly seconds: readonly number[];
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly daysOfMonth: readonly number[];
  readonly months: readonly number[];
  /** 0 = Sunday … 6 = Saturday. */
  readonly daysOfWeek: readonly number[];
  /** A field is restricted when it does not allow every value of its range. */
  readonly dayOfMonthRestricted: boolean;
  readonly dayOfWeekRestricted: boolean;
  readonly dayRule: DayRule;
}

export interface ParseNcrontabOptions {
  /** How day-of-month and day-of-week combine when both are restricted; default 'and' (Azure/NCrontab). */
  readonly dayRule?: DayRule;
}

interface FieldDef {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

const FIELDS: readonly FieldDef[] = [
  { name: 'second', min: 0, max: 59 },
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { name: 'day-of-week', min: 0, max: 6, names: DAY_NAMES },
];

const FORMAT = '{second} {minute} {hour} {day} {month} {day-of-week}';

/**
 * How far ahead `nextOccurrence` looks. The sparsest satisfiable schedule is Feb 29 on one given
 * weekday, which can be 40 years apart (the skipped leap year 2100 stretches the 28-year cycle).
 */
const SEARCH_YEARS = 100;

/** Longest month length per month, Feb counting its leap-year 29th. */
const MAX_DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function parseNcrontab(expr: string, options: ParseNcrontabOptions = {}): NcrontabSchedule {
  const fail = (detail: string): never => {
    throw new Error(`Invalid NCRONTAB expression "${expr}": ${detail}`);
  };
  if (typeof expr !== 'string' || expr.trim() === '') fail(`expected six fields ${FORMAT}`);
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 6) {
    const hint =
      parts.length === 5
        ? ' (this looks like five-field cron; Azure Functions needs a leading seconds field, e.g. "0 ' +
          `${parts.join(' ')}")`
        : '';
    fail(`expected six fields ${FORMAT}, got ${parts.length}${hint}`);
  }

  const sets = FIELDS.map((def, i) => parseField(def, parts[i] as string, fail));
  const [seconds, minutes, hours, daysOfMonth, months, daysOfWeek] = sets as [
    number[],
    number[],
    number[],
    number[],
    number[],
    number[],
  ];
  const dayRule = options.dayRule ?? 'and';
  const schedule: NcrontabSchedule = {
    expression: expr,
    seconds,
    minutes,
    hours,
    daysOfMonth,
    months,
    daysOfWeek,
    dayOfMonthRestricted: daysOfMonth.length < 31,
    dayOfWeekRestricted: daysOfWeek.length < 7,
    dayRule,
  };

  // A day-of-month that no selected month has (Feb 30, Apr 31) never occurs. Under the OR rule a
  // restricted day-of-week rescues it; otherwise every weekday is eventually hit by a valid date.
  const dayOfWeekRescues = dayRule === 'or' && schedule.dayOfMonthRestricted && schedule.dayOfWeekRestricted;
  if (!dayOfWeekRescues) {
    const possible = months.some((m) => daysOfMonth.some((d) => d <= (MAX_DAYS_IN_MONTH[m - 1] ?? 0)));
    if (!possible) {
      fail(`day ${parts[3]} never occurs in month ${parts[4]}, so the schedule would never fire`);
    }
  }
  return schedule;
}

function parseField(def: FieldDef, text: string, fail: (detail: string) => never): number[] {
  const bad = (why: string): never => fail(`${def.name} field "${text}": ${why}`);
  const values = new Set<number>();
  for (const item of text.split(',')) {
    if (item === '') bad('empty list item');
    const slash = item.split('/');
    if (slash.length > 2) bad(`"${item}" has more than one "/"`);
    const [base, stepText] = slash as [string, string | undefined];
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1) bad(`step "${stepText}" must be a positive integer`);
      step = Number(stepText);
    }
    let from: number;
    let to: number;
    if (base === '*') {
      from = def.min;
      to = def.max;
    } else if (base.includes('-')) {
      const range = base.split('-');
      if (range.length !== 2) bad(`"${base}" is not a range a-b`);
      from = parseValue(def, range[0] as string, bad);
      to = parseValue(def, range[1] as string, bad);
      if (from > to) bad(`range "${base}" runs backwards (wrap-around ranges are not supported)`);
    } else {
      from = parseValue(def, base, bad);
      // `a/n` means "from a, every n" up to the end of the field, as in NCrontab.
      to = stepText === undefined ? from : def.max;
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}

function parseValue(def: FieldDef, token: string, bad: (why: string) => never): number {
  let value: number;
  if (/^\d+$/.test(token)) {
    value = Number(token);
  } else {
    const index = def.names?.indexOf(token.toUpperCase()) ?? -1;
    if (index < 0) {
      const namesHint = def.names ? ` or one of ${def.names.join(',')}` : '';
      return bad(`"${token}" is not a number${namesHint}`);
    }
    value = def.min + index;
  }
  if (value < def.min || value > def.max) bad(`value ${token} is out of range ${def.min}-${def.max}`);
  return value;
}

/**
 * The first occurrence strictly after `after`, in whole UTC seconds.
 * Throws when nothing matches within the search horizon (a schedule parseNcrontab accepted always
 * matches well within it, so this only guards against hand-built schedules).
 */
export function nextOccurrence(schedule: NcrontabSchedule, after: Date): Date {
  const afterMs = after.getTime();
  if (!Number.isFinite(afterMs)) throw new Error('nextOccurrence: "after" is not a valid date');
  const start = new Date(Math.floor(afterMs / 1000) * 1000 + 1000);

  let year = start.getUTCFullYear();
  let month = start.getUTCMonth() + 1;
  let day = start.getUTCDate();
  // The time-of-day lower bound applies to the starting day only; later days start at midnight.
  let bound: Tod | undefined = { h: start.getUTCHours(), m: start.getUTCMinutes(), s: start.getUTCSeconds() };
  const lastYear = year + SEARCH_YEARS;

  while (year <= lastYear) {
    if (!schedule.months.includes(month) || day > daysInMonth(year, month)) {
      // Jump to the first day of the next month.
      month += 1;
      if (month > 12) {
        month = 1;
        year += 1;
      }
      day = 1;
      bound = undefined;
      continue;
    }
    if (dayMatches(schedule, year, month, day)) {
      const t = firstTimeOfDay(schedule, bound ?? { h: 0, m: 0, s: 0 });
      if (t) return new Date(Date.UTC(year, month - 1, day, t.h, t.m, t.s));
    }
    day += 1;
    bound = undefined;
  }
  throw new Error(
    `NCRONTAB expression "${schedule.expression}" has no occurrence within ${SEARCH_YEARS} years ` +
      `after ${after.toISOString()}`,
  );
}

interface Tod {
  readonly h: number;
  readonly m: number;
  readonly s: number;
}

function firstTimeOfDay(schedule: NcrontabSchedule, from: Tod): Tod | undefined {
  for (const h of schedule.hours) {
    if (h < from.h) continue;
    for (const m of schedule.minutes) {
      if (h === from.h && m < from.m) continue;
      for (const s of schedule.seconds) {
        if (h === from.h && m === from.m && s < from.s) continue;
        return { h, m, s };
      }
    }
  }
  return undefined;
}

function dayMatches(schedule: NcrontabSchedule, year: number, month: number, day: number): boolean {
  const domOk = schedule.daysOfMonth.includes(day);
  const dowOk = schedule.daysOfWeek.includes(new Date(Date.UTC(year, month - 1, day)).getUTCDay());
  if (schedule.dayRule === 'or' && schedule.dayOfMonthRestricted && schedule.dayOfWeekRestricted) {
    return domOk || dowOk;
  }
  return domOk && dowOk;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
