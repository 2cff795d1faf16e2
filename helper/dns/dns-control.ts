import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Logger } from 'pino';
import type { DnsMode } from '../../protocol/helper-api.js';
import type { RunCommand } from '../os/command.js';
import type { DnsRecord, StateFile } from '../os/state-file.js';
import { parseResolvConf } from './resolv-conf.js';
import { ResolvConfControl, restoreResolvConf } from './resolv-conf-control.js';
import { ResolvedControl, revertResolvedLink } from './resolved-control.js';

/** Points the host's DNS at the sentinels and back. One implementation per mechanism. */
export interface DnsControl {
  readonly mode: Exclude<DnsMode, 'auto'>;
  /** The host's own upstream resolvers (not the sentinels), as the OS has them now. */
  readHostResolvers(): Promise<string[]>;
  /** Makes the sentinels the host's DNS servers; called again whenever they change. */
  apply(sentinels: readonly string[]): Promise<void>;
  /** Puts the host's configuration back exactly as it was before `apply`. */
  restore(): Promise<void>;
  /** Called when the OS changed its own resolvers while we were active (ours is re-applied already). */
  onHostResolversChanged(listener: (resolvers: string[]) => void): void;
  /** Stops watching without restoring. */
  close(): void;
}

export const RESOLV_CONF = '/etc/resolv.conf';
export const RESOLVED_UPSTREAMS = '/run/systemd/resolve/resolv.conf';

export interface DnsControlOptions {
  mode: DnsMode;
  tunName: string;
  state: StateFile;
  log: Logger;
  run: RunCommand;
  resolvConfPath?: string;
  resolvedUpstreamsPath?: string;
}

export function createDnsControl(options: DnsControlOptions): DnsControl {
  const resolvConfPath = options.resolvConfPath ?? RESOLV_CONF;
  const mode = options.mode === 'auto' ? detectDnsMode(resolvConfPath) : options.mode;
  options.log.info({ mode, requested: options.mode }, 'DNS control mode');
  if (mode === 'systemd-resolved') {
    return new ResolvedControl({
      link: options.tunName,
      run: options.run,
      upstreamsPath: options.resolvedUpstreamsPath ?? RESOLVED_UPSTREAMS,
      log: options.log,
      state: options.state,
    });
  }
  if (mode === 'resolv-conf')
    return new ResolvConfControl({ path: resolvConfPath, state: options.state, log: options.log });
  return new NoDnsControl(resolvConfPath);
}

/**
 * systemd-resolved is in charge when resolv.conf points at its stub (a link into /run/systemd/resolve/ or a
 * 127.0.0.53 nameserver) and `resolvectl` exists. Judging by resolv.conf rather than by "is resolved running" keeps a
 * helper inside a network namespace with its own resolv.conf from reconfiguring the host's resolved over D-Bus.
 */
export function detectDnsMode(
  resolvConfPath: string,
  path = process.env.PATH ?? '',
): 'systemd-resolved' | 'resolv-conf' {
  let pointsAtResolved = false;
  try {
    if (lstatSync(resolvConfPath).isSymbolicLink() && readlinkSync(resolvConfPath).includes('/systemd/resolve/')) {
      pointsAtResolved = true;
    } else {
      const { nameservers } = parseResolvConf(readFileSync(resolvConfPath, 'utf8'));
      pointsAtResolved = nameservers.length > 0 && nameservers.every((n) => n === '127.0.0.53' || n === '127.0.0.54');
    }
  } catch {
    return 'resolv-conf';
  }
  const hasResolvectl = path.split(delimiter).some((dir) => dir && existsSync(join(dir, 'resolvectl')));
  return pointsAtResolved && hasResolvectl ? 'systemd-resolved' : 'resolv-conf';
}

/** Undoes what a crashed run did to DNS, from its state-file record. */
export async function recoverDns(
  record: DnsRecord,
  options: { state: StateFile; log: Logger; run: RunCommand },
): Promise<void> {
  if (record.mode === 'resolv-conf') return restoreResolvConf(record, options.state, options.log);
  await revertResolvedLink(options.run, record.link, options.log);
  options.state.update((s) => ({ ...s, dns: null }));
}

/** `--dns-mode none`: the host's DNS is left alone (queries reach the sentinels only if something points at them). */
class NoDnsControl implements DnsControl {
  readonly mode = 'none';
  constructor(private readonly resolvConfPath: string) {}
  async readHostResolvers(): Promise<string[]> {
    try {
      return parseResolvConf(readFileSync(this.resolvConfPath, 'utf8')).nameservers;
    } catch {
      return [];
    }
  }
  async apply(): Promise<void> {}
  async restore(): Promise<void> {}
  onHostResolversChanged(): void {}
  close(): void {}
}
