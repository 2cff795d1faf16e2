import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signIn } from '../../helper/cli/sign-in.js';
import { Helper } from '../../helper/daemon/helper.js';
import { captureCli } from '../../helper/test-support/cli.js';
import { scriptedHelperDeps } from '../../helper/test-support/scripted-core.js';
import type { RunCommand } from '../../helper/os/command.js';
import { pgliteEngine } from '../../portal/testing/engines.js';
import { startTestPortal, type TestPortal } from '../../portal/testing/fixture.js';

/**
 * `postern sign-in` and `postern connect` against the real portal: the browser's part is done by posting the
 * portal's password form, the helper runs with a scripted core and an in-memory TUN (no root needed), so what is
 * tested is the CLI, the sign-in contract, the local API and the portal link with the portal's real `init`.
 */
describe('postern CLI and helper against the real portal', () => {
  let portal: TestPortal;
  let helper: Helper;
  let dir: string;
  let scripted: ReturnType<typeof scriptedHelperDeps>;

  beforeAll(async () => {
    portal = await startTestPortal(pgliteEngine(), {
      yaml: `
accounts:
  - { email: alice@corp.test, password: "alice password", groups: [engineering] }
sites:
  - { name: corp, gateway_tokens: ["gateway-token-corp-0123456789"] }
resources:
  - { name: nas, address: nas.corp.test, site: corp }
  - { name: lab, address: 10.20.0.0/16, site: corp }
policies:
  - { group: engineering, resources: [nas, lab] }
`,
    });
    dir = mkdtempSync(join(tmpdir(), 'postern-e2e-signin-'));
    const run: RunCommand = async (cmd) =>
      cmd === 'getent' ? { code: 0, stdout: 'postern:x:998:\n', stderr: '' } : { code: 0, stdout: '', stderr: '' };
    scripted = scriptedHelperDeps(run);
    helper = new Helper(
      {
        socket: join(dir, 'helper.sock'),
        stateDir: join(dir, 'state'),
        dnsMode: 'none',
        tunName: 'pt-e2e0',
        logLevel: 'info',
        logFile: undefined,
        managedFile: join(dir, 'managed.json'),
      },
      pino({ level: 'silent' }),
      scripted.deps,
    );
    await helper.start();
  }, 60_000); // PGlite's first start takes seconds
  afterAll(async () => {
    await helper?.stop();
    await portal?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The user in the browser: open the sign-in page, submit the password form, follow the redirect home. */
  async function browser(url: string): Promise<boolean> {
    const page = await (await fetch(url)).text();
    const request = /name="request" value="([^"]+)"/.exec(page)?.[1];
    if (!request) throw new Error(`no sign-in form in:\n${page}`);
    const posted = await fetch(`${portal.url}/sign-in/password`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ request, email: 'alice@corp.test', password: 'alice password' }).toString(),
    });
    await fetch(posted.headers.get('location')!);
    return true;
  }

  const cli = (...argv: string[]) =>
    captureCli(join(dir, 'helper.sock'), argv, async (portalUrl, _openBrowser, io) => {
      return (await signIn({ portalUrl, openBrowser: browser, print: io.err })).token;
    });

  it('signs in through the browser flow and connects with the portal-issued token', async () => {
    const result = await cli('sign-in', '--portal', portal.url);
    expect(result, result.err).toMatchObject({ code: 0, out: expect.stringContaining('as alice@corp.test') });
    const resources = JSON.parse((await cli('resources', '--json')).out) as { resource: { name: string } }[];
    expect(resources.map((r) => r.resource.name).sort()).toEqual(['lab', 'nas']);
    expect(scripted.cores.at(-1)!.portalMessages[0]).toMatchObject({
      type: 'init',
      account: { email: 'alice@corp.test' },
    });
    expect(await cli('disconnect')).toMatchObject({ code: 0, out: 'disconnected' });
  });

  it('connects with a token file, and reports a revoked token clearly', async () => {
    writeFileSync(join(dir, 'token'), `${await portal.tokenFor('alice@corp.test')}\n`);
    expect(await cli('connect', '--portal', portal.url, '--token-file', join(dir, 'token'))).toMatchObject({
      code: 0,
      out: expect.stringContaining('connected'),
    });
    writeFileSync(join(dir, 'bad-token'), 'not-a-token\n');
    expect(await cli('connect', '--portal', portal.url, '--token-file', join(dir, 'bad-token'))).toMatchObject({
      code: 1,
      err: expect.stringMatching(/refused the token \(HTTP 40[13]\)/),
    });
  });
});
