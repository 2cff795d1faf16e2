import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CAPTURE as C, captureProblems } from '../../tunnel/testing/capture.js';
import { readIpPackets } from '../../tunnel/testing/pcap.js';
import type { BackgroundProcess } from '../netns/index.js';
import { Namespace, connect, netnsUnavailableReason } from '../netns/index.js';

// Real traffic from real tools, captured with tcpdump on the client's link and checked packet by packet with
// tunnel/packet: every packet parses, every checksum equals the kernel's, NAT-style rewrites keep them equal to a
// full recomputation, and each kind of packet the plan makes is there (see tunnel/testing/capture.ts).
//
// Topology: client —(MTU 1500)— router —(MTU 1280)— server. The smaller far link draws ICMP "fragmentation needed" /
// "packet too big" from the router; TTL 1 draws "time exceeded"; big pings are fragmented by the client.
//
// UPDATE_PACKET_FIXTURES=1 also copies the capture to tunnel/packet/fixtures/capture.pcap, which the unit tests check
// without root.

const FIXTURE = new URL('../../tunnel/packet/fixtures/capture.pcap', import.meta.url).pathname;

const skip = netnsUnavailableReason();
if (skip) console.warn(`skipping e2e/packet capture tests: ${skip}`);

describe.skipIf(skip)('tunnel/packet against captured traffic', () => {
  const namespaces: Namespace[] = [];
  const processes: BackgroundProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'postern-capture-'));
  afterAll(async () => {
    for (const p of processes) await p.kill();
    for (const ns of namespaces) await ns.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('parses every packet of ping, dig, curl and ICMP errors, with the kernel’s checksums', async () => {
    const client = await Namespace.create('pcli');
    const router = await Namespace.create('prtr');
    const server = await Namespace.create('psrv');
    namespaces.push(client, router, server);
    const [clientIf, routerNear] = await connect(client, router, {
      a: [`${C.client4}/24`, `${C.client6}/64`],
      b: [`${C.router4}/24`, `${C.router6}/64`],
    });
    const [routerFar, serverIf] = await connect(router, server, {
      a: [`${C.routerFar4}/24`, `${C.routerFar6}/64`],
      b: [`${C.server4}/24`, `${C.server6}/64`],
      mtu: C.farMtu,
    });
    // veth offloads TCP/UDP checksums by default, so the bytes would carry only the pseudo-header sum; turn that off
    // so what tcpdump sees is what a real NIC would put on the wire.
    for (const [ns, ifname] of [
      [client, clientIf],
      [router, routerNear],
      [router, routerFar],
      [server, serverIf],
    ] as const) {
      await ns.exec('ethtool', ['-K', ifname, 'tx', 'off']);
    }
    await router.sysctl('net.ipv4.ip_forward=1');
    await router.sysctl('net.ipv6.conf.all.forwarding=1');
    await client.exec('ip', ['route', 'add', 'default', 'via', C.router4]);
    await client.exec('ip', ['-6', 'route', 'add', 'default', 'via', C.router6]);
    await server.exec('ip', ['route', 'add', 'default', 'via', C.routerFar4]);
    await server.exec('ip', ['-6', 'route', 'add', 'default', 'via', C.routerFar6]);
    await server.exec('nft', ['-f', '-'], {
      input: `table inet postern_test {
        chain input {
          type filter hook input priority 0;
          tcp dport ${C.prohibitedPort} reject with icmpx type admin-prohibited
        }
      }\n`,
    });

    const dns = server.spawn('dnsmasq', 'dnsmasq', [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--pid-file=',
      '--bind-interfaces',
      `--listen-address=${C.server4},${C.server6}`,
      '--except-interface=lo',
      `--address=/${C.dnsName}/${C.server4}`,
      `--address=/${C.dnsName}/${C.server6}`,
      '--log-facility=-',
    ]);
    const http = server.spawn('http', process.execPath, [
      '-e',
      `require('node:http').createServer((q, r) => r.end('hello ' + 'x'.repeat(3000)))` +
        `.listen(${C.httpPort}, '::', () => console.log('listening'))`,
    ]);
    processes.push(dns, http);
    await http.waitForOutput(/listening/);
    await dns.waitForOutput(/started/);

    const pcap = join(dir, 'capture.pcap');
    const tcpdump = client.spawn('tcpdump', 'tcpdump', [
      '-i',
      clientIf,
      '-w',
      pcap,
      '-U',
      '--immediate-mode',
      '-n',
      '-Z',
      'root',
      'ip or ip6',
    ]);
    processes.push(tcpdump);
    await tcpdump.waitForOutput(/listening on/);

    const inClient = (cmd: string, args: string[]) => client.exec(cmd, args, { allowFailure: true });
    // ICMP echo, through the router, both families.
    expect((await inClient('ping', ['-c', '2', '-i', '0.2', '-W', '2', C.server4])).code).toBe(0);
    expect((await inClient('ping', ['-6', '-c', '2', '-i', '0.2', '-W', '2', C.server6])).code).toBe(0);
    // Time exceeded from the router.
    await inClient('ping', ['-c', '1', '-W', '1', '-t', '1', C.server4]);
    await inClient('ping', ['-6', '-c', '1', '-W', '1', '-t', '1', C.server6]);
    // Fragmentation needed / packet too big from the router (1400 bytes do not fit the far link).
    await inClient('ping', ['-c', '1', '-W', '1', '-M', 'do', '-s', '1400', C.server4]);
    await inClient('ping', ['-6', '-c', '1', '-W', '1', '-s', '1400', C.server6]);
    // Fragmented by the client: IPv4 fragments, and IPv6 Fragment extension headers.
    expect((await inClient('ping', ['-c', '1', '-W', '2', '-M', 'dont', '-s', '3000', C.server4])).code).toBe(0);
    expect((await inClient('ping', ['-6', '-c', '1', '-W', '2', '-s', '3000', C.server6])).code).toBe(0);
    // DNS over UDP and TCP.
    for (const [server, type, answer] of [
      [C.server4, 'A', C.server4],
      [C.server6, 'AAAA', C.server6],
    ] as const) {
      for (const transport of ['+notcp', '+tcp']) {
        const { stdout } = await inClient('dig', [`@${server}`, C.dnsName, type, transport, '+short', '+tries=1']);
        expect(stdout.trim()).toBe(answer);
      }
    }
    // HTTP over TCP.
    for (const host of [C.server4, `[${C.server6}]`]) {
      const { stdout } = await inClient('curl', ['-sS', '--max-time', '5', `http://${host}:${C.httpPort}/`]);
      expect(stdout).toMatch(/^hello x+$/);
    }
    // UDP to a closed port: ICMP port unreachable (dig sees "connection refused").
    for (const server of [C.server4, C.server6]) {
      await inClient('dig', [`@${server}`, '-p', String(C.closedPort), C.dnsName, '+tries=1', '+time=1']);
    }
    // TCP to a port nftables rejects: ICMP administratively prohibited.
    for (const host of [C.server4, `[${C.server6}]`]) {
      const { code } = await inClient('curl', ['-sS', '--max-time', '3', `http://${host}:${C.prohibitedPort}/`]);
      expect(code).not.toBe(0);
    }
    // A new address joins its solicited-node multicast group: an MLDv2 report behind a Hop-by-Hop header.
    await client.exec('ip', ['addr', 'add', `${C.extra6}/64`, 'dev', clientIf, 'nodad']);
    await new Promise((r) => setTimeout(r, 500));
    await tcpdump.stop();

    const packets = readIpPackets(pcap);
    console.log(`capture: ${packets.length} IP packets`);
    expect(packets.length).toBeGreaterThan(50);
    expect(captureProblems(packets)).toEqual([]);
    if (process.env.UPDATE_PACKET_FIXTURES) {
      copyFileSync(pcap, FIXTURE);
      console.log(`wrote ${FIXTURE}`);
    }
  });
});
