import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HelperRequest } from '../../protocol/helper-api.js';
import { ApiServer, errorFrame } from '../api/server.js';
import { parseCliArgs } from './args.js';
import { captureCli } from '../test-support/cli.js';
import { runCli } from './run.js';

describe('parseCliArgs', () => {
  it.each([
    [[], { kind: 'help' }],
    [['--help'], { kind: 'help' }],
    [['--version'], { kind: 'version' }],
    [['status'], { kind: 'status', socket: '/run/postern/helper.sock', json: false }],
    [['status', '--json', '--socket', '/tmp/s'], { kind: 'status', socket: '/tmp/s', json: true }],
    [['--socket=/tmp/x', 'mappings'], { kind: 'mappings', socket: '/tmp/x', json: false }],
    [['disconnect'], { kind: 'disconnect', socket: '/run/postern/helper.sock' }],
    [
      ['connect', '--portal', 'https://portal.test', '--token-file', 't'],
      { kind: 'connect', socket: '/run/postern/helper.sock', portalUrl: 'https://portal.test/', tokenFile: 't' },
    ],
    [
      ['sign-in', '--portal', 'http://127.0.0.1:9', '--no-browser'],
      { kind: 'sign-in', socket: '/run/postern/helper.sock', portalUrl: 'http://127.0.0.1:9/', openBrowser: false },
    ],
  ])('%j', (argv, command) => {
    expect(parseCliArgs(argv)).toEqual({ ok: true, command });
  });

  it('takes the socket from $POSTERN_SOCKET unless --socket is given', () => {
    expect(parseCliArgs(['status'], { POSTERN_SOCKET: '/e' })).toMatchObject({ command: { socket: '/e' } });
    expect(parseCliArgs(['status', '--socket', '/f'], { POSTERN_SOCKET: '/e' })).toMatchObject({
      command: { socket: '/f' },
    });
  });

  it.each([
    [['reboot'], /unknown command "reboot"/],
    [['status', 'extra'], /unexpected argument "extra"/],
    [['status', '--portal', 'x'], /status does not take --portal/],
    [['connect', '--token-file', 't'], /missing --portal/],
    [['connect', '--portal', 'https://p.test'], /needs --token-file/],
    [['connect', '--portal', 'ftp://p.test', '--token-file', 't'], /http\(s\) URL/],
    [['sign-in', '--portal', 'not a url'], /not a URL/],
    [['status', '--bogus'], /bogus/],
    [['status', '--socket'], /socket/],
  ])('rejects %j', (argv, error) => {
    const parsed = parseCliArgs(argv);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(error);
  });
});

describe('runCli against a helper socket', () => {
  let dir: string;
  let server: ApiServer;
  const requests: HelperRequest[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'postern-cli-'));
    server = new ApiServer({
      socketPath: join(dir, 'helper.sock'),
      gid: undefined,
      authorize: () => ({ allowed: true }),
      log: pino({ level: 'silent' }),
      handler: async (request) => {
        requests.push(request);
        const state = {
          status: 'connected',
          portalUrl: 'https://portal.test/',
          account: { id: 'a1', email: 'ann@corp.test' },
          device: { id: 'd1', tunnel: { ipv4: '100.64.0.2', ipv6: 'fd00:2021:1111::2' } },
          since: 0,
        } as const;
        if (request.type === 'connect') return { type: 'connect_result', id: request.id, state };
        if (request.type === 'mappings') {
          return {
            type: 'mappings_result',
            id: request.id,
            mappings: [
              {
                domain: 'nas.corp.test',
                resourceId: 'r1',
                ipv4: ['100.96.0.1'],
                ipv6: [],
                gatewayId: null,
                natState: 'none',
                lastUsedAt: 0,
              },
            ],
          };
        }
        return errorFrame(request.id, 'bad_state', 'not connected');
      },
    });
    await server.listen();
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = (...argv: string[]) => captureCli(join(dir, 'helper.sock'), argv);

  it('connects with the token from the file', async () => {
    writeFileSync(join(dir, 'token'), '  secret-token\n');
    const result = await cli('connect', '--portal', 'https://portal.test', '--token-file', join(dir, 'token'));
    expect(result).toMatchObject({ code: 0, out: expect.stringContaining('connected to https://portal.test/ as ann') });
    expect(requests.at(-1)).toMatchObject({
      type: 'connect',
      token: 'secret-token',
      portalUrl: 'https://portal.test/',
    });
  });

  it('refuses an empty or missing token file before talking to the helper', async () => {
    writeFileSync(join(dir, 'empty'), '\n');
    expect(await cli('connect', '--portal', 'https://p.test', '--token-file', join(dir, 'empty'))).toMatchObject({
      code: 1,
      err: expect.stringContaining('is empty'),
    });
    expect(await cli('connect', '--portal', 'https://p.test', '--token-file', join(dir, 'nope'))).toMatchObject({
      code: 1,
      err: expect.stringContaining('cannot read the token file'),
    });
  });

  it('prints mappings as a table or as JSON', async () => {
    expect((await cli('mappings')).out).toMatch(/^DOMAIN\s+RESOURCE.*\nnas\.corp\.test\s+r1\s+100\.96\.0\.1/);
    expect(JSON.parse((await cli('mappings', '--json')).out)).toEqual([
      expect.objectContaining({ domain: 'nas.corp.test' }),
    ]);
  });

  it('reports a helper error and exits 1', async () => {
    expect(await cli('status')).toEqual({ code: 1, out: '', err: 'postern: not connected' });
  });

  it('explains a helper that is not running', async () => {
    const result = await runCli(['status', '--socket', join(dir, 'missing.sock')], {
      out: () => {},
      err: (t) => expect(t).toContain('postern-helper is not running'),
      env: {},
    });
    expect(result).toBe(1);
  });

  it('exits 2 with usage on bad arguments', async () => {
    expect(await cli('frobnicate')).toMatchObject({ code: 2, err: expect.stringContaining('usage: postern') });
  });
});
