import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfigFile, type LoadedConfig } from './config/file.js';
import type { PortalOptions } from './server.js';

export const USAGE = `usage: postern-portal [--config portal.yaml] [--listen HOST:PORT] [--public-url URL]
                     [--database URL] [--admin-token-file FILE] [--version] [--help]

The Postern control plane: sign-in, resources, policies, gateways, live updates.

  --config FILE            YAML config applied at start (create/update by name)
  --listen HOST:PORT       default 127.0.0.1:8080                 (env POSTERN_LISTEN)
  --public-url URL         how browsers and the IdP reach it      (env POSTERN_PUBLIC_URL)
  --database URL           pglite:DIR (default pglite:./var/portal) or postgres://…
                                                                  (env POSTERN_DATABASE_URL)
  --admin-token-file FILE  bearer token of the admin API          (env POSTERN_ADMIN_TOKEN_FILE,
                                                                   or the token in POSTERN_ADMIN_TOKEN)
Flags override the environment, which overrides the config file.`;

export type CliResult =
  { kind: 'run'; options: PortalOptions } | { kind: 'print'; text: string } | { kind: 'fail'; errors: string[] };

/** Turns argv, the environment and the config file into portal options, or into the errors to print. */
export async function resolveCli(argv: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        listen: { type: 'string' },
        'public-url': { type: 'string' },
        database: { type: 'string' },
        'admin-token-file': { type: 'string' },
        version: { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return { kind: 'fail', errors: [(err as Error).message, USAGE] };
  }
  if (values.help) return { kind: 'print', text: USAGE };
  let loaded: LoadedConfig | undefined;
  if (values.config !== undefined) {
    const result = await loadConfigFile(values.config);
    if (!result.ok) return { kind: 'fail', errors: result.errors };
    loaded = result.value;
  }
  const config = loaded?.config;
  const listenText = values.listen ?? env.POSTERN_LISTEN ?? config?.listen ?? '127.0.0.1:8080';
  const listen = parseListen(listenText);
  if (!listen) return { kind: 'fail', errors: [`--listen: "${listenText}" is not HOST:PORT`] };
  const tokenFile = values['admin-token-file'] ?? env.POSTERN_ADMIN_TOKEN_FILE ?? config?.admin_token_file;
  let adminToken = env.POSTERN_ADMIN_TOKEN;
  if (tokenFile !== undefined) {
    try {
      adminToken = (await readFile(tokenFile, 'utf8')).trim();
    } catch (err) {
      return { kind: 'fail', errors: [`admin token file ${tokenFile}: ${(err as Error).message}`] };
    }
  }
  if (adminToken !== undefined && adminToken.length < 16) {
    return { kind: 'fail', errors: ['the admin token must be at least 16 characters'] };
  }
  const database = values.database ?? env.POSTERN_DATABASE_URL ?? config?.database ?? 'pglite:./var/portal';
  const publicUrl = values['public-url'] ?? env.POSTERN_PUBLIC_URL ?? config?.public_url;
  const oidc = config?.oidc;
  return {
    kind: 'run',
    options: {
      database:
        database.startsWith('pglite:') && !database.includes('memory:')
          ? `pglite:${resolve(database.slice(7))}`
          : database,
      listen,
      ...(publicUrl !== undefined ? { publicUrl } : {}),
      ...(adminToken !== undefined ? { adminToken } : {}),
      ...(loaded ? { config: loaded } : {}),
      ...(oidc
        ? {
            oidc: {
              issuer: oidc.issuer,
              clientId: oidc.client_id,
              ...(oidc.client_secret !== undefined ? { clientSecret: oidc.client_secret } : {}),
              ...(oidc.groups_claim !== undefined ? { groupsClaim: oidc.groups_claim } : {}),
              ...(oidc.display_name !== undefined ? { displayName: oidc.display_name } : {}),
            },
          }
        : {}),
    },
  };
}

function parseListen(text: string): { host: string; port: number } | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2];
  if (!match || host === undefined || port > 65535) return undefined;
  return { host, port };
}
