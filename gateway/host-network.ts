import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/**
 * The host side of the gateway's forwarding design (see README.md): routes for the tunnel ranges into the TUN, IP
 * forwarding on, and an nftables table of the gateway's own that masquerades what the TUN sends out (one static
 * egress address) and lets into the TUN only replies to flows that came out of it. `remove()` undoes all of it:
 * deletes the table and the routes and puts the forwarding sysctls back as they were.
 */

export const TUNNEL_RANGES = { ipv4: '100.64.0.0/11', ipv6: 'fd00:2021:1111::/107' } as const;

const FORWARDING = ['/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/ipv6/conf/all/forwarding'] as const;

export class HostNetwork {
  private readonly table: string;
  private saved = new Map<string, string>();
  private installed = false;

  constructor(private readonly tun: string) {
    // nft identifiers: letters, digits, underscore.
    this.table = `postern_gateway_${tun.replace(/[^A-Za-z0-9_]/g, '_')}`;
  }

  async install(): Promise<void> {
    for (const path of FORWARDING) {
      this.saved.set(path, readFileSync(path, 'utf8').trim());
      writeFileSync(path, '1');
    }
    await exec('ip', ['route', 'replace', TUNNEL_RANGES.ipv4, 'dev', this.tun]);
    await exec('ip', ['-6', 'route', 'replace', TUNNEL_RANGES.ipv6, 'dev', this.tun]);
    // A stale table of an earlier run with this TUN name goes first, so the rules are exactly these.
    await exec('nft', ['delete', 'table', 'inet', this.table]).catch(() => undefined);
    await nft(this.ruleset());
    this.installed = true;
  }

  async remove(): Promise<void> {
    if (this.installed) {
      await exec('nft', ['delete', 'table', 'inet', this.table]).catch(() => undefined);
      await exec('ip', ['route', 'del', TUNNEL_RANGES.ipv4, 'dev', this.tun]).catch(() => undefined);
      await exec('ip', ['-6', 'route', 'del', TUNNEL_RANGES.ipv6, 'dev', this.tun]).catch(() => undefined);
      this.installed = false;
    }
    for (const [path, value] of this.saved) {
      try {
        writeFileSync(path, value);
      } catch {
        // best effort at exit
      }
    }
    this.saved = new Map();
  }

  get tableName(): string {
    return this.table;
  }

  private ruleset(): string {
    const tun = JSON.stringify(this.tun);
    return `table inet ${this.table} {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr ${TUNNEL_RANGES.ipv4} oifname != ${tun} masquerade
    ip6 saddr ${TUNNEL_RANGES.ipv6} oifname != ${tun} masquerade
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    # Path MTU: the tunnel is smaller than the uplink; clamp TCP's MSS both ways.
    oifname ${tun} tcp flags syn tcp option maxseg size set rt mtu
    iifname ${tun} tcp flags syn tcp option maxseg size set rt mtu
    # Nothing from the network enters the tunnel unless it answers a flow a client started.
    oifname ${tun} ct state established,related accept
    oifname ${tun} drop
  }
}
`;
  }
}

async function nft(ruleset: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = execFile('nft', ['-f', '-'], (error, _stdout, stderr) => {
      if (error) reject(new Error(`nft: ${stderr.trim() || error.message}`));
      else resolve();
    });
    child.stdin?.end(ruleset);
  });
}
