import { Resolver } from 'node:dns/promises';
import type { RecordType, ResolveAnswer } from '../tunnel/gateway/resolutions.js';

/**
 * Resolves names for the gateway with node's c-ares resolver: the configured servers (`--dns`), or the system's
 * (`/etc/resolv.conf`). Answers carry TTLs. "No such name" and "no records of this type" are empty answers (the
 * domain is simply inactive); anything else (timeout, SERVFAIL, refused) is an error.
 */
export class GatewayResolver {
  private readonly resolver: Resolver;

  constructor(servers: readonly string[], timeoutMs = 10_000) {
    // c-ares retries with a doubling timeout; two tries fit in the gateway's own 10 s limit.
    this.resolver = new Resolver({ timeout: Math.floor(timeoutMs / 3), tries: 2 });
    if (servers.length > 0) this.resolver.setServers([...servers]);
  }

  async resolve(domain: string, type: RecordType): Promise<ResolveAnswer> {
    try {
      const records =
        type === 'A'
          ? await this.resolver.resolve4(domain, { ttl: true })
          : await this.resolver.resolve6(domain, { ttl: true });
      return { ok: true, records: records.map((r) => ({ address: r.address, ttl: r.ttl })) };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      if (code === 'ENODATA' || code === 'ENOTFOUND') return { ok: true, records: [] };
      return { ok: false, error: code };
    }
  }

  cancel(): void {
    this.resolver.cancel();
  }
}
