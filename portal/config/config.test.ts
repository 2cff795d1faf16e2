import { describe, expect, it } from 'vitest';
import { classifyAddress } from './address.js';
import { parseConfig } from './file.js';
import { parseFilter } from './filters.js';

describe('classifyAddress', () => {
  it.each([
    ['nas.corp.test', { type: 'dns', address: 'nas.corp.test' }],
    ['NAS.Corp.Test.', { type: 'dns', address: 'nas.corp.test' }],
    ['*.corp.test', { type: 'dns', address: '*.corp.test' }],
    ['?.corp.test', { type: 'dns', address: '?.corp.test' }],
    ['bücher.test', { type: 'dns', address: 'xn--bcher-kva.test' }],
    ['10.0.0.5', { type: 'cidr', address: '10.0.0.5/32' }],
    ['2001:DB8::1', { type: 'cidr', address: '2001:db8::1/128' }],
    ['10.20.0.0/16', { type: 'cidr', address: '10.20.0.0/16' }],
    ['2001:db8::/32', { type: 'cidr', address: '2001:db8::/32' }],
  ])('%s', (input, expected) => {
    expect(classifyAddress(input)).toEqual({ ok: true, value: expected });
  });

  it.each([
    '10.0.0.5/24',
    '10.0.0.0/33',
    '10.0.0.256',
    '1.2.3',
    'a.*.test',
    'bad_-.test.-x',
    '*.',
    '',
    'x'.repeat(64) + '.test',
    '1.2.3/8',
  ])('refuses %j', (input) => {
    expect(classifyAddress(input).ok).toBe(false);
  });
});

describe('parseFilter', () => {
  it('parses ports, ranges, whole protocols and icmp', () => {
    expect(parseFilter('tcp/80')).toEqual({ ok: true, value: { protocol: 'tcp', portStart: 80, portEnd: 80 } });
    expect(parseFilter('UDP/5000-5010')).toEqual({
      ok: true,
      value: { protocol: 'udp', portStart: 5000, portEnd: 5010 },
    });
    expect(parseFilter('tcp')).toEqual({ ok: true, value: { protocol: 'tcp', portStart: 1, portEnd: 65535 } });
    expect(parseFilter('icmp')).toEqual({ ok: true, value: { protocol: 'icmp' } });
  });
  it.each(['tcp/0', 'tcp/65536', 'udp/10-5', 'sctp/1', 'icmp/8', 'tcp/', 'tcp/1-'])('refuses %j', (input) => {
    expect(parseFilter(input).ok).toBe(false);
  });
});

describe('parseConfig errors name the file, line and field', () => {
  const errorsOf = (yaml: string) => {
    const result = parseConfig(yaml, '/etc/postern/portal.yaml');
    if (result.ok) throw new Error('expected errors');
    return result.errors;
  };

  it('YAML syntax', () => {
    expect(errorsOf('sites:\n  - { name: corp\nresources: []\n')[0]).toMatch(/^portal\.yaml:\d+:\d+: YAML: /);
  });
  it('duplicate keys', () => {
    expect(errorsOf('sites: []\nsites: []\n')[0]).toMatch(/^portal\.yaml:2:\d+: YAML: .*unique/i);
  });
  it('unknown field, at the field', () => {
    expect(errorsOf('sites:\n  - name: corp\n    gateway_token: ["x"]\n')).toEqual([
      expect.stringMatching(/^portal\.yaml:3:5: sites\[0\]\.gateway_token: /),
    ]);
  });
  it('wrong type', () => {
    expect(errorsOf('upstream_resolvers: "192.0.2.1"\n')).toEqual([
      expect.stringMatching(/^portal\.yaml:1:1: upstream_resolvers: .*array/),
    ]);
  });
  it('missing field, at its parent', () => {
    expect(errorsOf('resources:\n  - name: nas\n    site: corp\n')).toEqual([
      expect.stringMatching(/^portal\.yaml:2:5: resources\[0\]\.address: /),
    ]);
  });
  it('bad enum value', () => {
    const yaml = 'resources:\n  - name: nas\n    address: nas.test\n    site: corp\n    ip_stack: both\n';
    expect(errorsOf(yaml)).toEqual([expect.stringMatching(/^portal\.yaml:5:5: resources\[0\]\.ip_stack: /)]);
  });
  it('bad email and short password', () => {
    const errors = errorsOf('accounts:\n  - email: alice\n    password: short\n');
    expect(errors).toContainEqual(expect.stringMatching(/^portal\.yaml:2:5: accounts\[0\]\.email: /));
    expect(errors).toContainEqual(expect.stringMatching(/^portal\.yaml:3:5: accounts\[0\]\.password: /));
  });
});
