/** A gateway that could serve a resource: online, in the resource's site. */
export interface Candidate {
  id: string;
  /** Devices with a live authorization through it. */
  load: number;
}

/**
 * Picks the gateway for a new authorization: one the client already has a tunnel to (no new handshake, fewer
 * tunnels), else the least loaded; ties go to the lowest id so the choice is deterministic.
 */
export function selectGateway(
  candidates: readonly Candidate[],
  connectedGatewayIds: readonly string[],
): Candidate | undefined {
  const connected = new Set(connectedGatewayIds);
  const preferred = candidates.filter((c) => connected.has(c.id));
  const pool = preferred.length > 0 ? preferred : candidates;
  return [...pool].sort((a, b) => a.load - b.load || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))[0];
}
