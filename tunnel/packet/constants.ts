/** IP protocol numbers (IPv4 "protocol", IPv6 "next header") this layer knows. */
export const IpProtocol = {
  HopByHop: 0,
  Icmp: 1,
  Tcp: 6,
  Udp: 17,
  Routing: 43,
  Fragment: 44,
  Esp: 50,
  Ah: 51,
  Icmpv6: 58,
  NoNextHeader: 59,
  DestinationOptions: 60,
  Mobility: 135,
  Hip: 139,
  Shim6: 140,
} as const;

/** TCP header flag bits (byte 13 of the header). */
export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

/** ICMPv4 message types (RFC 792 and successors). */
export const Icmpv4Type = {
  EchoReply: 0,
  DestinationUnreachable: 3,
  SourceQuench: 4,
  Redirect: 5,
  EchoRequest: 8,
  TimeExceeded: 11,
  ParameterProblem: 12,
} as const;

/** ICMPv6 message types (RFC 4443). */
export const Icmpv6Type = {
  DestinationUnreachable: 1,
  PacketTooBig: 2,
  TimeExceeded: 3,
  ParameterProblem: 4,
  EchoRequest: 128,
  EchoReply: 129,
} as const;

/** Largest IPv4 packet an ICMPv4 error may make (RFC 1812 4.3.2.3). */
export const ICMPV4_ERROR_MAX = 576;
/** Largest IPv6 packet an ICMPv6 error may make: the IPv6 minimum MTU (RFC 4443 2.4 c). */
export const ICMPV6_ERROR_MAX = 1280;
