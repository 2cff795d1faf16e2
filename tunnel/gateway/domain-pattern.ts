/**
 * Resource address patterns (DESIGN.md "Matching"): an exact name, `*.suffix` (the apex and any depth below it, as
 * Firezone does) or `?.suffix` (exactly one label below the apex). Case-insensitive; a trailing dot is ignored.
 */

/** Lower-cases and strips one trailing dot; undefined when this is not a plausible host name. */
export function normalizeDomain(name: string): string | undefined {
  const lower = name.toLowerCase().replace(/\.$/, '');
  if (lower.length === 0 || lower.length > 253) return undefined;
  const labels = lower.split('.');
  for (const label of labels) {
    // Host names in the wild carry underscores (SRV-style names) and digits-only labels; accept them.
    if (label.length === 0 || label.length > 63 || !/^[a-z0-9_-]+$/.test(label)) return undefined;
  }
  return lower;
}

/** Whether `domain` (already normalized) is covered by `pattern`. */
export function domainMatchesPattern(pattern: string, domain: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  if (p.startsWith('*.')) {
    const apex = p.slice(2);
    return domain === apex || domain.endsWith(`.${apex}`);
  }
  if (p.startsWith('?.')) {
    const apex = p.slice(2);
    if (!domain.endsWith(`.${apex}`)) return false;
    const label = domain.slice(0, domain.length - apex.length - 1);
    return label.length > 0 && !label.includes('.');
  }
  return domain === p;
}
