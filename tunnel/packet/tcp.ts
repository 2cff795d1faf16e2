import { write16, write32 } from './bytes.js';
import { finishTransportChecksum, newIpPacket, transportStart, type IpSpec } from './build.js';
import { IpProtocol } from './constants.js';

export const TCP_HEADER_LENGTH = 20;

export interface TcpSpec extends IpSpec {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** `TcpFlag` bits, e.g. `TcpFlag.SYN | TcpFlag.ACK`. */
  flags: number;
  window: number;
  /** TCP options as they go on the wire (e.g. MSS: 2, 4, hi, lo); a multiple of 4 bytes, at most 40. */
  options?: Uint8Array;
  payload?: Uint8Array;
}

/**
 * A TCP segment (SYN-ACK, ACK, data, FIN, RST — whatever `flags` say) in an IPv4 or IPv6 packet, checksums
 * computed. Throws a RangeError for options that are not a multiple of 4 bytes or longer than 40.
 */
export function buildTcp(spec: TcpSpec): Uint8Array {
  const options = spec.options ?? new Uint8Array(0);
  if (options.length % 4 !== 0 || options.length > 40) {
    throw new RangeError(`TCP options must be a multiple of 4 bytes, at most 40 (got ${options.length})`);
  }
  const payload = spec.payload ?? new Uint8Array(0);
  const headerLength = TCP_HEADER_LENGTH + options.length;
  const out = newIpPacket(spec, IpProtocol.Tcp, headerLength + payload.length);
  const at = transportStart(out);
  write16(out, at, spec.srcPort);
  write16(out, at + 2, spec.dstPort);
  write32(out, at + 4, spec.seq);
  write32(out, at + 8, spec.ack);
  out[at + 12] = (headerLength / 4) << 4;
  out[at + 13] = spec.flags;
  write16(out, at + 14, spec.window);
  out.set(options, at + TCP_HEADER_LENGTH);
  out.set(payload, at + headerLength);
  finishTransportChecksum(out, IpProtocol.Tcp, at + 16);
  return out;
}
