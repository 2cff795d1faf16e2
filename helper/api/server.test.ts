import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  encodeFrame,
  FrameDecoder,
  MAX_REPLY_FRAME_BYTES,
  MAX_REQUEST_FRAME_BYTES,
} from '../../protocol/helper-api.js';
import type { HelperRequestError } from './client.js';
import { HelperClient } from './client.js';
import { checkPeer, supplementaryGroups } from './peer-check.js';
import { ApiServer, errorFrame } from './server.js';

const log = pino({ level: 'silent' });
let dir: string;
let server: ApiServer;
let socketPath: string;
let allowed = true;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postern-api-'));
  socketPath = join(dir, 'sub', 'helper.sock');
  allowed = true;
  server = new ApiServer({
    socketPath,
    gid: undefined,
    authorize: () => (allowed ? { allowed: true } : { allowed: false, reason: 'uid 65534 is not in group postern' }),
    handler: async (request, connection) => {
      if (request.type === 'subscribe') {
        connection.subscribed = true;
        return {
          type: 'subscribe_result',
          id: request.id,
          state: { status: 'disconnected' },
          resources: [],
          mappings: [],
        };
      }
      if (request.type === 'status') throw new Error('boom');
      return errorFrame(request.id, 'bad_state', `${request.type} needs a connection`);
    },
    log,
  });
  await server.listen();
});
afterEach(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Raw socket: sends bytes, collects decoded frames until the server closes or `count` frames arrived. */
async function exchange(bytes: Uint8Array, count: number): Promise<{ frames: unknown[]; closed: boolean }> {
  const socket: Socket = createConnection(socketPath);
  const decoder = new FrameDecoder(MAX_REPLY_FRAME_BYTES);
  const frames: unknown[] = [];
  return new Promise((resolve) => {
    let closed = false;
    const done = () => resolve({ frames, closed });
    socket.on('data', (chunk) => {
      for (const f of decoder.push(chunk)) frames.push(f.ok ? f.json : f);
      if (frames.length >= count) setTimeout(() => (socket.destroy(), done()), 50);
    });
    socket.on('close', () => {
      closed = true;
      done();
    });
    socket.write(bytes);
  });
}

describe('ApiServer', () => {
  it('creates the directory and a 0660 socket', () => {
    expect(statSync(socketPath).mode & 0o777).toBe(0o660);
  });

  it('answers malformed JSON and unknown requests with error frames and keeps the connection', async () => {
    const body = new TextEncoder().encode('{"type":');
    const broken = new Uint8Array(4 + body.length);
    new DataView(broken.buffer).setUint32(0, body.length);
    broken.set(body, 4);
    const { frames, closed } = await exchange(
      new Uint8Array([
        ...broken,
        ...encodeFrame({ type: 'reboot', id: 9 } as never),
        ...encodeFrame({ type: 'mappings', id: 10 }),
      ]),
      3,
    );
    expect(closed).toBe(false);
    expect(frames).toEqual([
      { type: 'error', id: null, code: 'malformed', message: expect.stringContaining('JSON') },
      { type: 'error', id: 9, code: 'unknown_request', message: expect.stringContaining('reboot') },
      { type: 'error', id: 10, code: 'bad_state', message: 'mappings needs a connection' },
    ]);
  });

  it('closes a connection that sends an oversized frame and keeps serving others', async () => {
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, MAX_REQUEST_FRAME_BYTES + 1);
    const { frames, closed } = await exchange(new Uint8Array([...header, ...new Uint8Array(1000)]), 1);
    expect(frames).toEqual([{ type: 'error', id: null, code: 'too_large', message: expect.stringContaining('limit') }]);
    expect(closed).toBe(true);

    const client = await HelperClient.connect(socketPath);
    await expect(client.request({ type: 'subscribe' })).resolves.toMatchObject({ type: 'subscribe_result' });
    client.close();
  });

  it('turns a handler failure into an internal error', async () => {
    const client = await HelperClient.connect(socketPath);
    await expect(client.request({ type: 'status' })).rejects.toMatchObject({ code: 'internal', message: 'boom' });
    client.close();
  });

  it('refuses a peer the check rejects, with a reason', async () => {
    allowed = false;
    const client = await HelperClient.connect(socketPath);
    const error = await client.request({ type: 'hello' }).catch((e: HelperRequestError) => e);
    expect(error).toMatchObject({ code: 'forbidden', message: expect.stringContaining('not in group postern') });
  });

  it('pushes events to subscribers only', async () => {
    const subscriber = await HelperClient.connect(socketPath);
    const other = await HelperClient.connect(socketPath);
    const seen: unknown[] = [];
    const unseen: unknown[] = [];
    subscriber.onEvent = (e) => seen.push(e);
    other.onEvent = (e) => unseen.push(e);
    await subscriber.request({ type: 'subscribe' });
    server.broadcast({ type: 'state_changed', state: { status: 'disconnected' } });
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toEqual([{ type: 'state_changed', state: { status: 'disconnected' } }]);
    expect(unseen).toEqual([]);
    subscriber.close();
    other.close();
  });

  it('refuses to start beside a live helper', async () => {
    const second = new ApiServer({
      socketPath,
      gid: undefined,
      authorize: () => ({ allowed: true }),
      handler: async () => errorFrame(null, 'internal', ''),
      log,
    });
    await expect(second.listen()).rejects.toThrow(/already listening/);
  });
});

describe('checkPeer', () => {
  const groups = (list: number[] | undefined) => () => list;
  it.each([
    [{ pid: 1, uid: 0, gid: 0 }, undefined, true],
    [{ pid: 1, uid: 1000, gid: 999 }, [], true],
    [{ pid: 1, uid: 1000, gid: 1000 }, [4, 999], true],
    [{ pid: 1, uid: 1000, gid: 1000 }, [4, 27], false],
    [{ pid: 1, uid: 65534, gid: 65534 }, undefined, false],
  ])('%j with groups %j → %s', (peer, list, expected) => {
    expect(checkPeer(peer, 999, groups(list)).allowed).toBe(expected);
  });

  it('reads the supplementary groups of a live process', () => {
    expect(supplementaryGroups(process.pid)).toEqual(
      process.getgroups?.().filter((g) => g !== process.getegid?.()) ?? [],
    );
    expect(supplementaryGroups(2 ** 30)).toBeUndefined();
  });
});
