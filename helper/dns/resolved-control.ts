import { type FSWatcher, readFileSync, watch } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { mustRun, type RunCommand } from '../os/command.js';
import type { StateFile } from '../os/state-file.js';
import type { DnsControl } from './dns-control.js';
import { parseResolvConf } from './resolv-conf.js';

/**
 * DNS control through systemd-resolved: the sentinels become the TUN link's DNS servers with the routing domain `~.`,
 * so resolved sends every query there. The settings belong to the link, so they vanish with the TUN device when the
 * helper dies; `resolvectl revert` is still called on restore and recovery in case the link outlived us.
 *
 * The host's upstreams are read from resolved's own list of uplink servers (`/run/systemd/resolve/resolv.conf`),
 * minus our sentinels, and re-read when that file changes.
 */
export class ResolvedControl implements DnsControl {
  readonly mode = 'systemd-resolved';
  private sentinels: string[] = [];
  private resolvers: string[] = [];
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private listener: (resolvers: string[]) => void = () => {};

  constructor(
    private readonly options: {
      link: string;
      run: RunCommand;
      upstreamsPath: string;
      log: Logger;
      state: StateFile;
      checkIntervalMs?: number;
    },
  ) {}

  onHostResolversChanged(listener: (resolvers: string[]) => void): void {
    this.listener = listener;
  }

  async readHostResolvers(): Promise<string[]> {
    let text = '';
    try {
      text = readFileSync(this.options.upstreamsPath, 'utf8');
    } catch (e) {
      this.options.log.warn({ err: e, path: this.options.upstreamsPath }, 'cannot read systemd-resolved upstreams');
    }
    this.resolvers = parseResolvConf(text).nameservers.filter((n) => !this.sentinels.includes(n));
    return this.resolvers;
  }

  async apply(sentinels: readonly string[]): Promise<void> {
    const { link, run, state } = this.options;
    state.update((s) => ({ ...s, dns: { mode: 'systemd-resolved', link } }));
    this.sentinels = [...sentinels];
    await mustRun(run, 'resolvectl', ['dns', link, ...sentinels]);
    await mustRun(run, 'resolvectl', ['domain', link, '~.']);
    // Not every resolved version has `default-route`; `~.` alone already routes all names to the link.
    await run('resolvectl', ['default-route', link, 'true']);
    this.startWatching();
  }

  async restore(): Promise<void> {
    this.close();
    if (this.options.state.state.dns?.mode !== 'systemd-resolved') return;
    await revertResolvedLink(this.options.run, this.options.link, this.options.log);
    this.options.state.update((s) => ({ ...s, dns: null }));
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    clearInterval(this.timer);
  }

  private startWatching(): void {
    this.close();
    const check = () => {
      const before = this.resolvers.join(' ');
      void this.readHostResolvers().then((now) => {
        if (now.join(' ') !== before) this.listener(now);
      });
    };
    try {
      this.watcher = watch(dirname(this.options.upstreamsPath), { persistent: false }, check);
      this.watcher.on('error', () => {});
    } catch {
      // the timer still checks
    }
    this.timer = setInterval(check, this.options.checkIntervalMs ?? 5000);
    this.timer.unref();
  }
}

export async function revertResolvedLink(run: RunCommand, link: string, log: Logger): Promise<void> {
  const result = await run('resolvectl', ['revert', link]);
  // After a crash the TUN link is usually gone, and its settings with it: that is success too.
  if (result.code !== 0) log.debug({ link, stderr: result.stderr.trim() }, 'resolvectl revert failed (link gone?)');
}
