import { afterEach, expect, it } from 'vitest';
import { openStorage, type Storage } from '../db/open.js';
import { describeEngines } from '../testing/fixture.js';
import { applyConfig } from './apply.js';
import { parseConfig } from './file.js';

const GOOD = `
accounts:
  - { email: Alice@Corp.test, password: "alice password", groups: [engineering] }
  - { email: ci@corp.test, kind: service, groups: [engineering] }
oidc: { issuer: "https://idp.corp.test", client_id: postern, groups_claim: groups }
sites:
  - { name: corp, gateway_tokens: ["gateway-token-corp-0123456789"] }
upstream_resolvers: ["192.0.2.53", "2001:db8::53"]
resources:
  - name: nas
    address: NAS.corp.test
    site: corp
    filters: ["tcp/80", "tcp/443", "udp/5000-5010", "icmp"]
    ip_stack: dual
  - { name: lab, address: 10.20.0.5, site: corp }
blocked_domains:
  - "ads.corp.test"
  - "wpad.corp.test = 0.0.0.0"
mapped_ranges: { ipv4: 100.96.0.0/11, ipv6: "fd00:2021:1111:8000::/107" }
policies:
  - { group: engineering, resources: [nas, lab] }
`;

describeEngines('config import', (engine) => {
  let storage: Storage | undefined;
  afterEach(async () => storage?.close());

  const open = async () => {
    const database = await engine().database();
    storage = await openStorage(database.url, database.pgliteDump ? { pgliteDump: database.pgliteDump } : {});
    return storage.db;
  };
  const load = (yaml: string) => {
    const result = parseConfig(yaml, 'portal.yaml');
    if (!result.ok) throw new Error(result.errors.join('\n'));
    return result.value;
  };

  it('creates everything by name, and updates rather than duplicates on the next start', async () => {
    const db = await open();
    expect(await applyConfig(db, load(GOOD))).toEqual([]);
    expect(await applyConfig(db, load(GOOD.replace('tcp/80"', 'tcp/8080"')))).toEqual([]);
    const resources = await db.selectFrom('resources').selectAll().orderBy('name').execute();
    expect(resources.map((r) => [r.name, r.type, r.address, r.ip_stack])).toEqual([
      ['lab', 'cidr', '10.20.0.5/32', 'dual'],
      ['nas', 'dns', 'nas.corp.test', 'dual'],
    ]);
    expect(resources[1]?.filters[0]).toEqual({ protocol: 'tcp', portStart: 8080, portEnd: 8080 });
    const accounts = await db
      .selectFrom('accounts')
      .select(['email', 'kind', 'password_hash'])
      .orderBy('email')
      .execute();
    expect(accounts.map((a) => [a.email, a.kind, a.password_hash?.startsWith('scrypt$') ?? null])).toEqual([
      ['alice@corp.test', 'user', true],
      ['ci@corp.test', 'service', null],
    ]);
    expect(await db.selectFrom('policies').select('id').execute()).toHaveLength(2);
    expect(await db.selectFrom('gateway_tokens').select('token_hash').execute()).toEqual([
      { token_hash: expect.not.stringContaining('gateway-token') },
    ]);
    const settings = Object.fromEntries(
      (await db.selectFrom('settings').selectAll().execute()).map((s) => [s.key, s.value]),
    );
    expect(settings).toEqual({
      upstreamResolvers: ['192.0.2.53', '2001:db8::53'],
      blockRules: [{ pattern: 'ads.corp.test' }, { pattern: 'wpad.corp.test', answer: '0.0.0.0' }],
      mappedRanges: { ipv4: '100.96.0.0/11', ipv6: 'fd00:2021:1111:8000::/107' },
    });
  });

  // [kind, text replaced, replacement, field, message]; the error must point at the replacement's line.
  it.each([
    ['an unknown site', 'site: corp }', 'site: elsewhere }', 'resources[1].site', 'no site named "elsewhere"'],
    [
      'an unknown resource in a policy',
      '[nas, lab]',
      '[nas, printer]',
      'policies[0].resources[1]',
      'no resource named "printer"',
    ],
    ['a bad address', 'address: 10.20.0.5,', 'address: 10.20.0.5/8,', 'resources[1].address', 'host bits are set'],
    ['a bad filter', '"tcp/443"', '"tcp/99999"', 'resources[0].filters[1]', 'ports are 1-65535'],
    ['a bad resolver', '"192.0.2.53"', '"resolver.corp"', 'upstream_resolvers[0]', 'is not an IP address'],
    [
      'a bad block rule',
      '"wpad.corp.test = 0.0.0.0"',
      '"wpad.corp.test = nowhere"',
      'blocked_domains[1]',
      'must be an IP',
    ],
    [
      'ip_stack on a CIDR',
      '{ name: lab, address',
      '{ name: lab, ip_stack: ipv4, address',
      'resources[1].ip_stack',
      'only to DNS',
    ],
    ['a duplicate name', '{ name: lab,', '{ name: nas,', 'resources[1].name', '"nas" appears twice'],
  ])('reports %s with file, line and field, and changes nothing', async (_kind, from, to, field, message) => {
    const db = await open();
    const yaml = GOOD.replace(from, to);
    expect(yaml).not.toBe(GOOD);
    const line = yaml.split('\n').findIndex((l) => l.includes(to)) + 1;
    const errors = await applyConfig(db, load(yaml));
    expect(errors[0]).toMatch(new RegExp(`^portal\\.yaml:${line}:\\d+: ${escape(field)}: .*${escape(message)}`));
    expect(await db.selectFrom('resources').select('id').execute()).toEqual([]);
    expect(await db.selectFrom('accounts').select('id').execute()).toEqual([]);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
