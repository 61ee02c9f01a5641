import { describe, expect, it } from 'vitest';
import { nextOccurrence, parseNcrontab } from '../../src/dev/ncrontab.js';

/** The next `count` occurrences after `from`, as ISO strings. */
function upcoming(expr: string, from: string, count: number, dayRule?: 'and' | 'or'): string[] {
  const schedule = parseNcrontab(expr, dayRule ? { dayRule } : {});
  const out: string[] = [];
  let cursor = new Date(from);
  for (let i = 0; i < count; i++) {
    cursor = nextOccurrence(schedule, cursor);
    out.push(cursor.toISOString());
  }
  return out;
}

describe('parseNcrontab / nextOccurrence', () => {
  it('every 5 minutes fires on the minute boundaries, strictly after the given instant', () => {
    // Prepare: an instant exactly on an occurrence, so "strictly after" matters.
    const from = '2025-03-10T10:05:00.000Z';

    // Act
    const next = upcoming('0 */5 * * * *', from, 3);

    // Assess
    expect(next).toEqual(['2025-03-10T10:10:00.000Z', '2025-03-10T10:15:00.000Z', '2025-03-10T10:20:00.000Z']);
  });

  it('every second rounds sub-second instants up to the next whole second', () => {
    // Prepare
    const from = '2025-03-10T10:05:07.250Z';

    // Act
    const next = upcoming('* * * * * *', from, 2);

    // Assess
    expect(next).toEqual(['2025-03-10T10:05:08.000Z', '2025-03-10T10:05:09.000Z']);
  });

  it('daily at 09:30 rolls over to the next day, month and year', () => {
    // Prepare
    const from = '2025-12-31T09:30:00.000Z';

    // Act
    const next = upcoming('0 30 9 * * *', from, 2);

    // Assess
    expect(next).toEqual(['2026-01-01T09:30:00.000Z', '2026-01-02T09:30:00.000Z']);
  });

  it('weekdays at 09:00 skip the weekend', () => {
    // Prepare: Friday 2025-03-14 after 09:00.
    const from = '2025-03-14T12:00:00.000Z';

    // Act
    const next = upcoming('0 0 9 * * 1-5', from, 2);

    // Assess: Monday and Tuesday.
    expect(next).toEqual(['2025-03-17T09:00:00.000Z', '2025-03-18T09:00:00.000Z']);
  });

  it('lists, ranges with steps and "a/n" steps expand as in NCrontab', () => {
    // Prepare / Act
    const schedule = parseNcrontab('0,30 10-20/5 1,13 1-3,5 * *');
    const fromStep = parseNcrontab('15/20 * * * * *');

    // Assess
    expect(schedule.seconds).toEqual([0, 30]);
    expect(schedule.minutes).toEqual([10, 15, 20]);
    expect(schedule.hours).toEqual([1, 13]);
    expect(schedule.daysOfMonth).toEqual([1, 2, 3, 5]);
    expect(fromStep.seconds).toEqual([15, 35, 55]);
    expect(upcoming('0,30 10-20/5 1,13 * * *', '2025-01-01T01:20:30.000Z', 3)).toEqual([
      '2025-01-01T13:10:00.000Z',
      '2025-01-01T13:10:30.000Z',
      '2025-01-01T13:15:00.000Z',
    ]);
  });

  it('accepts month and day names in any case', () => {
    // Prepare / Act
    const schedule = parseNcrontab('0 0 8 * jan-MAR,Dec Mon,fri');

    // Assess
    expect(schedule.months).toEqual([1, 2, 3, 12]);
    expect(schedule.daysOfWeek).toEqual([1, 5]);
    // 2025-01-01 is a Wednesday: next Friday, then Monday.
    expect(upcoming('0 0 8 * JAN MON,FRI', '2025-01-01T00:00:00.000Z', 2)).toEqual([
      '2025-01-03T08:00:00.000Z',
      '2025-01-06T08:00:00.000Z',
    ]);
  });

  it('treats 0 as Sunday', () => {
    // Prepare / Act: 2025-03-10 is a Monday.
    const next = upcoming('0 0 0 * * 0', '2025-03-10T00:00:00.000Z', 1);

    // Assess
    expect(next).toEqual(['2025-03-16T00:00:00.000Z']);
  });

  it('by default requires day-of-month AND day-of-week, as Azure (NCrontab) does', () => {
    // Prepare / Act: the 13th that is a Friday.
    const next = upcoming('0 0 0 13 * FRI', '2025-01-01T00:00:00.000Z', 2);

    // Assess
    expect(next).toEqual(['2025-06-13T00:00:00.000Z', '2026-02-13T00:00:00.000Z']);
  });

  it("with dayRule 'or' fires when either restricted day field matches, as classic cron does", () => {
    // Prepare / Act: the 13th OR any Friday, from Wednesday 2025-01-01.
    const next = upcoming('0 0 0 13 * FRI', '2025-01-01T00:00:00.000Z', 3, 'or');

    // Assess: Fri 3rd, Fri 10th, Mon 13th.
    expect(next).toEqual(['2025-01-03T00:00:00.000Z', '2025-01-10T00:00:00.000Z', '2025-01-13T00:00:00.000Z']);
  });

  it('finds Feb 29 in the next leap year', () => {
    // Prepare / Act
    const next = upcoming('0 0 12 29 2 *', '2025-03-01T00:00:00.000Z', 2);

    // Assess
    expect(next).toEqual(['2028-02-29T12:00:00.000Z', '2032-02-29T12:00:00.000Z']);
  });

  it('rejects five-field cron with a message naming the six-field format', () => {
    // Prepare / Act / Assess
    const attempt = () => parseNcrontab('*/5 * * * *');

    expect(attempt).toThrow('expected six fields {second} {minute} {hour} {day} {month} {day-of-week}, got 5');
    expect(attempt).toThrow('e.g. "0 */5 * * * *"');
  });

  it('names the field and value that are out of range', () => {
    // Prepare / Act / Assess
    expect(() => parseNcrontab('0 60 * * * *')).toThrow(/minute field "60": value 60 is out of range 0-59/);
    expect(() => parseNcrontab('0 0 24 * * *')).toThrow(/hour field "24".*0-23/);
    expect(() => parseNcrontab('0 0 0 0 * *')).toThrow(/day field "0".*1-31/);
    expect(() => parseNcrontab('0 0 0 * 13 *')).toThrow(/month field "13".*1-12/);
    expect(() => parseNcrontab('0 0 0 * * 7')).toThrow(/day-of-week field "7".*0-6/);
  });

  it('rejects garbage with the offending field and value', () => {
    // Prepare / Act / Assess
    expect(() => parseNcrontab('x * * * * *')).toThrow(/second field "x": "x" is not a number/);
    expect(() => parseNcrontab('0 0 0 * FOO *')).toThrow(/month field "FOO".*JAN,FEB/);
    expect(() => parseNcrontab('*/0 * * * * *')).toThrow(/second field "\*\/0": step "0"/);
    expect(() => parseNcrontab('0 5-1 * * * *')).toThrow(/minute field "5-1": range "5-1" runs backwards/);
    expect(() => parseNcrontab('0 1,,2 * * * *')).toThrow(/minute field "1,,2": empty list item/);
    expect(() => parseNcrontab('')).toThrow(/expected six fields/);
    expect(() => parseNcrontab('0 0 0 * * * *')).toThrow(/got 7/);
  });

  it('rejects dates that never occur instead of searching forever', () => {
    // Prepare / Act / Assess
    expect(() => parseNcrontab('0 0 0 30 FEB *')).toThrow(/day 30 never occurs in month FEB/);
    expect(() => parseNcrontab('0 0 0 31 4,6,9,11 *')).toThrow(/never occurs/);
  });

  it('gives up on a hand-built impossible schedule within a bounded search', () => {
    // Prepare: bypass the parser's check with an impossible day.
    const schedule = { ...parseNcrontab('0 0 0 * * *'), daysOfMonth: [32], dayOfMonthRestricted: true };

    // Act / Assess
    expect(() => nextOccurrence(schedule, new Date('2025-01-01T00:00:00Z'))).toThrow(/no occurrence within 100 years/);
  });
});
