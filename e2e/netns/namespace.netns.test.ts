import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Namespace, connect, netnsUnavailableReason, run } from './index.js';

const skip = netnsUnavailableReason();
if (skip) console.warn(`skipping e2e/netns tests: ${skip}`);

describe.skipIf(skip)('e2e/netns', () => {
  const created: Namespace[] = [];
  afterAll(async () => {
    for (const ns of created) await ns.destroy();
  });

  it('connects two namespaces with a veth pair that carries IPv4 and IPv6', async () => {
    const a = await Namespace.create('a');
    const b = await Namespace.create('b');
    created.push(a, b);
    await connect(a, b, { a: ['10.9.0.1/24', 'fd09::1/64'], b: ['10.9.0.2/24', 'fd09::2/64'] });
    await a.exec('ping', ['-c1', '-W2', '10.9.0.2']);
    await a.exec('ping', ['-6', '-c1', '-W2', 'fd09::2']);
  });

  it('gives a namespace its own resolv.conf without touching the machine', async () => {
    const ns = await Namespace.create('etc');
    created.push(ns);
    ns.writeEtc('resolv.conf', 'nameserver 192.0.2.1\n');
    const { stdout } = await ns.exec('cat', ['/etc/resolv.conf']);
    expect(stdout).toBe('nameserver 192.0.2.1\n');
  });

  it('removes the namespace and kills what runs inside on destroy', async () => {
    const ns = await Namespace.create('gone');
    const sleeper = ns.spawn('sleep', 'sleep', ['60']);
    await new Promise((r) => setTimeout(r, 100));
    await ns.destroy();
    await sleeper.wait();
    expect(sleeper.running).toBe(false);
    expect(existsSync(`/run/netns/${ns.name}`)).toBe(false);
    const { stdout } = await run('ip', ['netns', 'list']);
    expect(stdout).not.toContain(ns.name);
  });
});
