/**
 * Resource address patterns (DESIGN.md "Matching"): an exact name, `*.suffix` (the apex and any depth below it, as
 * Firezone does) or `?.suffix` (exactly one label below the apex). Case-insensitive; a trailing dot is ignored.
 */

/** Whether `domain` (normalized by tunnel/dns's `normalizeName`) is covered by `pattern`. */
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
