import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DnsControl } from '../dns/dns-control.js';
import type { RunCommand } from '../os/command.js';
import { RouteControl } from '../os/routes.js';
import { StateFile } from '../os/state-file.js';
import { FakeTun, ScriptedCore } from '../test-support/scripted-core.js';
import { Tunnel } from './tunnel.js';

// The loop's mechanics against a scripted core: what goes in comes out of every poll queue, packets leave in one
// batch, the single timer fires, routes and DNS follow the core's events.

const log = pino({ level: 'silent' });

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'postern-tunnel-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('Tunnel', () => {
  it('drains every queue after each input, batches TUN writes, follows routes and sentinels, and restores on stop', async () => {
    const gateway = createSocket('udp4');
    await new Promise<void>((r) => gateway.bind(0, '127.0.0.1', r));
    gateway.on('message', (msg, rinfo) =>
      gateway.send(Buffer.from(`echo ${msg.toString()}`), rinfo.port, rinfo.address),
    );

    const core = new ScriptedCore();
    core.gateway = { host: '127.0.0.1', port: (gateway.address() as AddressInfo).port };
    const tun = new FakeTun();
    const commands: string[] = [];
    const run: RunCommand = async (cmd, args) => (
      commands.push([cmd, ...args].join(' ')),
      { code: 0, stdout: '', stderr: '' }
    );
    const applied: string[][] = [];
    let restored = false;
    const dns: DnsControl = {
      mode: 'resolv-conf',
      readHostResolvers: async () => ['10.0.0.53'],
      apply: async (s) => void applied.push([...s]),
      restore: async () => void (restored = true),
      onHostResolversChanged: () => {},
      close: () => {},
    };
    const state = new StateFile(dir);
    const tunnel = new Tunnel({
      core,
      tun,
      ipv6: true,
      dns,
      routes: new RouteControl({ run, state, tunName: tun.name, log }),
      log,
      sendToPortal: () => true,
      portalAddresses: [],
      onEvent: () => {},
      onFatal: (e) => {
        throw e;
      },
    });
    await tunnel.start();
    expect(core.resolvers).toEqual(['10.0.0.53']);
    await vi.waitFor(() => expect(applied).toEqual([['100.100.111.1']]));
    // The upstream resolver is inside the CIDR resource 10.0.0.0/8: it gets a bypass rule.
    expect(commands).toContain('ip -4 rule add to 10.0.0.53/32 lookup main priority 5180');
    expect(commands).toContain('ip -4 route replace 10.0.0.0/8 dev tun-test table 28783');

    tun.handler!([Buffer.from('p1'), Buffer.from('p2')]);
    expect(tun.writes).toEqual([[Buffer.from('p1'), Buffer.from('p1'), Buffer.from('p2'), Buffer.from('p2')]]);
    await vi.waitFor(() => expect(core.received.map((r) => r.data).sort()).toEqual(['echo p1', 'echo p2']));
    expect(core.received[0]!.from).toEqual({ host: '127.0.0.1', port: core.gateway.port });

    core.deadline = performance.timeOrigin + performance.now() + 20;
    tun.handler!([]); // any input re-arms the timer from pollTimeout()
    await vi.waitFor(() => expect(core.timeouts).toHaveLength(1));

    core.currentRoutes = ['100.96.0.0/11'];
    core.events.push({ type: 'routes_changed', routes: core.currentRoutes });
    tun.handler!([]);
    await vi.waitFor(() => expect(commands).toContain('ip -4 route del 10.0.0.0/8 dev tun-test table 28783'));

    await tunnel.stop();
    expect(restored).toBe(true);
    expect(tun.closed).toBe(true);
    expect(state.state.routes).toEqual([]);
    gateway.close();
  });
});
