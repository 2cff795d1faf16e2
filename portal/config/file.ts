import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { AccountInput, ResourceInput, SettingsInput } from '../../protocol/portal-http.js';
import type { Issue } from './normalize.js';

const Name = z.string().min(1).max(255);

/** The YAML config file; keys are snake_case like the issue's example. */
export const ConfigFile = z.strictObject({
  listen: z.string().max(300).optional(),
  public_url: z.url().optional(),
  database: z.string().max(2048).optional(),
  admin_token_file: z.string().max(4096).optional(),
  accounts: z.array(AccountInput.omit({ disabled: true })).optional(),
  oidc: z
    .strictObject({
      issuer: z.url(),
      client_id: z.string().min(1).max(512),
      client_secret: z.string().max(4096).optional(),
      /** The ID-token/userinfo claim listing the user's groups. */
      groups_claim: z.string().min(1).max(255).optional(),
      /** Label of the sign-in button. */
      display_name: z.string().min(1).max(64).optional(),
    })
    .optional(),
  sites: z
    .array(z.strictObject({ name: Name, gateway_tokens: z.array(z.string().min(16).max(512)).optional() }))
    .optional(),
  ...SettingsInput.shape,
  resources: z.array(ResourceInput).optional(),
  policies: z.array(z.strictObject({ group: Name, resources: z.array(Name).min(1) })).optional(),
});
export type ConfigFile = z.infer<typeof ConfigFile>;

/** A parsed, schema-valid config file that can still point at the line of any field (for later errors). */
export interface LoadedConfig {
  file: string;
  config: ConfigFile;
  /** `portal.yaml:12:7: resources[1].filters[2]: message` */
  describe(issue: Issue): string;
}

export type ConfigResult = { ok: true; value: LoadedConfig } | { ok: false; errors: string[] };

export async function loadConfigFile(path: string): Promise<ConfigResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return { ok: false, errors: [`${path}: cannot read: ${(err as Error).message}`] };
  }
  return parseConfig(text, path);
}

/** Parses YAML text; every error names the file, the line and column, and the field. */
export function parseConfig(text: string, file: string): ConfigResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const name = basename(file);
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return `${name}:${pos.line}:${pos.col}: YAML: ${e.message.split('\n')[0]}`;
      }),
    };
  }
  const describe = (issue: Issue): string => {
    const offset = locate(doc, issue.path);
    const where =
      offset === undefined ? name : `${name}:${lineCounter.linePos(offset).line}:${lineCounter.linePos(offset).col}`;
    return `${where}: ${formatPath(issue.path) || '(top level)'}: ${issue.message}`;
  };
  const parsed = ConfigFile.safeParse(doc.toJS() ?? {});
  if (!parsed.success) {
    return {
      ok: false,
      errors: parsed.error.issues.map((i) => describe({ path: issuePath(i), message: i.message })),
    };
  }
  return { ok: true, value: { file: name, config: parsed.data, describe } };
}

/** Zod reports an unknown key at its parent; point at the key itself. */
function issuePath(issue: z.core.$ZodIssue): (string | number)[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined) return [...path, issue.keys[0]];
  return path;
}

/** Offset of the deepest node on the path that exists (a missing field points at its parent). */
function locate(doc: Document, path: (string | number)[]): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const prefix = path.slice(0, depth);
    const node = prefix.length === 0 ? doc.contents : doc.getIn(prefix, true);
    if (!isNode(node) || !node.range) continue;
    // For a map entry, the key's position reads better than the value's.
    const parent = depth > 0 ? doc.getIn(prefix.slice(0, -1), true) : undefined;
    const pair = parent && 'items' in (parent as object) ? findPair(parent, prefix[prefix.length - 1]) : undefined;
    return pair ?? node.range[0];
  }
  return undefined;
}

function findPair(parent: unknown, key: string | number | undefined): number | undefined {
  const items = (parent as { items: unknown[] }).items;
  for (const item of items) {
    const k = (item as { key?: unknown }).key;
    if (isNode(k) && (k as { value?: unknown }).value === key && k.range) return k.range[0];
  }
  return undefined;
}

function formatPath(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
