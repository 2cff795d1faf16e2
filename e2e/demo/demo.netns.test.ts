import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BackgroundProcess, run } from '../netns/index.js';
import { NAMES, PLAN } from '../system/plan.js';
import { ROOT, topologyUnavailableReason } from '../system/topology.js';
import type { DemoInfo } from './start-demo.js';

/**
 * `npm run demo` as a user runs it (the built `dist/e2e/demo/demo.js`): it comes up, what it prints works, the info
 * file describes it, and Ctrl-C leaves nothing behind — no namespace, no /etc/netns entry, no temp dir.
 */

const skip = topologyUnavailableReason(['portal', 'gateway', 'helper', 'postern']);
if (skip) console.warn(`skipping the demo test (e2e/demo): ${skip}`);

describe.skipIf(skip)('npm run demo', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'postern-demo-test-'));
  let demo: BackgroundProcess | undefined;
  afterAll(async () => {
    await demo?.kill();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('brings the system up, prints commands that work, and cleans everything up on Ctrl-C', async () => {
    const infoFile = join(scratch, 'demo.json');
    demo = BackgroundProcess.start('demo', process.execPath, [
      join(ROOT, 'dist/e2e/demo/demo.js'),
      '--info-file',
      infoFile,
    ]);
    await demo.waitForOutput(/Press Ctrl-C/, 120_000);
    const info = JSON.parse(readFileSync(infoFile, 'utf8')) as DemoInfo;
    const client = info.namespaces.client;
    expect(demo.text).toContain(`sudo ip netns exec ${client} curl http://${NAMES.nas}/`);

    const { stdout } = await run('ip', [
      'netns',
      'exec',
      client,
      'curl',
      '-sS',
      '--max-time',
      '5',
      `http://${NAMES.nas}/`,
    ]);
    expect(JSON.parse(stdout)).toMatchObject({ server: 'nas', client: PLAN.gateway.corp });
    const mappings = await run(info.posternCommand, ['mappings']);
    expect(mappings.stdout).toContain(NAMES.nas);
    const health = await fetch(`${info.portalHostUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(info.helperSocket).toBe(join(info.dir, 'helper.sock'));

    demo.child.kill('SIGINT');
    await demo.wait();
    expect(demo.text).toContain('Postern demo stopped');
    const left = (await run('ip', ['netns', 'list'])).stdout;
    for (const ns of Object.values(info.namespaces)) {
      expect(left).not.toContain(ns);
      expect(existsSync(`/etc/netns/${ns}`)).toBe(false);
    }
    expect(existsSync(info.dir)).toBe(false);
    expect(readdirSync(scratch)).toEqual([]);
  }, 180_000);
});
