import { domainToASCII } from 'node:url';
import { normalizeName } from './name.js';

/**
 * Domain patterns of DNS resources and block rules, and the table that finds the most specific pattern for a name.
 *
 * Syntax (DESIGN.md "Matching"):
 * - `app.corp.test` — exactly that name;
 * - `*.corp.test` — any name below `corp.test` at any depth, and `corp.test` itself (like Firezone);
 * - `?.corp.test` — exactly one label below `corp.test` (not the apex, not deeper).
 * Wildcards are only allowed as the whole first label; `*.*`, `a.*.b`, `foo*.b` are invalid. Names are compared in
 * tunnel/dns's normal form (ASCII lower case, no trailing dot; names from the wire escape odd bytes, so they never
 * collide with a pattern); Unicode labels of a pattern are converted to punycode first, so `bücher.test` matches
 * queries for `xn--bcher-kva.test`.
 *
 * Most specific wins: the pattern whose literal suffix is longest wins; for the same suffix an exact name beats `?.`,
 * which beats `*.`. Matching a name walks its suffixes from the longest, so it costs O(labels) map look-ups
 * whatever the number of patterns.
 */

export type DomainPattern =
  { kind: 'exact'; name: string } | { kind: 'one-label'; suffix: string } | { kind: 'any-depth'; suffix: string };

export type PatternError = { error: 'invalid_pattern'; pattern: string; reason: string };

export function parseDomainPattern(pattern: string): DomainPattern | PatternError {
  const fail = (reason: string): PatternError => ({ error: 'invalid_pattern', pattern, reason });
  const ascii = toAsciiLabels(pattern);
  if (ascii === undefined) return fail('not a valid internationalised name');
  const normal = normalizeName(ascii);
  if (!normal.ok) return fail(normal.error.message);
  const normalized = normal.value;
  if (normalized === '.') return fail('the root is not a resource');
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
  const normal = normalizeName(name);
  if (!normal.ok) return false;
  const normalized = normal.value;
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

/**
 * Whether `name` is covered by the pattern written as text (a resource's address as the portal sends it); an invalid
 * pattern covers nothing. For one-off checks; tables of many patterns use `DomainPatternTable`.
 */
export function domainMatches(patternText: string, name: string): boolean {
  const pattern = parseDomainPattern(patternText);
  return !('error' in pattern) && matchesPattern(pattern, name);
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
    const normal = normalizeName(name);
    return normal.ok ? this.matchNormalized(normal.value) : undefined;
  }

  /** `match` for a name in normal form (a parsed query's question name is). */
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
