import { write16 } from './bytes.js';
import { finishTransportChecksum, newIpPacket, transportStart, type IpSpec } from './build.js';
import { IpProtocol } from './constants.js';

export const UDP_HEADER_LENGTH = 8;

export interface UdpSpec extends IpSpec {
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

/** A UDP/IPv4 or UDP/IPv6 packet around `payload` (e.g. a DNS answer), checksums computed. */
export function buildUdp(spec: UdpSpec): Uint8Array {
  const length = UDP_HEADER_LENGTH + spec.payload.length;
  const out = newIpPacket(spec, IpProtocol.Udp, length);
  const at = transportStart(out);
  write16(out, at, spec.srcPort);
  write16(out, at + 2, spec.dstPort);
  write16(out, at + 4, length);
  out.set(spec.payload, at + UDP_HEADER_LENGTH);
  finishTransportChecksum(out, IpProtocol.Udp, at + 6);
  return out;
}
