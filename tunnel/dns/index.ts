/**
 * DNS building blocks for the client's stub resolver and the gateway's resolver: parse queries (UDP or reassembled
 * from TCP), build answers, inspect forwarded responses, normalise names. Pure functions over bytes; no I/O.
 */
export {
  ADVERTISED_UDP_SIZE,
  DnsClass,
  DnsType,
  MAX_TCP_MESSAGE,
  Opcode,
  Rcode,
  UDP_SIZE_WITHOUT_EDNS,
  rcodeName,
  typeName,
} from './constants.js';
export {
  inspectResponse,
  messageId,
  sameQuestion,
  setMessageId,
  type AnswerRecord,
  type DnsResponseInfo,
} from './inspect.js';
export type { DnsQuestion, Edns } from './message.js';
export { MAX_LABEL, MAX_NAME_TEXT, encodeName, normalizeName, readName, type WireName } from './name.js';
export {
  DomainPatternTable,
  domainMatches,
  formatDomainPattern,
  matchesPattern,
  parseDomainPattern,
  type DomainPattern,
  type PatternError,
} from './pattern.js';
export { buildQuery, parseQuery, type DnsQuery, type QueryError, type QueryOptions } from './query.js';
export {
  answerAddresses,
  answerNoData,
  answerPtr,
  answerRcode,
  buildResponse,
  maxResponseSize,
  type DnsRecord,
  type ResponseOptions,
} from './response.js';
export type { DnsError, DnsErrorKind, DnsResult } from './result.js';
export { DnsTcpReassembler, frameTcpMessage } from './tcp.js';
