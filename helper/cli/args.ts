import { parseArgs } from 'node:util';
import { DEFAULT_HELPER_SOCKET } from '../../protocol/helper-api.js';

export const CLI_USAGE = `usage: postern [--socket PATH] COMMAND [options]

Commands:
  connect --portal URL --token-file FILE   connect with a client token read from FILE
  sign-in --portal URL [--no-browser]      sign in through the browser, then connect
  status [--json]                          connection state, tunnel, DNS and routes
  resources [--json]                       the resources this account may use
  mappings [--json]                        domains answered with mapped IPs
  disconnect                               disconnect and restore DNS and routes

Options:
  --socket PATH   the helper's socket (default ${DEFAULT_HELPER_SOCKET}, or $POSTERN_SOCKET)
  --version, --help`;

export type CliCommand =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'connect'; socket: string; portalUrl: string; tokenFile: string }
  | { kind: 'sign-in'; socket: string; portalUrl: string; openBrowser: boolean }
  | { kind: 'status' | 'resources' | 'mappings'; socket: string; json: boolean }
  | { kind: 'disconnect'; socket: string };

export type CliParse = { ok: true; command: CliCommand } | { ok: false; error: string };

/** Parses `postern`'s arguments (without node and the script). Never throws; errors say what to fix. */
export function parseCliArgs(argv: readonly string[], env: NodeJS.ProcessEnv = {}): CliParse {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        socket: { type: 'string' },
        portal: { type: 'string' },
        'token-file': { type: 'string' },
        json: { type: 'boolean' },
        'no-browser': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  const { values, positionals } = parsed;
  if (values.help) return { ok: true, command: { kind: 'help' } };
  if (values.version) return { ok: true, command: { kind: 'version' } };
  const [name, ...extra] = positionals;
  if (name === undefined) return { ok: true, command: { kind: 'help' } };
  if (extra.length > 0) return { ok: false, error: `unexpected argument ${JSON.stringify(extra[0])}` };
  const socket = values.socket ?? env.POSTERN_SOCKET ?? DEFAULT_HELPER_SOCKET;

  const allowed: Record<string, readonly string[]> = {
    connect: ['portal', 'token-file'],
    'sign-in': ['portal', 'no-browser'],
    status: ['json'],
    resources: ['json'],
    mappings: ['json'],
    disconnect: [],
  };
  const options = allowed[name];
  if (!options) return { ok: false, error: `unknown command ${JSON.stringify(name)}` };
  const stray = Object.keys(values).find((k) => k !== 'socket' && !options.includes(k));
  if (stray) return { ok: false, error: `${name} does not take --${stray}` };

  switch (name) {
    case 'connect': {
      const portalUrl = checkPortalUrl(values.portal);
      if (!portalUrl.ok) return portalUrl;
      if (!values['token-file']) return { ok: false, error: 'connect needs --token-file FILE' };
      return {
        ok: true,
        command: { kind: 'connect', socket, portalUrl: portalUrl.url, tokenFile: values['token-file'] },
      };
    }
    case 'sign-in': {
      const portalUrl = checkPortalUrl(values.portal);
      if (!portalUrl.ok) return portalUrl;
      return {
        ok: true,
        command: { kind: 'sign-in', socket, portalUrl: portalUrl.url, openBrowser: !values['no-browser'] },
      };
    }
    case 'disconnect':
      return { ok: true, command: { kind: 'disconnect', socket } };
    default:
      return {
        ok: true,
        command: { kind: name as 'status' | 'resources' | 'mappings', socket, json: values.json ?? false },
      };
  }
}

function checkPortalUrl(value: string | undefined): { ok: true; url: string } | { ok: false; error: string } {
  if (!value) return { ok: false, error: 'missing --portal URL' };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, error: `--portal ${JSON.stringify(value)} is not a URL` };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, error: `--portal must be an http(s) URL, not ${url.protocol}` };
  }
  return { ok: true, url: url.toString() };
}
