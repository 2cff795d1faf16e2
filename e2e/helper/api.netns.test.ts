import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_REQUEST_FRAME_BYTES } from '../../protocol/helper-api.js';
import { type BackgroundProcess, Namespace, netnsUnavailableReason, run } from '../netns/index.js';
import { exchange, frames, startHelper } from './helper-process.js';

const skip = netnsUnavailableReason();
if (skip) console.warn(`skipping e2e/helper API tests: ${skip}`);

/**
 * A client as another user: connects, sends `hello`, prints what happened as JSON. Plain Node (no project imports),
 * so it runs as any uid.
 */
const CLIENT = `
const net = require('node:net');
const s = net.createConnection(process.argv[1]);
const out = { connected: false, replies: [] };
let buf = Buffer.alloc(0);
s.on('connect', () => {
  out.connected = true;
  const body = Buffer.from(JSON.stringify({ type: 'hello', id: 1 }));
  const head = Buffer.alloc(4); head.writeUInt32BE(body.length);
  s.write(Buffer.concat([head, body]));
});
s.on('data', (d) => {
  buf = Buffer.concat([buf, d]);
  while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
    out.replies.push(JSON.parse(buf.subarray(4, 4 + buf.readUInt32BE(0)).toString()));
    buf = buf.subarray(4 + buf.readUInt32BE(0));
  }
  if (out.replies.length > 0) s.destroy();
});
s.on('error', (e) => { out.error = e.code; });
s.on('close', () => { console.log(JSON.stringify(out)); });
setTimeout(() => s.destroy(), 2000).unref();
`;

async function clientAs(
  socketPath: string,
  ids: string[],
): Promise<{ connected: boolean; error?: string; replies: unknown[] }> {
  const { stdout } = await run('setpriv', [...ids, process.execPath, '-e', CLIENT, socketPath]);
  return JSON.parse(stdout.trim()) as { connected: boolean; error?: string; replies: unknown[] };
}

describe.skipIf(skip)('postern-helper local API', () => {
  let ns: Namespace;
  let dir: string;
  let socketPath: string;
  let helper: BackgroundProcess;
  let posternGid: number;

  beforeAll(async () => {
    ns = await Namespace.create('helperapi');
    dir = mkdtempSync(join(tmpdir(), 'postern-e2e-api-'));
    chmodSync(dir, 0o755); // other uids must reach the socket itself, so its own mode is what is tested
    socketPath = join(dir, 'run', 'helper.sock');
    helper = await startHelper(ns, [
      '--socket',
      socketPath,
      '--state-dir',
      join(dir, 'state'),
      '--dns-mode',
      'none',
      '--log-file',
      join(dir, 'log', 'helper.log'),
    ]);
    posternGid = Number((await run('getent', ['group', 'postern'])).stdout.split(':')[2]);
  });
  afterAll(async () => {
    await helper?.stop();
    await ns?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs JSON to the log file as well as stderr', () => {
    const lines = readFileSync(join(dir, 'log', 'helper.log'), 'utf8')
      .trim()
      .split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toContain('postern-helper ready');
    expect(helper.text).toContain('postern-helper ready');
  });

  it('answers root', async () => {
    const { frames: replies } = await exchange(socketPath, frames({ type: 'hello', id: 1 }), 1);
    expect(replies).toEqual([
      expect.objectContaining({ type: 'hello_result', id: 1, apiVersion: 1, state: { status: 'disconnected' } }),
    ]);
  });

  it('rejects a second uid that is not in group postern', async () => {
    const result = await clientAs(socketPath, ['--reuid=65534', '--regid=65534', '--clear-groups']);
    expect(result).toEqual({ connected: false, error: 'EACCES', replies: [] });
  });

  it('refuses a non-member by its SO_PEERCRED credentials even when the socket file lets it in', async () => {
    chmodSync(socketPath, 0o666);
    try {
      const result = await clientAs(socketPath, ['--reuid=65534', '--regid=65534', '--clear-groups']);
      expect(result).toEqual({
        connected: true,
        replies: [
          {
            type: 'error',
            id: null,
            code: 'forbidden',
            message: expect.stringContaining('uid 65534') as string,
          },
        ],
      });
    } finally {
      chmodSync(socketPath, 0o660);
    }
  });

  it('accepts a second uid that is in group postern', async () => {
    const result = await clientAs(socketPath, ['--reuid=65534', '--regid=65534', `--groups=${posternGid}`]);
    expect(result.replies).toEqual([expect.objectContaining({ type: 'hello_result', id: 1 })]);
  });

  it('closes a connection with an oversized frame with a clear error, and keeps serving', async () => {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(MAX_REQUEST_FRAME_BYTES + 1);
    const { frames: replies, closedByHelper } = await exchange(
      socketPath,
      Buffer.concat([header, Buffer.alloc(4096)]),
      1,
    );
    expect(replies).toEqual([
      {
        type: 'error',
        id: null,
        code: 'too_large',
        message: `frame of ${MAX_REQUEST_FRAME_BYTES + 1} bytes is larger than the limit of ${MAX_REQUEST_FRAME_BYTES}`,
      },
    ]);
    expect(closedByHelper).toBe(true);
    expect(helper.running).toBe(true);
    const again = await exchange(socketPath, frames({ type: 'status', id: 2 }), 1);
    expect(again.frames).toEqual([expect.objectContaining({ type: 'status_result', id: 2 })]);
  });

  it('answers malformed JSON and unknown requests with error frames on the same connection', async () => {
    const body = Buffer.from('{"type": "hello", ');
    const header = Buffer.alloc(4);
    header.writeUInt32BE(body.length);
    const unknown = Buffer.from(JSON.stringify({ type: 'format_disk', id: 7 }));
    const unknownHeader = Buffer.alloc(4);
    unknownHeader.writeUInt32BE(unknown.length);
    const { frames: replies, closedByHelper } = await exchange(
      socketPath,
      Buffer.concat([header, body, unknownHeader, unknown, frames({ type: 'hello', id: 8 })]),
      3,
    );
    expect(replies).toEqual([
      { type: 'error', id: null, code: 'malformed', message: expect.stringMatching(/^frame is not JSON/) },
      { type: 'error', id: 7, code: 'unknown_request', message: 'unknown request type "format_disk"' },
      expect.objectContaining({ type: 'hello_result', id: 8 }),
    ]);
    expect(closedByHelper).toBe(false);
  });

  it('serves the CLI: status and disconnect while disconnected', async () => {
    const cli = (...args: string[]) =>
      run(process.execPath, [join(process.cwd(), 'dist/helper/cli/postern.js'), '--socket', socketPath, ...args], {
        allowFailure: true,
      });
    expect(await cli('status')).toMatchObject({ code: 0, stdout: expect.stringContaining('disconnected') });
    expect(JSON.parse((await cli('status', '--json')).stdout)).toMatchObject({ type: 'status_result', tunnel: null });
    expect(await cli('disconnect')).toMatchObject({ code: 0 });
  });
});
