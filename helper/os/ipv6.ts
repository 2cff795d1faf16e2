import { readFileSync } from 'node:fs';

/**
 * Whether the kernel lets `device` carry IPv6. Hardened laptops often turn IPv6 off (`disable_ipv6`, or
 * `ipv6.disable=1` at boot, where the per-device sysctl does not exist at all); there the kernel refuses an IPv6
 * address or route on the TUN, so the helper runs the tunnel IPv4-only instead of failing to come up.
 * Reads this network namespace's sysctl, as the kernel applies it.
 */
export function ipv6Enabled(device: string, read: (path: string) => string = (p) => readFileSync(p, 'utf8')): boolean {
  try {
    return read(`/proc/sys/net/ipv6/conf/${device}/disable_ipv6`).trim() === '0';
  } catch {
    return false;
  }
}
