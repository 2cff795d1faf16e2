import type { Namespace } from '../netns/index.js';
import { NamedHttpReply } from './plan.js';

/**
 * What an application on a host of the topology does — `curl` and `dig`, run inside the host's namespace — with the
 * results read into plain values the tests assert on.
 */

export interface HttpResult {
  /** 0 when no HTTP answer came (curl's error is in `error`). */
  status: number;
  reply?: NamedHttpReply;
  error?: string;
}

export interface CurlOptions {
  family?: 4 | 6;
  maxTimeSeconds?: number;
  /** curl's `--resolve HOST:PORT:ADDRESS`: connect to ADDRESS without a DNS query. */
  resolve?: string;
}

export async function curl(host: Namespace, url: string, options: CurlOptions = {}): Promise<HttpResult> {
  const args = ['-sS', '--max-time', String(options.maxTimeSeconds ?? 5), '-w', '\n%{http_code}'];
  if (options.family) args.push(options.family === 4 ? '-4' : '-6');
  if (options.resolve) args.push('--resolve', options.resolve);
  const { stdout, stderr, code } = await host.exec('curl', [...args, url], {
    allowFailure: true,
    timeoutMs: ((options.maxTimeSeconds ?? 5) + 5) * 1000,
  });
  const cut = stdout.lastIndexOf('\n');
  const status = Number(stdout.slice(cut + 1)) || 0;
  const body = stdout.slice(0, cut).trim();
  if (code !== 0 || status === 0) return { status, error: stderr.trim() || `curl exit ${code}` };
  const parsed = NamedHttpReply.safeParse(safeJson(body));
  return parsed.success ? { status, reply: parsed.data } : { status, error: `unexpected body: ${body.slice(0, 200)}` };
}

export interface DnsAnswer {
  /** NOERROR, NXDOMAIN, SERVFAIL, REFUSED…, or TIMEOUT when nothing answered. */
  rcode: string;
  /** The A/AAAA addresses of the answer section, in order. */
  addresses: string[];
}

/** One query with `dig` through the host's resolv.conf (or `server`), one try. */
export async function dig(host: Namespace, name: string, type: 'A' | 'AAAA', server?: string): Promise<DnsAnswer> {
  const args = ['+time=3', '+tries=1', '+noall', '+comments', '+answer', name, type];
  if (server) args.unshift(`@${server}`);
  const { stdout } = await host.exec('dig', args, { allowFailure: true });
  const rcode = /status: ([A-Z]+)/.exec(stdout)?.[1] ?? 'TIMEOUT';
  const addresses = stdout
    .split('\n')
    .filter((line) => !line.startsWith(';'))
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[3] === type && f[4] !== undefined)
    .map((f) => f[4]!);
  return { rcode, addresses };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
