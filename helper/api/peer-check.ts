import { readFileSync } from 'node:fs';
import { type RunCommand } from '../os/command.js';

/** Who is on the other end of a Unix socket, as the kernel tells it (SO_PEERCRED). */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

export type PeerDecision = { allowed: true } | { allowed: false; reason: string };

export const API_GROUP = 'postern';

/**
 * Root, or a process whose primary or supplementary groups include the API group. Supplementary groups come from the
 * peer's /proc entry — the groups the process really runs with, the same ones the kernel checked against the
 * socket's file mode — rather than from /etc/group, which says what a user *could* have at login.
 */
export function checkPeer(
  peer: PeerCredentials,
  apiGid: number,
  groupsOf: (pid: number) => number[] | undefined = supplementaryGroups,
): PeerDecision {
  if (peer.uid === 0) return { allowed: true };
  if (peer.gid === apiGid) return { allowed: true };
  const groups = groupsOf(peer.pid);
  if (groups === undefined) return { allowed: false, reason: `cannot read the groups of pid ${peer.pid}` };
  if (groups.includes(apiGid)) return { allowed: true };
  return { allowed: false, reason: `uid ${peer.uid} (pid ${peer.pid}) is neither root nor in group ${API_GROUP}` };
}

/** The supplementary groups of a running process, or undefined when it is gone. */
export function supplementaryGroups(pid: number, procRoot = '/proc'): number[] | undefined {
  let status: string;
  try {
    status = readFileSync(`${procRoot}/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const line = /^Groups:(.*)$/m.exec(status);
  if (!line) return undefined;
  return line[1]!.trim().split(/\s+/).filter(Boolean).map(Number);
}

/** The group's id, creating it as a system group when missing (the installer normally does that). */
export async function ensureGroup(run: RunCommand, name = API_GROUP): Promise<number> {
  const lookup = async () => {
    const result = await run('getent', ['group', name]);
    return result.code === 0 ? Number(result.stdout.split(':')[2]) : undefined;
  };
  const existing = await lookup();
  if (existing !== undefined) return existing;
  const created = await run('groupadd', ['--system', name]);
  // Exit 9: someone else created it meanwhile (another helper under test, the package's postinst).
  if (created.code !== 0 && created.code !== 9) throw new Error(`groupadd --system ${name}: ${created.stderr.trim()}`);
  const gid = await lookup();
  if (gid === undefined) throw new Error(`group ${name} still missing after groupadd`);
  return gid;
}
