import type { Filter } from '../../protocol/resources.js';

/** The transport a flow uses, as far as resource filters are concerned. */
export type FilterProtocol = 'tcp' | 'udp' | 'icmp';

/**
 * Whether a resource's filters let a flow through: an empty list allows everything; otherwise some filter must name
 * the protocol and, for TCP/UDP, contain the destination port (ICMP filters cover echo and its errors alike).
 */
export function filtersAllow(filters: readonly Filter[], protocol: FilterProtocol, dstPort: number): boolean {
  if (filters.length === 0) return true;
  for (const filter of filters) {
    if (filter.protocol !== protocol) continue;
    if (filter.protocol === 'icmp') return true;
    if (dstPort >= filter.portStart && dstPort <= filter.portEnd) return true;
  }
  return false;
}
