import type { ResourceInput, SettingsInput } from '../../protocol/portal-http.js';
import type { BlockRule, Filter, IpStack } from '../../protocol/resources.js';
import type { MappedRanges } from '../../protocol/portal-client.js';
import { canonicalIp, classifyAddress, parseDnsPattern } from './address.js';
import { parseFilter } from './filters.js';

/** A problem with one field of an input; `path` is relative to that input (`['filters', 2]`). */
export interface Issue {
  path: (string | number)[];
  message: string;
}

export interface NormalizedResource {
  name: string;
  type: 'dns' | 'cidr';
  address: string;
  siteName: string;
  filters: Filter[];
  ipStack: IpStack;
}

/** Classifies the address and parses the filters of a resource an admin wrote (YAML or admin API). */
export function normalizeResource(input: ResourceInput): { value?: NormalizedResource; issues: Issue[] } {
  const issues: Issue[] = [];
  const address = classifyAddress(input.address);
  if (!address.ok) issues.push({ path: ['address'], message: address.error });
  const filters: Filter[] = [];
  (input.filters ?? []).forEach((text, i) => {
    const filter = parseFilter(text);
    if (filter.ok) filters.push(filter.value);
    else issues.push({ path: ['filters', i], message: filter.error });
  });
  if (address.ok && address.value.type === 'cidr' && input.ip_stack !== undefined) {
    issues.push({ path: ['ip_stack'], message: 'ip_stack applies only to DNS resources, not to a CIDR or IP' });
  }
  if (!address.ok || issues.length > 0) return { issues };
  return {
    issues,
    value: {
      name: input.name,
      type: address.value.type,
      address: address.value.address,
      siteName: input.site,
      filters,
      ipStack: input.ip_stack ?? 'dual',
    },
  };
}

export interface NormalizedSettings {
  upstreamResolvers?: string[];
  blockRules?: BlockRule[];
  mappedRanges?: MappedRanges | null;
}

/** Upstream resolvers must be IP addresses; block rules are `"pattern"` or `"pattern = IP"`. */
export function normalizeSettings(input: SettingsInput): { value: NormalizedSettings; issues: Issue[] } {
  const issues: Issue[] = [];
  const value: NormalizedSettings = {};
  if (input.upstream_resolvers) {
    value.upstreamResolvers = [];
    input.upstream_resolvers.forEach((text, i) => {
      const ip = canonicalIp(text.trim());
      if (ip !== undefined) value.upstreamResolvers?.push(ip);
      else issues.push({ path: ['upstream_resolvers', i], message: `"${text}" is not an IP address` });
    });
  }
  if (input.blocked_domains) {
    value.blockRules = [];
    input.blocked_domains.forEach((text, i) => {
      const rule = parseBlockRule(text);
      if ('error' in rule) issues.push({ path: ['blocked_domains', i], message: rule.error });
      else value.blockRules?.push(rule);
    });
  }
  if (input.mapped_ranges !== undefined) value.mappedRanges = input.mapped_ranges;
  return { value, issues };
}

function parseBlockRule(text: string): BlockRule | { error: string } {
  const [patternText = '', answerText] = text.split('=', 2).map((part) => part.trim());
  const pattern = parseDnsPattern(patternText);
  if (!pattern.ok) return { error: pattern.error };
  if (answerText === undefined) return { pattern: pattern.value };
  const answer = canonicalIp(answerText);
  if (answer === undefined) return { error: `"${text}": the answer after "=" must be an IP address` };
  return { pattern: pattern.value, answer };
}
