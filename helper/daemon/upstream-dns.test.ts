import { createSocket } from 'node:dgram';
import { type AddressInfo, createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { queryUpstream } from './upstream-dns.js';

describe('queryUpstream', () => {
  it('asks over UDP from a fresh socket and takes the first answer', async () => {
    const server = createSocket('udp4');
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    server.on('message', (msg, rinfo) => {
      server.send(Buffer.concat([Buffer.from('re:'), msg]), rinfo.port, rinfo.address);
      server.send(Buffer.from('late duplicate'), rinfo.port, rinfo.address);
    });
    const port = (server.address() as AddressInfo).port;
    const answer = await queryUpstream('127.0.0.1', 'udp', Buffer.from('q1'), { port });
    expect(Buffer.from(answer).toString()).toBe('re:q1');
    server.close();
  });

  it('asks over TCP with the length prefix and reassembles a split answer', async () => {
    const server = createServer((socket) => {
      socket.once('data', (data) => {
        expect(data.readUInt16BE(0)).toBe(data.length - 2);
        const body = Buffer.from('answer over tcp');
        const framed = Buffer.concat([Buffer.from([0, body.length]), body]);
        socket.write(framed.subarray(0, 5));
        setTimeout(() => socket.end(framed.subarray(5)), 20);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const answer = await queryUpstream('127.0.0.1', 'tcp', Buffer.from('query'), { port });
    expect(Buffer.from(answer).toString()).toBe('answer over tcp');
    server.close();
  });

  it('fails after the timeout when nobody answers, and when the connection is refused', async () => {
    const silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    await expect(queryUpstream('127.0.0.1', 'udp', Buffer.from('q'), { port, timeoutMs: 50 })).rejects.toThrow(
      /no answer from 127\.0\.0\.1 within 50 ms/,
    );
    silent.close();
    await expect(queryUpstream('127.0.0.1', 'tcp', Buffer.from('q'), { port, timeoutMs: 1000 })).rejects.toThrow(
      /ECONNREFUSED/,
    );
  });
});
