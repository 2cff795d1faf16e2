import { describe, expect, it } from 'vitest';
import {
  DomainPatternTable,
  domainMatches,
  formatDomainPattern,
  matchesPattern,
  parseDomainPattern,
  type DomainPattern,
} from './pattern.js';

function pattern(text: string): DomainPattern {
  const parsed = parseDomainPattern(text);
  if ('error' in parsed) throw new Error(`${text}: ${parsed.reason}`);
  return parsed;
}

function table(patterns: string[]): DomainPatternTable<string> {
  const t = new DomainPatternTable<string>();
  for (const p of patterns) t.set(pattern(p), p);
  return t;
}

const long63 = 'a'.repeat(63);
/** 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 bytes: the longest valid name. */
const name253 = `${long63}.${long63}.${long63}.${'b'.repeat(61)}`;
const name254 = `${long63}.${long63}.${long63}.${'b'.repeat(62)}`;

// [patterns granted, queried name, expected winning pattern or undefined]
const cases: [string[], string, string | undefined][] = [
  // exact names
  [['app.corp.test'], 'app.corp.test', 'app.corp.test'],
  [['app.corp.test'], 'APP.Corp.TEST', 'app.corp.test'],
  [['app.corp.test'], 'app.corp.test.', 'app.corp.test'],
  [['App.Corp.Test.'], 'app.corp.test', 'App.Corp.Test.'],
  [['app.corp.test'], 'x.app.corp.test', undefined],
  [['app.corp.test'], 'corp.test', undefined],
  [['app.corp.test'], 'app.corp.test..', undefined],
  [['app.corp.test'], 'app.corp.testx', undefined],
  [['app.corp.test'], 'xapp.corp.test', undefined],
  // `*.` — any depth and the apex
  [['*.corp.test'], 'corp.test', '*.corp.test'],
  [['*.corp.test'], 'a.corp.test', '*.corp.test'],
  [['*.corp.test'], 'a.b.c.d.corp.test', '*.corp.test'],
  [['*.corp.test'], 'A.B.CORP.TEST.', '*.corp.test'],
  [['*.corp.test'], 'notcorp.test', undefined],
  [['*.corp.test'], 'corp.test.evil', undefined],
  [['*.corp.test'], 'test', undefined],
  [['*.corp.test'], '*.corp.test', '*.corp.test'],
  // `?.` — exactly one label
  [['?.corp.test'], 'a.corp.test', '?.corp.test'],
  [['?.corp.test'], 'Db.Corp.Test.', '?.corp.test'],
  [['?.corp.test'], 'corp.test', undefined],
  [['?.corp.test'], 'a.b.corp.test', undefined],
  [['?.corp.test'], 'acorp.test', undefined],
  // most specific wins
  [['*.corp.test', 'app.corp.test'], 'app.corp.test', 'app.corp.test'],
  [['*.corp.test', 'app.corp.test'], 'db.corp.test', '*.corp.test'],
  [['*.corp.test', '?.corp.test'], 'a.corp.test', '?.corp.test'],
  [['*.corp.test', '?.corp.test'], 'a.b.corp.test', '*.corp.test'],
  [['*.corp.test', '?.corp.test'], 'corp.test', '*.corp.test'],
  [['*.corp.test', '*.eu.corp.test'], 'x.eu.corp.test', '*.eu.corp.test'],
  [['*.corp.test', '*.eu.corp.test'], 'eu.corp.test', '*.eu.corp.test'],
  [['*.corp.test', '*.eu.corp.test'], 'x.us.corp.test', '*.corp.test'],
  [['?.corp.test', '*.app.corp.test'], 'app.corp.test', '*.app.corp.test'],
  [['?.corp.test', 'app.corp.test'], 'app.corp.test', 'app.corp.test'],
  [['*.test', '*.corp.test', 'app.corp.test'], 'x.y.test', '*.test'],
  [['corp.test', '*.corp.test'], 'corp.test', 'corp.test'],
  [['?.eu.corp.test', '*.corp.test'], 'x.eu.corp.test', '?.eu.corp.test'],
  // internationalised names: patterns in Unicode or punycode, queries in punycode (what resolvers send)
  [['bücher.test'], 'xn--bcher-kva.test', 'bücher.test'],
  [['*.bücher.test'], 'www.XN--BCHER-KVA.test', '*.bücher.test'],
  [['xn--bcher-kva.test'], 'xn--bcher-kva.test', 'xn--bcher-kva.test'],
  [['?.xn--bcher-kva.test'], 'shop.xn--bcher-kva.test.', '?.xn--bcher-kva.test'],
  [['bücher.test'], 'bücher.test', undefined],
  // lengths: 253 bytes is the most a name may have (254 with the trailing dot)
  [[name253], name253, name253],
  [[name253], `${name253}.`, name253],
  [['*.test'], `${name253.slice(0, -'.test'.length - 1)}x.test`, '*.test'],
  [['*.' + `${long63}.${long63}`], name254, undefined],
  [['*.bbbb'], `${'x'.repeat(64)}.bbbb`, undefined],
  [['*.corp.test'], '', undefined],
  [['*.corp.test'], '.', undefined],
  [['*.corp.test'], 'a..corp.test', undefined],
  [['*.corp.test'], 'a b.corp.test', undefined],
  [['*.corp.test'], 'a\ncorp.test', undefined],
  // nothing granted, nothing matches
  [[], 'app.corp.test', undefined],
];

describe('DomainPatternTable.match', () => {
  it.each(cases)('granted %j, query %j → %j', (patterns, name, expected) => {
    expect(table(patterns).match(name)).toBe(expected);
    // The single-pattern predicate agrees with the table for the winning pattern.
    if (expected !== undefined) expect(matchesPattern(pattern(expected), name)).toBe(true);
  });

  it('has at least 40 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });
});

describe('parseDomainPattern', () => {
  it.each([
    ['*.*', 'a wildcard may only be the whole first label'],
    ['*', 'a wildcard needs a suffix'],
    ['?', 'a wildcard needs a suffix'],
    ['a.*.corp.test', 'a wildcard may only be the whole first label'],
    ['*.?.corp.test', 'a wildcard may only be the whole first label'],
    ['foo*.corp.test', 'a wildcard may only be the whole first label'],
    ['**.corp.test', 'a wildcard may only be the whole first label'],
    ['', 'empty'],
    ['a..b', 'empty label'],
    [name254, 'longer than 253'],
    [`${'x'.repeat(64)}.test`, 'longer than 63 bytes'],
    ['.', 'the root'],
    ['a b.test', 'not allowed'],
  ])('rejects %j', (text, reason) => {
    const parsed = parseDomainPattern(text);
    expect(parsed).toMatchObject({ error: 'invalid_pattern', pattern: text });
    expect('reason' in parsed && parsed.reason).toContain(reason);
  });

  it.each([
    ['App.Corp.Test.', 'app.corp.test'],
    ['*.Corp.Test', '*.corp.test'],
    ['?.corp.test.', '?.corp.test'],
    ['*.bücher.test', '*.xn--bcher-kva.test'],
  ])('normalises %j to %j', (text, canonical) => {
    expect(formatDomainPattern(pattern(text))).toBe(canonical);
  });
});

describe('DomainPatternTable', () => {
  it('replaces, deletes and counts patterns', () => {
    const t = new DomainPatternTable<number>();
    expect(t.set(pattern('*.a.test'), 1)).toBeUndefined();
    expect(t.set(pattern('*.A.test.'), 2)).toBe(1);
    expect(t.size).toBe(1);
    expect(t.match('x.a.test')).toBe(2);
    expect(t.delete(pattern('*.a.test'))).toBe(true);
    expect(t.match('x.a.test')).toBeUndefined();
    expect(t.size).toBe(0);
  });

  it('matches in time independent of the number of patterns', () => {
    const t = new DomainPatternTable<number>();
    for (let i = 0; i < 50_000; i++) t.set(pattern(`*.site${i}.corp.test`), i);
    const start = performance.now();
    let wrong = 0;
    for (let i = 0; i < 50_000; i++) if (t.match(`host.site${i}.corp.test`) !== i) wrong++;
    expect(wrong).toBe(0);
    expect(performance.now() - start).toBeLessThan(1_000);
  });
});

describe('domainMatches (one-off checks, as the gateway makes them)', () => {
  it.each([
    ['nas.corp.test', 'nas.corp.test', true],
    ['nas.corp.test', 'x.nas.corp.test', false],
    ['*.corp.test', 'corp.test', true],
    ['*.corp.test', 'a.b.c.corp.test', true],
    ['*.corp.test', 'evilcorp.test', false],
    ['?.corp.test', 'a.corp.test', true],
    ['?.corp.test', 'a.b.corp.test', false],
    ['NAS.Corp.Test.', 'nas.corp.test', true],
    ['bücher.test', 'xn--bcher-kva.test', true],
    ['*.*', 'a.b', false],
  ])('%s covers %s: %s', (patternText, name, expected) => {
    expect(domainMatches(patternText, name)).toBe(expected);
  });
});
