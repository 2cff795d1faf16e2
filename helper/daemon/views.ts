import type { Mapping, ResourceView } from '../../protocol/helper-api.js';
import type { MappingView } from '../../tunnel/client/index.js';
import type { ClientCore } from './client-core.js';

/** The client core's views in the local API's shapes (null rather than undefined: JSON has no undefined). */

export function toMapping(m: MappingView): Mapping {
  return {
    domain: m.domain,
    resourceId: m.resourceId ?? null,
    ipv4: m.ipv4,
    ipv6: m.ipv6,
    gatewayId: m.gatewayId ?? null,
    natState: m.natState ?? 'none',
    lastUsedAt: m.lastUsedAt,
  };
}

export function toResourceViews(core: ClientCore): ResourceView[] {
  return core.resources().map((r) => ({ resource: r.resource, status: r.status, gatewayId: r.gatewayId ?? null }));
}

/** Flattens the core's counters (`drops` by reason become `drops.<reason>`). */
export function flattenStats(stats: object): Record<string, number> {
  const flat: Record<string, number> = {};
  for (const [key, value] of Object.entries(stats) as [string, unknown][]) {
    if (typeof value === 'number') flat[key] = value;
    else if (typeof value === 'object' && value !== null) {
      for (const [inner, n] of Object.entries(value) as [string, unknown][]) {
        if (typeof n === 'number') flat[`${key}.${inner}`] = n;
      }
    }
  }
  return flat;
}
