import { describe, expect, it } from 'vitest';
import { domainMatchesPattern } from './domain-pattern.js';

describe('domainMatchesPattern', () => {
  it('matches exact names only exactly', () => {
    expect(domainMatchesPattern('nas.corp.test', 'nas.corp.test')).toBe(true);
    expect(domainMatchesPattern('nas.corp.test', 'x.nas.corp.test')).toBe(false);
    expect(domainMatchesPattern('nas.corp.test', 'corp.test')).toBe(false);
  });

  it('matches *. at any depth and the apex', () => {
    expect(domainMatchesPattern('*.corp.test', 'corp.test')).toBe(true);
    expect(domainMatchesPattern('*.corp.test', 'a.corp.test')).toBe(true);
    expect(domainMatchesPattern('*.corp.test', 'a.b.c.corp.test')).toBe(true);
    expect(domainMatchesPattern('*.corp.test', 'evilcorp.test')).toBe(false);
    expect(domainMatchesPattern('*.corp.test', 'corp.test.evil')).toBe(false);
  });

  it('matches ?. for exactly one label', () => {
    expect(domainMatchesPattern('?.corp.test', 'a.corp.test')).toBe(true);
    expect(domainMatchesPattern('?.corp.test', 'corp.test')).toBe(false);
    expect(domainMatchesPattern('?.corp.test', 'a.b.corp.test')).toBe(false);
    expect(domainMatchesPattern('?.corp.test', 'xcorp.test')).toBe(false);
  });

  it('ignores case and a trailing dot in the pattern', () => {
    expect(domainMatchesPattern('NAS.Corp.Test.', 'nas.corp.test')).toBe(true);
  });
});
