import type { Kysely } from 'kysely';
import { hashPassword, hashSecret } from '../auth/secrets.js';
import type { Database } from '../db/schema.js';
import {
  addGatewayTokenHash,
  ensureGroups,
  ensurePolicy,
  putSettings,
  upsertAccount,
  upsertResource,
  upsertSite,
} from '../store/directory.js';
import type { LoadedConfig } from './file.js';
import { normalizeResource, normalizeSettings, type Issue } from './normalize.js';

/**
 * Applies a config file in one transaction: creates or updates everything by name and leaves what the file does not
 * mention alone. Returns the errors (file, line, field) and changes nothing when there is any.
 */
export async function applyConfig(db: Kysely<Database>, loaded: LoadedConfig): Promise<string[]> {
  const { config } = loaded;
  const issues = [...staticIssues(loaded)];
  if (issues.length > 0) return issues.map(loaded.describe);
  // Hash outside the transaction: scrypt is slow on purpose.
  const passwordHashes = await Promise.all((config.accounts ?? []).map((a) => a.password && hashPassword(a.password)));
  const rollback = new Error('config has errors');
  try {
    await db.transaction().execute(async (tx) => {
      for (const site of config.sites ?? []) {
        const siteId = await upsertSite(tx, site.name);
        for (const token of site.gateway_tokens ?? []) await addGatewayTokenHash(tx, siteId, hashSecret(token));
      }
      for (const [i, account] of (config.accounts ?? []).entries()) {
        await upsertAccount(tx, { ...account, passwordHash: passwordHashes[i] || undefined });
      }
      const sites = new Map((await tx.selectFrom('sites').select(['id', 'name']).execute()).map((s) => [s.name, s.id]));
      for (const [i, input] of (config.resources ?? []).entries()) {
        const siteId = sites.get(input.site);
        const resource = normalizeResource(input).value;
        if (siteId === undefined) {
          issues.push({ path: ['resources', i, 'site'], message: `no site named "${input.site}"` });
        } else if (resource) {
          await upsertResource(tx, resource, siteId);
        }
      }
      const resources = new Map(
        (await tx.selectFrom('resources').select(['id', 'name']).execute()).map((r) => [r.name, r.id]),
      );
      const groups = await ensureGroups(
        tx,
        (config.policies ?? []).map((p) => p.group),
      );
      for (const [i, policy] of (config.policies ?? []).entries()) {
        for (const [j, name] of policy.resources.entries()) {
          const resourceId = resources.get(name);
          const groupId = groups.get(policy.group);
          if (resourceId === undefined) {
            issues.push({ path: ['policies', i, 'resources', j], message: `no resource named "${name}"` });
          } else if (groupId !== undefined) {
            await ensurePolicy(tx, groupId, resourceId);
          }
        }
      }
      await putSettings(tx, normalizeSettings(config).value);
      if (issues.length > 0) throw rollback;
    });
  } catch (err) {
    if (err !== rollback) throw err;
  }
  return issues.map(loaded.describe);
}

/** Errors visible in the file alone: malformed addresses, filters, resolvers, block rules; duplicate names. */
function staticIssues({ config }: LoadedConfig): Issue[] {
  const issues: Issue[] = [];
  const prefix = (path: (string | number)[], list: Issue[]) => list.map((i) => ({ ...i, path: [...path, ...i.path] }));
  (config.resources ?? []).forEach((r, i) => issues.push(...prefix(['resources', i], normalizeResource(r).issues)));
  issues.push(...normalizeSettings(config).issues);
  issues.push(
    ...duplicates(
      'sites',
      (config.sites ?? []).map((s) => s.name),
      'name',
    ),
  );
  issues.push(
    ...duplicates(
      'resources',
      (config.resources ?? []).map((r) => r.name),
      'name',
    ),
  );
  issues.push(
    ...duplicates(
      'accounts',
      (config.accounts ?? []).map((a) => a.email.toLowerCase()),
      'email',
    ),
  );
  return issues;
}

function duplicates(list: string, names: string[], field: string): Issue[] {
  const seen = new Set<string>();
  return names.flatMap((name, i) => {
    if (!seen.has(name)) {
      seen.add(name);
      return [];
    }
    return [{ path: [list, i, field], message: `"${name}" appears twice` }];
  });
}
