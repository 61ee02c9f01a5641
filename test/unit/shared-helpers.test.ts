import { describe, expect, it } from 'vitest';
import { equalJitter, fullJitter } from '../../src/shared/backoff.js';
import { isLoopback, parseRetryAfter } from '../../src/shared/http.js';
import { oneLine, truncate, truncateUnits } from '../../src/shared/text.js';

describe('shared helpers', () => {
  it('truncate counts code points and never splits an emoji', () => {
    expect(truncate('abcdef', 6)).toBe('abcdef');
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('😀😀😀😀', 3)).toBe('😀😀…');
  });

  it('truncateUnits counts UTF-16 units and drops half a surrogate pair', () => {
    expect(truncateUnits('a😀bc', 3)).toBe('a…');
    expect(truncateUnits('abcd', 3)).toBe('ab…');
  });

  it('oneLine turns control characters into spaces', () => {
    expect(oneLine('line one\nline two\r\n', 100)).toBe('line one line two ');
  });

  it('parseRetryAfter reads delay-seconds and HTTP dates', () => {
    expect(parseRetryAfter('2')).toBe(2_000);
    expect(parseRetryAfter('0.5')).toBe(500);
    expect(parseRetryAfter('Wed, 02 Dec 2026 00:00:10 GMT', () => Date.parse('2026-12-02T00:00:00Z'))).toBe(10_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('isLoopback accepts only the loopback interface', () => {
    expect(isLoopback('http://127.0.0.1:10002')).toBe(true);
    expect(isLoopback('http://[::1]:8080')).toBe(true);
    expect(isLoopback('https://localhost')).toBe(true);
    expect(isLoopback('http://example.com')).toBe(false);
    expect(isLoopback('not a url')).toBe(false);
  });

  it('jitter stays under the doubled, capped ceiling', () => {
    const settings = { baseDelayMs: 1_000, maxDelayMs: 4_000 };
    expect(fullJitter(0, settings, () => 0.999)).toBe(999);
    expect(fullJitter(5, settings, () => 0.5)).toBe(2_000);
    expect(equalJitter(1, settings, () => 0)).toBe(1_000);
    expect(equalJitter(1, settings, () => 1)).toBe(2_000);
  });
});
