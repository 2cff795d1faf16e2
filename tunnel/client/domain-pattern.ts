import { domainToASCII } from 'node:url';

/**
 * Domain patterns of DNS resources and block rules, and the table that finds the most specific pattern for a name.
 *
 * Syntax (DESIGN.md "Matching"):
 * - `app.corp.test` — exactly that name;
 * - `*.corp.test` — any name below `corp.test` at any depth, and `corp.test` itself (like Firezone);
 * - `?.corp.test` — exactly one label below `corp.test` (not the apex, not deeper).
 * Wildcards are only allowed as the whole first label; `*.*`, `a.*.b`, `foo*.b` are invalid. Names compare
 * case-insensitively (ASCII only, as DNS does), a trailing dot is ignored, Unicode labels of a pattern are converted
 * to punycode so `bücher.test` matches queries for `xn--bcher-kva.test`.
 *
 * Most specific wins: the pattern whose literal suffix is longest wins; for the same suffix an exact name beats `?.`,
 * which beats `*.`. Matching a name walks its suffixes from the longest, so it costs O(labels) map look-ups
 * whatever the number of patterns.
 */

export type DomainPattern =
  { kind: 'exact'; name: string } | { kind: 'one-label'; suffix: string } | { kind: 'any-depth'; suffix: string };

export type PatternError = { error: 'invalid_pattern'; pattern: string; reason: string };

/** The longest name DNS can carry, in presentation form without the trailing dot. */
export const MAX_NAME_LENGTH = 253;
const MAX_LABEL_LENGTH = 63;

/**
 * Lower-cases ASCII letters and drops one trailing dot; `undefined` when the name cannot be a DNS name (empty label,
 * label over 63 bytes, name over 253 bytes) or holds spaces or control characters (never a host name, so it
 * matches no resource and is forwarded as it is). Non-ASCII bytes are left as they are: a query carries punycode.
 */
export function normalizeName(name: string): string | undefined {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  if (/[\x00-\x20\x7f]/.test(trimmed)) return undefined;
  // DNS compares ASCII letters case-insensitively and nothing else, so non-ASCII characters keep their case.
  const ascii = isAscii(trimmed);
  const lower = ascii ? trimmed.toLowerCase() : trimmed.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
  const bytes = ascii ? lower.length : Buffer.byteLength(lower);
  if (bytes === 0 || bytes > MAX_NAME_LENGTH) return undefined;
  let labelStart = 0;
  for (let i = 0; i <= lower.length; i++) {
    if (i === lower.length || lower.charCodeAt(i) === 0x2e) {
      const length = ascii ? i - labelStart : Buffer.byteLength(lower.slice(labelStart, i));
      if (length === 0 || length > MAX_LABEL_LENGTH) return undefined;
      labelStart = i + 1;
    }
  }
  return lower;
}

export function parseDomainPattern(pattern: string): DomainPattern | PatternError {
  const fail = (reason: string): PatternError => ({ error: 'invalid_pattern', pattern, reason });
  const ascii = toAsciiLabels(pattern);
  if (ascii === undefined) return fail('not a valid internationalised name');
  const normalized = normalizeName(ascii);
  if (normalized === undefined) return fail('empty label, label over 63 bytes or name over 253 bytes');
  const firstDot = normalized.indexOf('.');
  const first = firstDot === -1 ? normalized : normalized.slice(0, firstDot);
  const rest = firstDot === -1 ? '' : normalized.slice(firstDot + 1);
  const wildcard = first === '*' || first === '?';
  if (hasWildcardCharacter(wildcard ? rest : normalized)) {
    return fail('a wildcard may only be the whole first label (`*.suffix` or `?.suffix`)');
  }
  if (!wildcard) return { kind: 'exact', name: normalized };
  if (rest === '') return fail('a wildcard needs a suffix');
  return first === '*' ? { kind: 'any-depth', suffix: rest } : { kind: 'one-label', suffix: rest };
}

/** The pattern in its canonical text form (what `parseDomainPattern` would read back). */
export function formatDomainPattern(pattern: DomainPattern): string {
  switch (pattern.kind) {
    case 'exact':
      return pattern.name;
    case 'one-label':
      return `?.${pattern.suffix}`;
    case 'any-depth':
      return `*.${pattern.suffix}`;
  }
}

export function matchesPattern(pattern: DomainPattern, name: string): boolean {
  const normalized = normalizeName(name);
  if (normalized === undefined) return false;
  switch (pattern.kind) {
    case 'exact':
      return normalized === pattern.name;
    case 'one-label': {
      const dot = normalized.indexOf('.');
      return dot > 0 && normalized.slice(dot + 1) === pattern.suffix;
    }
    case 'any-depth':
      return normalized === pattern.suffix || normalized.endsWith(`.${pattern.suffix}`);
  }
}

/** Patterns → values; `match(name)` returns the value of the most specific pattern matching `name`. */
export class DomainPatternTable<T> {
  readonly #exact = new Map<string, T>();
  readonly #oneLabel = new Map<string, T>();
  readonly #anyDepth = new Map<string, T>();

  /** Adds or replaces the value for `pattern`; returns the value it replaced. */
  set(pattern: DomainPattern, value: T): T | undefined {
    const [map, key] = this.#slot(pattern);
    const previous = map.get(key);
    map.set(key, value);
    return previous;
  }

  get(pattern: DomainPattern): T | undefined {
    const [map, key] = this.#slot(pattern);
    return map.get(key);
  }

  delete(pattern: DomainPattern): boolean {
    const [map, key] = this.#slot(pattern);
    return map.delete(key);
  }

  clear(): void {
    this.#exact.clear();
    this.#oneLabel.clear();
    this.#anyDepth.clear();
  }

  get size(): number {
    return this.#exact.size + this.#oneLabel.size + this.#anyDepth.size;
  }

  /** The value of the most specific pattern matching `name`, or `undefined` (also for names that are not valid). */
  match(name: string): T | undefined {
    const normalized = normalizeName(name);
    if (normalized === undefined) return undefined;
    return this.matchNormalized(normalized);
  }

  /** `match` for a name already passed through `normalizeName` (the stub resolver normalises once per query). */
  matchNormalized(name: string): T | undefined {
    const exact = this.#exact.get(name) ?? this.#anyDepth.get(name);
    if (exact !== undefined) return exact;
    let dot = name.indexOf('.');
    if (dot === -1) return undefined;
    const parent = name.slice(dot + 1);
    const oneLevel = this.#oneLabel.get(parent) ?? this.#anyDepth.get(parent);
    if (oneLevel !== undefined) return oneLevel;
    if (this.#anyDepth.size === 0) return undefined;
    for (dot = name.indexOf('.', dot + 1); dot !== -1; dot = name.indexOf('.', dot + 1)) {
      const deeper = this.#anyDepth.get(name.slice(dot + 1));
      if (deeper !== undefined) return deeper;
    }
    return undefined;
  }

  #slot(pattern: DomainPattern): [Map<string, T>, string] {
    switch (pattern.kind) {
      case 'exact':
        return [this.#exact, pattern.name];
      case 'one-label':
        return [this.#oneLabel, pattern.suffix];
      case 'any-depth':
        return [this.#anyDepth, pattern.suffix];
    }
  }
}

function hasWildcardCharacter(name: string): boolean {
  return name.includes('*') || name.includes('?');
}

function isAscii(text: string): boolean {
  return /^[\x00-\x7f]*$/.test(text);
}

/** Converts Unicode labels to punycode one label at a time (so `*` and `?` survive); ASCII passes unchanged. */
function toAsciiLabels(pattern: string): string | undefined {
  if (isAscii(pattern)) return pattern;
  const labels = pattern.split('.');
  const converted: string[] = [];
  for (const label of labels) {
    if (isAscii(label)) {
      converted.push(label);
      continue;
    }
    const ascii = domainToASCII(label);
    if (ascii === '') return undefined;
    converted.push(ascii);
  }
  return converted.join('.');
}
