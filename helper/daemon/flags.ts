import { parseArgs } from 'node:util';
import { DEFAULT_HELPER_SOCKET, DEFAULT_MANAGED_SETTINGS_FILE, DnsMode } from '../../protocol/helper-api.js';

export const DAEMON_USAGE = `usage: postern-helper [options]

The privileged Postern client daemon: TUN device, routes, DNS, tunnel, and the local API for the app and CLI.

Options:
  --socket PATH        local API socket (default ${DEFAULT_HELPER_SOCKET})
  --state-dir DIR      state file and backups for crash recovery (default /var/lib/postern)
  --dns-mode MODE      auto | systemd-resolved | resolv-conf | none (default auto)
  --tun-name NAME      TUN interface name (default postern0)
  --log-level LEVEL    trace | debug | info | warn | error | fatal (default info)
  --log-file FILE      also write JSON logs to FILE (default: stderr only)
  --managed-file FILE  MDM settings (default ${DEFAULT_MANAGED_SETTINGS_FILE})
  --version, --help`;

export interface DaemonConfig {
  socket: string;
  stateDir: string;
  dnsMode: DnsMode;
  tunName: string;
  logLevel: LogLevel;
  logFile: string | undefined;
  managedFile: string;
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type DaemonArgs =
  | { ok: true; kind: 'run'; config: DaemonConfig }
  | { ok: true; kind: 'help' | 'version' }
  | { ok: false; error: string };

export function parseDaemonArgs(argv: readonly string[]): DaemonArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        socket: { type: 'string' },
        'state-dir': { type: 'string' },
        'dns-mode': { type: 'string' },
        'tun-name': { type: 'string' },
        'log-level': { type: 'string' },
        'log-file': { type: 'string' },
        'managed-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    }));
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
  if (values.help) return { ok: true, kind: 'help' };
  if (values.version) return { ok: true, kind: 'version' };
  const dnsMode = DnsMode.safeParse(values['dns-mode'] ?? 'auto');
  if (!dnsMode.success) return { ok: false, error: `--dns-mode must be one of ${DnsMode.options.join(', ')}` };
  const logLevel = values['log-level'] ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    return { ok: false, error: `--log-level must be one of ${LOG_LEVELS.join(', ')}` };
  }
  const tunName = values['tun-name'] ?? 'postern0';
  // Linux interface names: at most 15 bytes, no slash, colon or whitespace.
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(tunName))
    return { ok: false, error: `--tun-name ${JSON.stringify(tunName)} is not a valid interface name` };
  return {
    ok: true,
    kind: 'run',
    config: {
      socket: values.socket ?? DEFAULT_HELPER_SOCKET,
      stateDir: values['state-dir'] ?? '/var/lib/postern',
      dnsMode: dnsMode.data,
      tunName,
      logLevel: logLevel as LogLevel,
      logFile: values['log-file'],
      managedFile: values['managed-file'] ?? DEFAULT_MANAGED_SETTINGS_FILE,
    },
  };
}
