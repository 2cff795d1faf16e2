import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peerCredentials, type PeerCredentials } from '../../native/index.js';
import { netnsUnavailableReason } from '../netns/index.js';

// The helper's local API decides who may talk to it by SO_PEERCRED. Clients of other uids need root to start
// (setpriv), hence a root-only test; no namespace is needed.

const skip = netnsUnavailableReason();
if (skip) console.warn(`skipping e2e/native peer-credential tests: ${skip}`);

describe.skipIf(skip)('peerCredentials of Unix-socket clients of other users', () => {
  const server = createServer();
  const peers: Array<(credentials: PeerCredentials) => void> = [];
  let dir = '';
  let path = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-peercred-'));
    path = join(dir, 'helper.sock');
    chmodSync(dir, 0o755); // let uid 65534 reach the socket
    server.on('connection', (socket: Socket) => {
      peers.shift()?.(peerCredentials(socket)); // read at accept time, as the helper does
      socket.end();
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    chmodSync(path, 0o777);
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs a node client through `wrapper` (e.g. setpriv), returns what the server saw and the client's own view. */
  async function connectAs(wrapper: string[]): Promise<{ seen: PeerCredentials; client: PeerCredentials }> {
    const seen = new Promise<PeerCredentials>((resolve) => peers.push(resolve));
    const script = `
      const socket = require('node:net').connect(process.argv[1], () => {
        console.log(JSON.stringify({ pid: process.pid, uid: process.getuid(), gid: process.getgid() }));
      });
      socket.resume();`;
    const [cmd, ...args] = [...wrapper, process.execPath, '-e', script, path];
    const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, out).toBe(0);
    return { seen: await seen, client: JSON.parse(out) as PeerCredentials };
  }

  it('reports root as root', async () => {
    const { seen, client } = await connectAs([]);
    expect(client).toMatchObject({ uid: 0, gid: 0 });
    expect(seen).toEqual(client);
  });

  it('reports another uid and gid, and the pid of the process that connected', async () => {
    const { seen, client } = await connectAs(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']);
    expect(client).toMatchObject({ uid: 65534, gid: 65534 });
    expect(seen).toEqual(client); // setpriv execs node, so the pid is the client's own
  });

  it('reports a uid with a different primary group', async () => {
    const { seen, client } = await connectAs(['setpriv', '--reuid=65534', '--regid=100', '--clear-groups']);
    expect(client).toMatchObject({ uid: 65534, gid: 100 });
    expect(seen).toEqual(client);
  });
});
