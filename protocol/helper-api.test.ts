import { describe, expect, it } from 'vitest';
import {
  FrameDecoder,
  HELPER_REQUEST_TYPES,
  HelperMessage,
  ManagedSettings,
  MAX_REQUEST_FRAME_BYTES,
  encodeFrame,
  parseHelperRequest,
} from './helper-api.js';

function rawFrame(body: Uint8Array, length = body.length): Uint8Array {
  const frame = new Uint8Array(4 + body.length);
  new DataView(frame.buffer).setUint32(0, length);
  frame.set(body, 4);
  return frame;
}

describe('frame codec', () => {
  it('round-trips a message through frames split at every byte', () => {
    const frame = encodeFrame({ type: 'status', id: 7 });
    const twice = new Uint8Array([...frame, ...frame]);
    for (let cut = 0; cut <= twice.length; cut++) {
      const decoder = new FrameDecoder(MAX_REQUEST_FRAME_BYTES);
      const frames = [...decoder.push(twice.subarray(0, cut)), ...decoder.push(twice.subarray(cut))];
      expect(frames).toEqual([
        { ok: true, json: { type: 'status', id: 7 } },
        { ok: true, json: { type: 'status', id: 7 } },
      ]);
    }
  });

  it('writes the length big-endian and the body as UTF-8', () => {
    const frame = encodeFrame({ type: 'hello', id: 1, client: { name: 'é', version: '1' } });
    const body = new TextEncoder().encode(
      JSON.stringify({ type: 'hello', id: 1, client: { name: 'é', version: '1' } }),
    );
    expect([...frame.subarray(0, 4)]).toEqual([0, 0, 0, body.length]);
    expect(frame.subarray(4)).toEqual(body);
  });

  it('reports an oversized frame from its header alone and then stops', () => {
    const decoder = new FrameDecoder(16);
    const header = new Uint8Array([0, 0, 0, 17]);
    expect(decoder.push(header)).toEqual([{ ok: false, code: 'too_large', message: expect.stringContaining('17') }]);
    expect(decoder.push(encodeFrame({ type: 'status', id: 1 }))).toEqual([]);
  });

  it('reports bad JSON and bad UTF-8 but keeps decoding later frames', () => {
    const decoder = new FrameDecoder(1024);
    const frames = decoder.push(
      new Uint8Array([
        ...rawFrame(new TextEncoder().encode('{nope')),
        ...rawFrame(new Uint8Array([0x7b, 0xff, 0x7d])),
        ...encodeFrame({ type: 'status', id: 2 }),
      ]),
    );
    expect(frames.map((f) => (f.ok ? 'ok' : f.code))).toEqual(['malformed', 'malformed', 'ok']);
  });

  it('accepts an empty body as malformed, not as a crash', () => {
    expect(new FrameDecoder(8).push(rawFrame(new Uint8Array()))).toEqual([
      { ok: false, code: 'malformed', message: expect.stringContaining('JSON') },
    ]);
  });
});

describe('parseHelperRequest', () => {
  it('accepts every request type', () => {
    expect(HELPER_REQUEST_TYPES).toEqual([
      'hello',
      'connect',
      'disconnect',
      'status',
      'resources',
      'mappings',
      'subscribe',
    ]);
    expect(parseHelperRequest({ type: 'connect', id: 3, portalUrl: 'https://portal.test', token: 't' })).toMatchObject({
      ok: true,
      request: { type: 'connect', portalUrl: 'https://portal.test/' },
    });
  });

  it.each([
    [null, null, 'malformed'],
    [[1], null, 'malformed'],
    [{ id: 4 }, 4, 'malformed'],
    [{ type: 'reboot', id: 5 }, 5, 'unknown_request'],
    [{ type: 'status', id: -1 }, null, 'invalid_request'],
    [{ type: 'connect', id: 6, portalUrl: 'file:///etc/passwd', token: 't' }, 6, 'invalid_request'],
    [{ type: 'connect', id: 7, portalUrl: 'https://p.test', token: '' }, 7, 'invalid_request'],
  ])('rejects %j with id %j as %s', (json, id, code) => {
    expect(parseHelperRequest(json)).toMatchObject({ ok: false, error: { type: 'error', id, code } });
  });
});

describe('schemas', () => {
  it('validate replies and events the app receives', () => {
    const state = { status: 'disconnected' } as const;
    expect(HelperMessage.safeParse({ type: 'state_changed', state }).success).toBe(true);
    expect(HelperMessage.safeParse({ type: 'error', id: null, code: 'too_large', message: 'x' }).success).toBe(true);
    expect(HelperMessage.safeParse({ type: 'state_changed', state: { status: 'sleeping' } }).success).toBe(false);
  });

  it('ignore unknown managed keys and reject wrong types', () => {
    expect(ManagedSettings.parse({ portalUrl: 'https://p.test', futureKey: 1 })).toEqual({
      portalUrl: 'https://p.test/',
    });
    expect(ManagedSettings.safeParse({ connectOnStart: 'yes' }).success).toBe(false);
  });
});
