import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveCli } from './cli.js';

const dir = mkdtempSync(join(tmpdir(), 'postern-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('resolveCli', () => {
  const config = file(
    'portal.yaml',
    'listen: "0.0.0.0:9000"\ndatabase: "postgres://db/postern"\npublic_url: "https://portal.corp.test"\n' +
      'oidc: { issuer: "https://idp.corp.test", client_id: postern, groups_claim: groups }\n',
  );
  const tokenFile = file('admin-token', 'from-the-file-0123456789\n');

  it('takes flags over the environment over the config file', async () => {
    const fromConfig = await resolveCli(['--config', config], {});
    expect(fromConfig).toMatchObject({
      kind: 'run',
      options: {
        listen: { host: '0.0.0.0', port: 9000 },
        database: 'postgres://db/postern',
        publicUrl: 'https://portal.corp.test',
        oidc: { issuer: 'https://idp.corp.test', clientId: 'postern', groupsClaim: 'groups' },
      },
    });
    const env = { POSTERN_LISTEN: '[::1]:7000', POSTERN_ADMIN_TOKEN: 'from-the-env-0123456789' };
    expect(await resolveCli(['--config', config], env)).toMatchObject({
      options: { listen: { host: '::1', port: 7000 }, adminToken: 'from-the-env-0123456789' },
    });
    const flags = [
      '--config',
      config,
      '--listen',
      '127.0.0.1:0',
      '--admin-token-file',
      tokenFile,
      '--database',
      'pglite:memory:',
    ];
    expect(await resolveCli(flags, env)).toMatchObject({
      options: {
        listen: { host: '127.0.0.1', port: 0 },
        adminToken: 'from-the-file-0123456789',
        database: 'pglite:memory:',
      },
    });
  });

  it('defaults to PGlite in ./var/portal on loopback 8080', async () => {
    const result = await resolveCli([], {});
    expect(result).toMatchObject({ kind: 'run', options: { listen: { host: '127.0.0.1', port: 8080 } } });
    expect(result.kind === 'run' && result.options.database).toBe(`pglite:${join(process.cwd(), 'var/portal')}`);
  });

  it('reports bad flags, bad listen addresses, short admin tokens and config errors', async () => {
    expect(await resolveCli(['--nope'], {})).toMatchObject({ kind: 'fail' });
    expect(await resolveCli(['--listen', 'nowhere'], {})).toMatchObject({
      kind: 'fail',
      errors: [expect.stringContaining('HOST:PORT')],
    });
    expect(await resolveCli([], { POSTERN_ADMIN_TOKEN: 'short' })).toMatchObject({ kind: 'fail' });
    const bad = file('bad.yaml', 'sites:\n  - nme: corp\n');
    expect(await resolveCli(['--config', bad], {})).toEqual({
      kind: 'fail',
      errors: [
        expect.stringMatching(/^bad\.yaml:2:5: sites\[0\]\.name: /),
        expect.stringMatching(/^bad\.yaml:2:5: sites\[0\]\.nme: Unrecognized key/),
      ],
    });
    expect(await resolveCli(['--help'], {})).toMatchObject({ kind: 'print' });
  });
});
