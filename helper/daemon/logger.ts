import { pino, type Logger } from 'pino';
import type { LogLevel } from './flags.js';

/**
 * JSON logs to stderr and, with --log-file, to a file as well (appended; the directory is created). The file is
 * written synchronously so the last lines before a crash are not lost in a buffer; the helper logs events and one
 * line per intercepted DNS query, never per packet.
 */
export function createLogger(level: LogLevel, file: string | undefined): Logger {
  const streams: pino.StreamEntry[] = [{ level, stream: pino.destination({ dest: 2, sync: true }) }];
  if (file) streams.push({ level, stream: pino.destination({ dest: file, mkdir: true, sync: true }) });
  return pino({ level, base: { pid: process.pid, name: 'postern-helper' } }, pino.multistream(streams));
}
