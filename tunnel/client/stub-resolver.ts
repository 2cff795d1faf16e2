import {
  answerAddresses,
  answerNoData,
  answerPtr,
  answerRcode,
  DnsClass,
  DnsType,
  Rcode,
  type DnsQuery,
} from '../dns/index.js';
import { ipFromReverseName, parseIp, type IpAddress } from '../../protocol/ip.js';
import type { DnsResource } from '../../protocol/resources.js';
import type { DomainMapping, MappedIpAllocator } from './mapped-ips.js';
import type { ResourceTable } from './resource-table.js';

/**
 * The stub resolver's decision for one parsed query (DESIGN.md "Stub resolver"), in this order:
 * 1. `use-application-dns.net` → NXDOMAIN (browsers then keep DoH off and use the system resolver);
 * 2. a block rule → REFUSED, or its static address for A/AAAA of that family (NOERROR without data otherwise);
 * 3. A/AAAA for a name a granted DNS resource matches → its 4 mapped IPv4 or IPv6 addresses, TTL 1 s, filtered by
 *    the resource's IP stack (empty NOERROR for the other family); HTTPS → empty NOERROR so applications fall back
 *    to A/AAAA (an HTTPS record could carry real address hints that bypass the tunnel);
 * 4. PTR for a mapped IP → the domain (NXDOMAIN for an unassigned address in the mapped ranges);
 * 5. anything else → forwarded unchanged to the sentinel's upstream.
 */

export const MAPPED_TTL = 1;
export const BLOCK_RULE_TTL = 60;
export const DOH_CANARY = 'use-application-dns.net';

export type StubAction =
  'canary' | 'blocked' | 'mapped' | 'nodata' | 'ptr' | 'exhausted' | 'forwarded' | 'malformed' | 'upstream_failed';

export type StubDecision =
  | {
      kind: 'answer';
      response: Uint8Array;
      action: StubAction;
      /** Set when the query was for a DNS resource's name (A/AAAA/HTTPS). */
      resource?: DnsResource;
      mapping?: DomainMapping;
      /** The mapping was created by this query. */
      created?: boolean;
      /** Why the answer is SERVFAIL (`exhausted`). */
      message?: string;
    }
  | { kind: 'forward'; resource?: DnsResource };

export interface StubContext {
  resources: ResourceTable;
  allocator: MappedIpAllocator;
}

export function resolveLocally(
  query: DnsQuery,
  transport: 'udp' | 'tcp',
  context: StubContext,
  now: number,
): StubDecision {
  const { name, type } = query.question;
  const options = { transport };
  if (name === DOH_CANARY) {
    return { kind: 'answer', action: 'canary', response: answerRcode(query, Rcode.NXDOMAIN, options) };
  }
  const blockRule = context.resources.matchBlockRule(name);
  if (blockRule !== undefined) {
    if (blockRule.answer === undefined) {
      return { kind: 'answer', action: 'blocked', response: answerRcode(query, Rcode.REFUSED, options) };
    }
    const parsed = parseIp(blockRule.answer);
    const addresses: IpAddress[] = parsed.ok ? [parsed.value] : [];
    return { kind: 'answer', action: 'blocked', response: answerAddresses(query, addresses, BLOCK_RULE_TTL, options) };
  }
  if (query.question.class !== DnsClass.IN) return { kind: 'forward' };

  const resource = context.resources.matchDomain(name);
  if (resource !== undefined) {
    if (type === DnsType.HTTPS) {
      return { kind: 'answer', action: 'nodata', resource, response: answerNoData(query, options) };
    }
    if (type !== DnsType.A && type !== DnsType.AAAA) return { kind: 'forward', resource };
    const assigned = context.allocator.assign(name, now);
    if (!assigned.ok) {
      return {
        kind: 'answer',
        action: 'exhausted',
        resource,
        message: assigned.message,
        response: answerRcode(query, Rcode.SERVFAIL, options),
      };
    }
    const { mapping, created } = assigned;
    mapping.lastUsedAt = now;
    const addresses: IpAddress[] = [];
    if (resource.ipStack !== 'ipv6') addresses.push(...mapping.ipv4);
    if (resource.ipStack !== 'ipv4') addresses.push(...mapping.ipv6);
    return {
      kind: 'answer',
      action: 'mapped',
      resource,
      mapping,
      created,
      response: answerAddresses(query, addresses, MAPPED_TTL, options),
    };
  }

  if (type === DnsType.PTR) {
    const address = ipFromReverseName(name);
    if (address !== undefined && context.allocator.inRanges(address)) {
      const mapping = context.allocator.mappingOf(address);
      if (mapping === undefined) {
        return { kind: 'answer', action: 'ptr', response: answerRcode(query, Rcode.NXDOMAIN, options) };
      }
      return {
        kind: 'answer',
        action: 'ptr',
        mapping,
        response: answerPtr(query, mapping.domain, MAPPED_TTL, options),
      };
    }
  }
  return { kind: 'forward' };
}
