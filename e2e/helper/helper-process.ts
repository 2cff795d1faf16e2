import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { fileURLToPath } from 'node:url';
import { encodeFrame, FrameDecoder, MAX_REPLY_FRAME_BYTES, type HelperRequest } from '../../protocol/helper-api.js';
import type { BackgroundProcess, Namespace } from '../netns/index.js';

/** The built daemon and CLI (`npm test` builds them with `tsc -b` before any test runs). */
export const HELPER_MAIN = fileURLToPath(new URL('../../dist/helper/daemon/main.js', import.meta.url));
export const CLI_MAIN = fileURLToPath(new URL('../../dist/helper/cli/postern.js', import.meta.url));

export function requireBuild(): void {
  if (!existsSync(HELPER_MAIN)) throw new Error(`${HELPER_MAIN} is missing: run \`npm run build\` first`);
}

/** Starts `postern-helper` inside a namespace and waits until its API listens. */
export async function startHelper(ns: Namespace, args: readonly string[]): Promise<BackgroundProcess> {
  requireBuild();
  const helper = ns.spawn('postern-helper', process.execPath, [HELPER_MAIN, '--log-level', 'debug', ...args]);
  await helper.waitForOutput(/postern-helper ready/, 15_000);
  return helper;
}

/** Writes raw bytes to the API socket and collects the decoded replies until the helper closes or `count` arrived. */
export function exchange(
  socketPath: string,
  bytes: Uint8Array,
  count: number,
  timeoutMs = 5000,
): Promise<{ frames: unknown[]; closedByHelper: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    const decoder = new FrameDecoder(MAX_REPLY_FRAME_BYTES);
    const frames: unknown[] = [];
    let closedByHelper = false;
    const timer = setTimeout(() => finish(), timeoutMs);
    const finish = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ frames, closedByHelper });
    };
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      for (const f of decoder.push(chunk)) frames.push(f.ok ? f.json : f);
      // Wait a moment after the last expected frame so a close by the helper is seen too.
      if (frames.length >= count) setTimeout(finish, 200);
    });
    socket.on('end', () => {
      closedByHelper = true;
      finish();
    });
    socket.write(bytes);
  });
}

export function frames(...requests: HelperRequest[]): Uint8Array {
  return Buffer.concat(requests.map((r) => encodeFrame(r)));
}
