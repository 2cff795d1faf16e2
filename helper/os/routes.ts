import { cidrContains, formatCidr, parseCidr, parseIp } from '../../protocol/ip.js';
import type { Logger } from 'pino';
import { mustRun, type RunCommand } from './command.js';
import type { RouteRecord, RuleRecord, StateFile } from './state-file.js';

/**
 * Routing into the TUN without looping the helper's own traffic.
 *
 * Only specific prefixes go into the TUN (mapped ranges, sentinels, CIDR resources), never a default route, so the
 * helper's sockets to gateways, upstream resolvers and the portal normally take the host's uplink on their own. The
 * prefixes live in a routing table of ours that a policy rule consults before `main`; the one case that could loop —
 * a CIDR resource covering an address the helper itself talks to — gets a higher-priority rule `to <addr> lookup
 * main`, so that address keeps following the host's routing (which also follows the uplink as it changes), and an
 * `unreachable` rule right after it, so that without a route in main the lookup ends there instead of falling
 * through into the TUN. The
 * alternative, an fwmark on the helper's sockets, needs SO_MARK, which Node does not expose.
 *
 * Every route and rule is recorded in the state file before it is added, and removed on disconnect or at the next
 * start after a crash. Always `ip` with argument arrays.
 */

export const ROUTE_TABLE = 28783; // "po"
export const RULE_PRIORITY_BYPASS = 5180;
export const RULE_PRIORITY_TABLE = 5190;

export class RouteControl {
  constructor(
    private readonly options: {
      run: RunCommand;
      state: StateFile;
      tunName: string;
      log: Logger;
      table?: number;
      /** False where the TUN cannot carry IPv6 (`ipv6.ts`): IPv6 prefixes and rules are left out. */
      ipv6?: boolean;
    },
  ) {}

  /** The prefixes currently routed into the TUN. */
  get routes(): string[] {
    return this.options.state.state.routes.map((r) => r.prefix);
  }

  /**
   * Makes the routes exactly `prefixes` (into the TUN) and keeps every address in `bypass` (gateway endpoints,
   * upstream resolvers, the portal) out of the TUN. Rules first, so no moment exists in which our own traffic loops.
   */
  async set(prefixes: readonly string[], bypass: readonly string[]): Promise<void> {
    const { tunName, state } = this.options;
    const table = this.options.table ?? ROUTE_TABLE;
    const families = this.options.ipv6 === false ? [4 as const] : [4 as const, 6 as const];
    const routes = uniqueBy(
      prefixes.map((p) => ({ ...normalizePrefix(p), dev: tunName, table })).filter((r) => families.includes(r.family)),
      (r) => r.prefix,
    );
    const covered = bypass.filter((a) => routes.some((r) => prefixContains(r.prefix, a)));
    const rules: RuleRecord[] = uniqueBy(
      [
        ...covered.flatMap((a) => [
          { ...hostPrefix(a), priority: RULE_PRIORITY_BYPASS, table: 'main' as const },
          // Without a route in main (offline, uplink gone) the lookup would fall through to our table and loop.
          { ...hostPrefix(a), priority: RULE_PRIORITY_BYPASS + 1, table: 'unreachable' as const },
        ]),
        ...families.map((family) => ({ family, priority: RULE_PRIORITY_TABLE, table })),
      ],
      ruleKey,
    );

    const current = state.state;
    const newRules = rules.filter((r) => !current.rules.some((c) => ruleKey(c) === ruleKey(r)));
    const newRoutes = routes.filter((r) => !current.routes.some((c) => routeKey(c) === routeKey(r)));
    const staleRules = current.rules.filter((c) => !rules.some((r) => ruleKey(c) === ruleKey(r)));
    const staleRoutes = current.routes.filter((c) => !routes.some((r) => routeKey(c) === routeKey(r)));

    state.update((s) => ({ ...s, rules: [...s.rules, ...newRules], routes: [...s.routes, ...newRoutes] }));
    for (const rule of newRules) await this.addRule(rule);
    for (const route of newRoutes) await mustRun(this.options.run, 'ip', routeArgs('replace', route));
    for (const route of staleRoutes) await deleteRoute(this.options.run, route, this.options.log);
    for (const rule of staleRules) await deleteRule(this.options.run, rule, this.options.log);
    state.update((s) => ({ ...s, rules, routes }));
    if (newRoutes.length + staleRoutes.length + newRules.length + staleRules.length > 0) {
      this.options.log.info({ routes: routes.map((r) => r.prefix), bypass: covered }, 'routes updated');
    }
  }

  /** Removes every route and rule this helper added. */
  async removeAll(): Promise<void> {
    await removeRecorded(this.options.run, this.options.state, this.options.log);
  }

  private async addRule(rule: RuleRecord): Promise<void> {
    // `ip rule add` happily adds duplicates: delete a leftover copy first so exactly one exists.
    await this.options.run('ip', ruleArgs('del', rule));
    await mustRun(this.options.run, 'ip', ruleArgs('add', rule));
  }
}

/** Removes the routes and rules the state file records (this run's, or a crashed run's at start-up). */
export async function removeRecorded(run: RunCommand, state: StateFile, log: Logger): Promise<void> {
  const { routes, rules } = state.state;
  for (const route of routes) await deleteRoute(run, route, log);
  for (const rule of rules) await deleteRule(run, rule, log);
  state.update((s) => ({ ...s, routes: [], rules: [] }));
}

async function deleteRoute(run: RunCommand, route: RouteRecord, log: Logger): Promise<void> {
  const result = await run('ip', routeArgs('del', route));
  // Routes through the TUN vanish with the device, so "not there" is the common, fine answer.
  if (result.code !== 0) log.debug({ route, stderr: result.stderr.trim() }, 'route already gone');
}

async function deleteRule(run: RunCommand, rule: RuleRecord, log: Logger): Promise<void> {
  const result = await run('ip', ruleArgs('del', rule));
  if (result.code !== 0) log.debug({ rule, stderr: result.stderr.trim() }, 'rule already gone');
}

export function routeArgs(verb: 'replace' | 'del', r: RouteRecord): string[] {
  return [`-${r.family}`, 'route', verb, r.prefix, 'dev', r.dev, 'table', String(r.table)];
}

export function ruleArgs(verb: 'add' | 'del', r: RuleRecord): string[] {
  return [
    `-${r.family}`,
    'rule',
    verb,
    ...(r.to ? ['to', r.to] : []),
    ...(r.table === 'unreachable' ? ['unreachable'] : ['lookup', String(r.table)]),
    'priority',
    String(r.priority),
  ];
}

/** `10.1.2.3/8` → `10.0.0.0/8`; a bare address becomes a host prefix. Throws on garbage (callers pass validated input). */
export function normalizePrefix(prefix: string): { family: 4 | 6; prefix: string } {
  const parsed = parseCidr(withoutZone(prefix), { allowHostBits: true, allowBareAddress: true });
  if (!parsed.ok) throw new Error(parsed.error);
  return { family: parsed.value.family, prefix: formatCidr(parsed.value) };
}

function hostPrefix(address: string): { family: 4 | 6; to: string } {
  const { family, prefix } = normalizePrefix(address);
  return { family, to: prefix };
}

/** Whether `address` (optionally with an IPv6 zone) lies in `prefix`; false for anything unparsable. */
export function prefixContains(prefix: string, address: string): boolean {
  const range = parseCidr(prefix, { allowHostBits: true });
  const addr = parseIp(withoutZone(address));
  return range.ok && addr.ok && cidrContains(range.value, addr.value);
}

/** A link-local IPv6 address may carry its zone (`fe80::1%eth0`); routing rules take the bare address. */
function withoutZone(address: string): string {
  return address.split('%')[0]!;
}

const routeKey = (r: RouteRecord) => `${r.prefix} ${r.dev} ${r.table}`;
const ruleKey = (r: RuleRecord) => `${r.family} ${r.to ?? '*'} ${r.table} ${r.priority}`;

function uniqueBy<T>(items: T[], key: (t: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((i) => !seen.has(key(i)) && seen.add(key(i)));
}
