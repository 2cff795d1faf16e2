import type { Filter } from '../../protocol/resources.js';
import { fail, ok, type Parsed } from './result.js';

/** `tcp/80`, `udp/5000-5010`, `tcp` (all ports), `icmp` → a `Filter`. */
export function parseFilter(input: string): Parsed<Filter> {
  const text = input.trim().toLowerCase();
  if (text === 'icmp') return ok({ protocol: 'icmp' });
  const match = /^(tcp|udp)(?:\/(\d{1,5})(?:-(\d{1,5}))?)?$/.exec(text);
  if (!match) return fail(`"${input}" is not a filter (tcp/PORT, tcp/FROM-TO, udp/…, tcp, udp or icmp)`);
  const protocol = match[1] as 'tcp' | 'udp';
  if (match[2] === undefined) return ok({ protocol, portStart: 1, portEnd: 65535 });
  const portStart = Number(match[2]);
  const portEnd = match[3] === undefined ? portStart : Number(match[3]);
  if (portStart < 1 || portEnd > 65535) return fail(`"${input}": ports are 1-65535`);
  if (portStart > portEnd) return fail(`"${input}": the range starts after it ends`);
  return ok({ protocol, portStart, portEnd });
}
