/**
 * Known answers from a real wireguard-go (v0.0.20220316), recorded by e2e/wireguard/capture-vectors.ts: our side
 * ran on a seeded random stream, so replaying the same inputs must reproduce our messages byte for byte, and
 * wireguard-go's messages must authenticate and decrypt to what its kernel sent.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Device } from './device.js';
import { publicKeyOf } from './keys.js';
import { seededRng } from './rng.js';
import { tai64nToUnixMs } from './tai64n.js';
import { consumeInitiation, localIdentity, remoteIdentity } from './handshake.js';

interface Capture {
  ourPrivateKey: string;
  peerPrivateKey: string;
  peer: { publicKey: string; allowedIps: string[]; endpoint?: { host: string; port: number } };
  seed: string;
  sentPacket?: string;
  receivedPacket: string;
  datagrams: { direction: 'in' | 'out'; data: string; now: number }[];
}
const vectors = JSON.parse(readFileSync(new URL('./vectors/wireguard-go.json', import.meta.url), 'utf8')) as {
  initiator: Capture;
  responder: Capture;
};
const WG_GO = { host: '10.88.0.2', port: 51820 };
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function deviceFor(capture: Capture): Device {
  const device = new Device({ privateKey: capture.ourPrivateKey, rng: seededRng(capture.seed) });
  device.upsertPeer(capture.peer);
  return device;
}

describe('known answers from wireguard-go', () => {
  it('as initiator: reproduces our initiation and transport message, and decrypts wireguard-go’s', () => {
    const capture = vectors.initiator;
    expect(publicKeyOf(capture.peerPrivateKey)).toBe(capture.peer.publicKey);
    const [initiation, response, ourTransport, theirTransport] = capture.datagrams;
    const device = deviceFor(capture);

    expect(device.encapsulate(Buffer.from(capture.sentPacket!, 'hex'), initiation!.now).kind).toBe('queued');
    expect(hex(device.pollTransmit()!.data)).toBe(initiation!.data);

    expect(device.handleDatagram(Buffer.from(response!.data, 'hex'), WG_GO, response!.now)).toEqual({
      kind: 'consumed',
    });
    expect(device.pollEvent()?.type).toBe('handshake_completed');
    // The staged echo request, sealed with the transport key derived from wireguard-go's response.
    expect(hex(device.pollTransmit()!.data)).toBe(ourTransport!.data);

    const received = device.handleDatagram(Buffer.from(theirTransport!.data, 'hex'), WG_GO, theirTransport!.now);
    expect(received.kind === 'packet' && hex(received.packet)).toBe(capture.receivedPacket);
    // …which is the kernel's echo reply to our request: type 0, same id and sequence.
    const reply = Buffer.from(capture.receivedPacket, 'hex');
    expect([reply[20], reply.readUInt16BE(24), reply.readUInt16BE(26)]).toEqual([0, 0x1234, 1]);
  });

  it('as responder: accepts wireguard-go’s initiation, reproduces our response, decrypts its transport', () => {
    const capture = vectors.responder;
    const [initiation, response, theirTransport] = capture.datagrams;
    const device = deviceFor(capture);
    const initiationBytes = Buffer.from(initiation!.data, 'hex');

    // wireguard-go's TAI64N timestamp names the capture time (±whitening and clock skew between the processes).
    const local = localIdentity(Buffer.from(capture.ourPrivateKey, 'base64'));
    const peer = { identity: remoteIdentity(local, Buffer.from(capture.peer.publicKey, 'base64')) };
    const consumed = consumeInitiation(local, initiationBytes, () => peer);
    if (typeof consumed === 'string') throw new Error(consumed);
    expect(Math.abs(tai64nToUnixMs(consumed.timestamp) - initiation!.now)).toBeLessThan(1000);

    expect(device.handleDatagram(initiationBytes, WG_GO, initiation!.now)).toEqual({ kind: 'consumed' });
    expect(hex(device.pollTransmit()!.data)).toBe(response!.data);
    const received = device.handleDatagram(Buffer.from(theirTransport!.data, 'hex'), WG_GO, theirTransport!.now);
    expect(received.kind === 'packet' && hex(received.packet)).toBe(capture.receivedPacket);
    expect(Buffer.from(capture.receivedPacket, 'hex')[20]).toBe(8); // ping's echo request
    expect(device.pollEvent()).toMatchObject({ type: 'endpoint_changed' });
    expect(device.pollEvent()).toMatchObject({ type: 'handshake_completed' });
  });
});
