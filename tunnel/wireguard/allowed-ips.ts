/**
 * Cryptokey routing's table (whitepaper §2): CIDR prefixes, each owned by one peer, with longest-prefix match for
 * IPv4 and IPv6. A binary trie per family, so a lookup costs at most 32 or 128 steps whatever the number of prefixes,
 * and reads the address straight out of the packet.
 */
import { formatCidr, ipToBytes, parseCidr } from '../../protocol/ip.js';

/** A prefix of the table, in the form the trie walks. */
export interface RoutePrefix {
  readonly family: 4 | 6;
  /** The network address with host bits cleared (4 or 16 bytes). */
  readonly bytes: Uint8Array;
  readonly prefix: number;
  /** Canonical text, e.g. `10.0.0.0/24`, `fd00::/64`. */
  readonly text: string;
}

export type RoutePrefixResult = { ok: true; prefix: RoutePrefix } | { ok: false; error: string };

/**
 * Parses an allowed IP as `wg` accepts it: `10.0.0.0/24`, `fd00::/64`, a bare address (a /32 or /128), host bits
 * cleared (`10.0.0.1/24` is `10.0.0.0/24`).
 */
export function parseRoutePrefix(text: string): RoutePrefixResult {
  const parsed = parseCidr(text, { allowHostBits: true, allowBareAddress: true });
  if (!parsed.ok) return parsed;
  const range = parsed.value;
  return {
    ok: true,
    prefix: { family: range.family, bytes: ipToBytes(range.network), prefix: range.prefix, text: formatCidr(range) },
  };
}

interface TrieNode<T> {
  zero?: TrieNode<T>;
  one?: TrieNode<T>;
  value?: T;
}

export class AllowedIps<T> {
  private readonly v4: TrieNode<T> = {};
  private readonly v6: TrieNode<T> = {};

  /** Makes `value` the owner of `cidr`, taking it from any previous owner; returns that previous owner. */
  insert(cidr: RoutePrefix, value: T): T | undefined {
    let node = cidr.family === 4 ? this.v4 : this.v6;
    for (let i = 0; i < cidr.prefix; i++) {
      const key = bitAt(cidr.bytes, 0, i) ? 'one' : 'zero';
      node = node[key] ??= {};
    }
    const previous = node.value;
    node.value = value;
    return previous;
  }

  /** Removes `cidr` if `value` owns it, pruning emptied branches. */
  remove(cidr: RoutePrefix, value: T): boolean {
    const path: TrieNode<T>[] = [];
    let node: TrieNode<T> | undefined = cidr.family === 4 ? this.v4 : this.v6;
    for (let i = 0; i < cidr.prefix && node; i++) {
      path.push(node);
      node = bitAt(cidr.bytes, 0, i) ? node.one : node.zero;
    }
    if (!node || node.value !== value) return false;
    delete node.value;
    for (let i = path.length - 1; i >= 0 && !node.value && !node.zero && !node.one; i--) {
      const parent: TrieNode<T> = path[i]!;
      if (parent.one === node) delete parent.one;
      else delete parent.zero;
      node = parent;
    }
    return true;
  }

  /** Longest-prefix match of the address of `family` at `offset` in `bytes`. */
  lookup(family: 4 | 6, bytes: Uint8Array, offset: number): T | undefined {
    let node: TrieNode<T> | undefined = family === 4 ? this.v4 : this.v6;
    const bits = family === 4 ? 32 : 128;
    let best = node.value;
    for (let i = 0; i < bits; i++) {
      node = bitAt(bytes, offset, i) ? node.one : node.zero;
      if (!node) return best;
      if (node.value !== undefined) best = node.value;
    }
    return best;
  }

  /** The owner of an IP packet's destination (outgoing routing); undefined for a non-IP packet or no match. */
  lookupDestination(packet: Uint8Array): T | undefined {
    const version = packet[0]! >> 4;
    if (version === 4 && packet.length >= 20) return this.lookup(4, packet, 16);
    if (version === 6 && packet.length >= 40) return this.lookup(6, packet, 24);
    return undefined;
  }

  /** The owner of an IP packet's source (the check on decrypted incoming packets). */
  lookupSource(packet: Uint8Array): T | undefined {
    const version = packet[0]! >> 4;
    if (version === 4 && packet.length >= 20) return this.lookup(4, packet, 12);
    if (version === 6 && packet.length >= 40) return this.lookup(6, packet, 8);
    return undefined;
  }
}

function bitAt(bytes: Uint8Array, offset: number, bit: number): number {
  return (bytes[offset + (bit >> 3)]! >> (7 - (bit & 7))) & 1;
}
